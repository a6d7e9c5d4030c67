"""Load images from docker-archive / OCI layout files into the store, and save them back out."""

from __future__ import annotations

import contextlib
import io
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
from dockyard.layers.limits import Limits
from dockyard.oci import reference as refs
from dockyard.oci.platform import Platform
from dockyard.store.ingest import IngestResult, LayerProgress
from dockyard.store.store import Store

FORMATS = ("docker", "oci")


@dataclass(frozen=True, slots=True)
class Loaded:
    result: IngestResult
    names: tuple[refs.Reference, ...]


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
            if isinstance(tar.fileobj, io.BufferedReader):  # uncompressed: a partial last header is truncation
                cut = _tarutil.truncation(tar, last, path.stat().st_size, tar.fileobj)
                if cut is not None:
                    raise InvalidArchive(f"{path}: {cut}")
    except EOFError:  # a compressed stream that ends early
        raise InvalidArchive(f"{path}: {_tarutil.truncated_inside(last)}") from None
    except (tarfile.TarError, zlib.error, lzma.LZMAError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # a real I/O error (permission, disk): reported as such
        if str(exc) == "unexpected end of data":
            raise InvalidArchive(f"{path}: {_tarutil.truncated_inside(last)}") from None
        with open(path, "rb") as f:
            kind = _tarutil.sniff_compression(f.read(_tarutil.SNIFF_LEN))
        if kind in ("gzip", "bzip2", "xz"):  # what tarfile reads (a zstd archive is refused below, as before)
            raise InvalidArchive(f"{path}: truncated or corrupt {kind}-compressed archive") from None
        detail = "" if isinstance(exc, tarfile.TarError) else f" ({str(exc).splitlines()[0] if str(exc) else exc!r})"
        raise InvalidArchive(f"{path}: not a tar archive (nor a gzip, bzip2 or xz compressed one){detail}") from None
    raise InvalidArchive(f"{path}: neither a docker-archive (manifest.json) nor an OCI layout (oci-layout)")


def load(
    store: Store,
    path: Path,
    *,
    name: str | None = None,
    platform: Platform | None = None,
    limits: Limits | None = None,
    on_layer: Callable[[LayerProgress], None] | None = None,
) -> list[Loaded]:
    """``docker load``: every image in the archive, named as the archive names it."""
    kind = detect_format(path)
    plan: list[tuple[Image, list[refs.Reference]]] = []
    if kind == "docker":
        from dockyard.transport import docker_archive

        for entry in docker_archive.read(path):
            names = [_parse_name(t) for t in entry.repo_tags]
            plan.append((entry.image, names))
    else:
        from dockyard.transport import oci_layout

        base = refs.parse(name) if name else None
        if base is not None and (base.tag or base.digest):
            raise InvalidReference(f"--name takes a repository without tag: {name}")
        for lentry in oci_layout.read(path, platform=platform):
            names = []
            if lentry.name:
                names.append(_parse_name(lentry.name))
            elif lentry.ref_name and base is not None:
                names.append(base.with_tag(lentry.ref_name))
            elif lentry.ref_name:
                with contextlib.suppress(InvalidReference):
                    names.append(_parse_name(lentry.ref_name))
            plan.append((lentry.image, names))
    out = []
    for image, names in plan:
        result = store.ingest(image, names, limits=limits, on_layer=on_layer)
        out.append(Loaded(result, tuple(n.with_default_tag() for n in names)))
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
                from dockyard.transport import oci_layout

                oci_layout.write(plan, tmp, as_tar=True)
    except OSError as exc:
        raise output_error(exc, out) from None


def output_error(exc: OSError, out: Path) -> OSError:
    """An error writing the output file named by the path the user gave, not by the temporary file beside it
    (``.x.tar.kxy_s8z0.dockyard-tmp``) that becomes it; errors about other files are left as they are."""
    name = os.fspath(exc.filename) if exc.filename is not None else None
    if name is not None and not Path(name).name.startswith(f".{out.name}."):
        return exc
    return OSError(exc.errno, exc.strerror or str(exc), os.fspath(out))


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
            for repo, tag, image_id in sorted(store.meta.tags()):
                if repo == ref.repository:
                    add(image_id, ref.with_tag(tag).familiar())
                    found = True
            for repo, _digest, image_id in sorted(store.meta.repo_digests()):
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
