"""Load images from docker-archive / OCI layout files into the store, and save them back out."""

from __future__ import annotations

import contextlib
import json
import lzma
import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from dockyard.atomicfile import replaced_atomically
from dockyard.errors import DockyardError, InvalidArchive, InvalidReference
from dockyard.image.base import Image
from dockyard.image.transfer import BlobEvent
from dockyard.layers.limits import Limits
from dockyard.oci import mediatype
from dockyard.oci import reference as refs
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.manifest import Manifest
from dockyard.oci.platform import Platform
from dockyard.store.ingest import IngestResult, LayerProgress
from dockyard.store.store import Store

FORMATS = ("docker", "oci")


@dataclass(frozen=True, slots=True)
class Loaded:
    result: IngestResult
    names: tuple[refs.Reference, ...]
    hint: str = ""  # one line when the image was loaded untagged for want of a name


def detect_format(path: Path) -> str:
    """``oci`` when the input is an OCI image layout (dir or tar) without a docker manifest.json, else ``docker``."""
    if path.is_dir():
        if (path / "manifest.json").is_file():
            return "docker"
        if (path / "oci-layout").is_file():
            return "oci"
        raise InvalidArchive(f"{path}: neither a docker-archive (manifest.json) nor an OCI layout (oci-layout)")
    if not path.exists():
        raise InvalidArchive(f"{path}: no such file or directory")
    if path.is_file() and path.stat().st_size == 0:
        raise InvalidArchive(f"{path}: the file is empty")
    from dockyard.transport import _tarutil

    with open(path, "rb") as f:
        kind = _tarutil.sniff_compression(f.read(_tarutil.SNIFF_LEN))
    size = path.stat().st_size if kind == "none" else -1  # -1: a compressed stream, of unknown length
    last: tarfile.TarInfo | None = None
    try:
        with tarfile.open(path) as tar:
            names = set()
            for member in tar:
                last = member
                names.add(member.name.lstrip("./").lstrip("/"))
                if "manifest.json" in names:
                    return "docker"
            if "oci-layout" in names:
                return "oci"
            if kind == "none":  # a partial last header is truncation
                with open(path, "rb") as raw:
                    cut = _tarutil.truncation(tar, last, size, raw)
                if cut is not None:
                    raise InvalidArchive(f"{path}: {cut}")
    except EOFError:  # a compressed stream that ends early
        raise InvalidArchive(f"{path}: {_inside(last, size)}") from None
    except (tarfile.TarError, zlib.error, lzma.LZMAError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # a real I/O error (permission, disk): reported as such
        if str(exc) == "unexpected end of data":
            raise InvalidArchive(f"{path}: {_inside(last, size)}") from None
        if kind in ("gzip", "bzip2", "xz"):  # what tarfile reads (a zstd archive is refused below, as before)
            raise InvalidArchive(f"{path}: truncated or corrupt {kind}-compressed archive") from None
        detail = "" if isinstance(exc, tarfile.TarError) else f" ({str(exc).splitlines()[0] if str(exc) else exc!r})"
        raise InvalidArchive(f"{path}: not a tar archive (nor a gzip, bzip2 or xz compressed one){detail}") from None
    raise InvalidArchive(f"{path}: neither a docker-archive (manifest.json) nor an OCI layout (oci-layout)")


def _inside(last: tarfile.TarInfo | None, size: int) -> str:
    """Where a tar of ``size`` bytes (-1: a compressed one, of unknown size) that ``tarfile`` read up to ``last``
    ends too early."""
    from dockyard.transport import _tarutil

    if last is None:
        return _tarutil.truncated_inside(None, 0, 0, size)
    return _tarutil.truncated_inside(last.name, last.offset_data, last.size, size)


def load(
    store: Store,
    path: Path,
    *,
    name: str | None = None,
    platform: Platform | None = None,
    limits: Limits | None = None,
    on_layer: Callable[[LayerProgress], None] | None = None,
) -> list[Loaded]:
    """``docker load``: every image in the archive, named as the archive names it.

    A docker-archive names images by ``RepoTags``. In an OCI layout, an ``io.containerd.image.name`` annotation
    or a ``ref.name`` that is a full reference (``repo:tag``, ``host/repo``) names the image; a bare tag
    (``latest``, ``bookworm``) names it only with ``--name REPO`` (dockyard's own option: Docker's ``load`` has
    none), else the image is loaded untagged and :attr:`Loaded.hint` says so. A layout entry that is an index
    gives the platform asked for (this host's by default), and the name remembers the index.
    """
    kind = detect_format(path)
    if kind == "docker":
        from dockyard.transport import docker_archive

        out = []
        for entry in docker_archive.read(path):
            names = [_parse_name(t) for t in entry.repo_tags]
            result = store.ingest(entry.image, names, limits=limits, on_layer=on_layer)
            out.append(Loaded(result, tuple(n.with_default_tag() for n in names)))
        return out
    base = refs.parse(name) if name else None
    if base is not None and (base.tag or base.digest):
        raise InvalidReference(f"--name takes a repository without tag: {name}")
    return _load_layout(store, path, base, platform, limits, on_layer)


def _layout_names(desc: Descriptor, base: refs.Reference | None) -> tuple[list[refs.Reference], str]:
    """The names a layout entry gives its image under dockyard's rule (see :func:`load`), and the hint."""
    image_name = desc.annotations.get("io.containerd.image.name") or ""
    ref_name = desc.annotations.get("org.opencontainers.image.ref.name") or ""
    if image_name:
        return [_parse_name(image_name)], ""
    if not ref_name:
        return [], ""
    if base is not None:
        return [base.with_tag(ref_name)], ""
    if ":" in ref_name or "/" in ref_name:
        with contextlib.suppress(InvalidReference):
            return [_parse_name(ref_name)], ""
    return [], f"ref name {ref_name!r} is a tag, not a name: loaded untagged (use --name REPO to tag it)"


def _load_layout(
    store: Store,
    path: Path,
    base: refs.Reference | None,
    platform: Platform | None,
    limits: Limits | None,
    on_layer: Callable[[LayerProgress], None] | None,
) -> list[Loaded]:
    from dockyard.copy import transfer
    from dockyard.store.ingest import StoreDestination
    from dockyard.transport.oci_layout import LayoutSource

    def on_event(event: BlobEvent) -> None:
        if on_layer is None or event.diff_id is None:
            return
        if event.status == "reused":
            on_layer(LayerProgress(event.diff_id, event.digest, "Already exists"))
        elif event.status == "copied":
            on_layer(LayerProgress(event.diff_id, event.digest, "Loaded"))

    source = LayoutSource(path)
    out: list[Loaded] = []
    skipped: list[str] = []
    try:
        for desc in source.entries():
            if not (mediatype.is_index(desc.media_type) or mediatype.is_manifest(desc.media_type)):
                skipped.append(f"{desc.digest} ({desc.media_type})")
                continue
            source.which = desc
            if mediatype.is_manifest(desc.media_type):
                manifest = Manifest.parse(source.child(desc).data, desc.media_type)
                if manifest.config.media_type not in mediatype.CONFIG_TYPES:
                    skipped.append(f"{desc.digest} (not a container image)")
                    continue
            names, hint = _layout_names(desc, base)
            with StoreDestination(store, names, limits=limits) as dest:
                transfer(source, dest, where=f"{source.label}: {desc.digest}", platform=platform, on_event=on_event)
                result = dest.commit()
            out.append(Loaded(result, tuple(n.with_default_tag() for n in names), hint))
    finally:
        source.close()
    if not out:
        detail = f" (skipped: {', '.join(skipped)})" if skipped else ""
        raise InvalidArchive(f"{source.label}: the OCI layout holds no images{detail}")
    return out


def load_stream(store: Store, stream: BinaryIO, **options: Any) -> list[Loaded]:
    """``docker load`` from a pipe: spool to a temporary file (archives need random access), then load."""
    with tempfile.NamedTemporaryFile(prefix="dockyard-load-", suffix=".tar") as spool:
        shutil.copyfileobj(stream, spool, 1 << 20)
        spool.flush()
        if spool.tell() == 0:
            raise InvalidArchive("requested load from stdin, but stdin is empty")
        try:
            return load(store, Path(spool.name), **options)
        except DockyardError as exc:  # name what the user gave (stdin, "-"), not the spool file
            exc.args = tuple(a.replace(spool.name, "-") if isinstance(a, str) else a for a in exc.args)
            raise


def _parse_name(text: str) -> refs.Reference:
    ref = refs.parse(text)
    if ref.digest is not None:
        raise InvalidReference(f"archive names an image by digest, which cannot be a tag: {text}")
    return ref


def save(store: Store, names: Sequence[str], out: Path, *, fmt: str = "docker") -> None:
    """``docker save``: the named images into one archive, written to a temporary file and renamed when complete."""
    if fmt not in FORMATS:
        raise InvalidArchive(f"unknown format {fmt!r} (want docker or oci)")
    plan = save_plan(store, names)
    try:
        with replaced_atomically(out) as tmp:
            if fmt == "docker":
                from dockyard.transport import docker_archive

                with open(tmp, "wb") as f:
                    docker_archive.write(plan, f)
            else:
                _save_oci(store, plan, tmp)
    except OSError as exc:
        raise output_error(exc, out) from None


def output_error(exc: OSError, out: Path) -> OSError:
    """An error writing the output file named by the path the user gave, not by the temporary file beside it
    (``.x.tar.kxy_s8z0.dockyard-tmp``) that becomes it; errors about other files are left as they are."""
    name = os.fspath(exc.filename) if exc.filename is not None else None
    if name is not None and not Path(name).name.startswith(f".{out.name}."):
        return exc
    return OSError(exc.errno, exc.strerror or str(exc), os.fspath(out))


def _save_oci(store: Store, plan: list[tuple[Image, list[str]]], out: Path) -> None:
    """An OCI layout tar. A tag that names an index whose platforms the store all holds is written as that index,
    byte for byte; every other image as its manifest (see :class:`~dockyard.transport.oci_layout.LayoutDestination`
    for Docker schema 2 manifests)."""
    from dockyard.copy import transfer
    from dockyard.image.transfer import put_image
    from dockyard.image.validate import check_manifest_config
    from dockyard.store.source import StoreSource
    from dockyard.transport.oci_layout import LayoutDestination

    with LayoutDestination(out, as_tar=True) as dest:
        for image, tags in plan:
            whole = []
            for tag in tags:
                source = StoreSource(store, tag)
                if store.is_index(source.digest) and not source.missing_platforms():
                    transfer(source, dest, where=tag, all_platforms=True, reference="")
                    dest.name([tag])
                    whole.append(tag)
            rest = [t for t in tags if t not in whole]
            if rest or not tags:
                check_manifest_config(image.manifest(), image.config())
                put_image(dest, image, reference="")
                dest.name(rest)
        dest.commit()


def save_plan(store: Store, names: Sequence[str]) -> list[tuple[Image, list[str]]]:
    """Which images and tags ``docker save NAME...`` writes (Docker's ``parseNames``).

    A full image ID or an ID prefix saves the image without tags; a repository name without a tag saves every
    tag of that repository; ``name:tag`` saves that tag; ``name@digest`` the image without a tag.
    """
    plan: dict[str, tuple[Image, list[str]]] = {}

    def add(image_id: str, tag: str | None) -> None:
        if image_id not in plan:
            plan[image_id] = (store.image_by_id(image_id), [])
        if tag is not None and tag not in plan[image_id][1]:
            plan[image_id][1].append(tag)

    for text in names:
        bare = text.removeprefix("sha256:")
        if len(bare) == 64 and all(c in "0123456789abcdef" for c in bare):
            add(store.resolve(text), None)  # an image ID: the image, untagged
            continue
        ref = refs.parse(text)
        if ref.familiar_name() == "sha256":
            add(store.resolve(text), None)  # sha256:PREFIX searches image IDs
        elif ref.tag is None and ref.digest is None:
            found = False
            for repo, tag, image_id in sorted(store.tags()):
                if repo == ref.repository:
                    add(image_id, ref.with_tag(tag).familiar())
                    found = True
            for repo, _digest, image_id in sorted(store.repo_digests()):
                if repo == ref.repository:
                    add(image_id, None)  # digest references are not written as tags
                    found = True
            if not found:
                add(store.resolve(text), None)
        elif ref.digest is not None:
            add(store.resolve(text), None)
        else:
            add(store.resolve(text), ref.familiar())
    return list(plan.values())


def manifest_json(path: Path) -> list[dict[str, object]]:
    """The ``manifest.json`` of a docker-archive directory (for tests and diagnostics)."""
    data = json.loads((path / "manifest.json").read_text())
    if not isinstance(data, list):
        raise InvalidArchive("manifest.json must be a list")
    return data
