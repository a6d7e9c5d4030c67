"""The ``docker save`` / ``docker load`` format ("docker-archive").

A tar (or an extracted directory) with a ``manifest.json`` listing, per image, the path of its
config, the paths of its layer files (in ``rootfs.diff_ids`` order) and its ``RepoTags``. Three
layouts of those paths exist in the wild and all are read:

* Docker < 25:   ``<v1 id>/layer.tar`` and ``<config hex>.json`` (shared layers are symlinks);
* Docker >= 25:  ``blobs/sha256/<hex>`` for configs and layers, plus ``index.json``/``oci-layout``;
* skopeo:        ``<diff id hex>.tar`` and ``<config hex>.json``.

There is no manifest in a docker-archive, so :func:`read` synthesises a Docker schema 2 manifest
describing the layer files as they are in the archive (usually uncompressed tars, whose digest is
their diff_id). :func:`write` produces the Docker >= 25 layout with uncompressed layers.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final

from dockyard.errors import DigestMismatch, DockyardError, InvalidArchive, InvalidManifest, InvalidReference
from dockyard.image.base import BlobLayer, Image, Layer, StaticImage
from dockyard.image.synth import synthesize_manifest
from dockyard.image.transfer import RawManifest, put_image
from dockyard.image.validate import check_manifest_config
from dockyard.oci import _json, mediatype
from dockyard.oci import reference as refs
from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest, DigestHasher
from dockyard.oci.layout import (
    ANNOTATION_IMAGE_NAME,
    ANNOTATION_REF_NAME,
    INDEX_FILE,
    LAYOUT_CONTENT,
    LAYOUT_FILE,
)
from dockyard.oci.manifest import Manifest
from dockyard.oci.platform import Platform
from dockyard.transport._tarutil import (
    MAX_JSON_SIZE,
    SNIFF_LEN,
    ArchiveSource,
    HashingReader,
    Member,
    TarWriter,
    open_source,
    safe_name,
    sniff_compression,
)
from dockyard.transport.base import BytesSource

MANIFEST_FILE: Final = "manifest.json"
REPOSITORIES_FILE: Final = "repositories"

_CHUNK: Final = 1 << 20
_BLOB_PATH = re.compile(r"^blobs/(sha256|sha512)/([a-f0-9]+)$")


@dataclass(frozen=True, slots=True)
class ArchiveEntry:
    """One image of a docker-archive and the names ``manifest.json`` gives it (as written there)."""

    image: Image
    repo_tags: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- reading


def read(path: Path) -> list[ArchiveEntry]:
    """Every image listed in the ``manifest.json`` of the docker-archive at ``path`` (tar or directory).

    Configs are read and checked now; layers open lazily as streams of the archive's files.
    """
    source = open_source(path, what="docker-archive")
    if source.member(MANIFEST_FILE) is None:
        raise InvalidArchive(f"{source.label}: not a docker-archive: manifest.json is missing")
    raw = source.read_bytes(MANIFEST_FILE, "manifest.json")
    try:
        items = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArchive(f"{source.label}: manifest.json is not valid JSON: {exc}") from None
    if not isinstance(items, list):
        raise InvalidArchive(f"{source.label}: manifest.json must be a JSON array")
    if not items:
        raise InvalidArchive(f"{source.label}: manifest.json lists no images")
    digests: dict[str, Digest] = {}
    return [_read_entry(source, item, f"{source.label}: manifest.json[{i}]", digests) for i, item in enumerate(items)]


def _str_list(item: dict[str, Any], key: str, where: str, *, required: bool) -> list[str]:
    value = item.get(key)
    if value is None:
        if required:
            raise InvalidArchive(f"{where}: missing field {key!r}")
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArchive(f"{where}: field {key!r} must be an array of strings")
    return list(value)


def _read_entry(source: ArchiveSource, item: object, where: str, digests: dict[str, Digest]) -> ArchiveEntry:
    if not isinstance(item, dict):
        raise InvalidArchive(f"{where} must be a JSON object")
    if item.get("Config") is None:
        raise InvalidArchive(f"{where}: missing field 'Config'")
    config_name = safe_name(item["Config"], f"{where}: Config")
    repo_tags = _str_list(item, "RepoTags", where, required=False)
    layer_paths = _str_list(item, "Layers", where, required=True)
    layer_names = [safe_name(p, f"{where}: Layers[{i}]") for i, p in enumerate(layer_paths)]
    _check_layer_sources(item.get("LayerSources"), where)

    config_raw = source.read_bytes(config_name, "config")
    addressed = _blob_digest(config_name)
    if addressed is not None:
        addressed.verify(config_raw, f"config {config_name}")
    try:
        config = ImageConfig.parse(config_raw)
    except InvalidManifest as exc:
        raise InvalidArchive(f"{where}: config {config_name}: {exc}") from None
    if len(layer_names) != len(config.diff_ids):
        raise InvalidArchive(
            f"{where}: {len(layer_names)} layers listed but config {config_name} has {len(config.diff_ids)} diff_ids"
        )
    layers: list[Layer] = []
    for name, diff_id in zip(layer_names, config.diff_ids, strict=True):
        member = source.require(name, "layer")
        desc, size = _describe_layer(source, member, diff_id, digests)
        layers.append(BlobLayer(desc, diff_id, functools.partial(source.open, member.name), size))
    manifest = synthesize_manifest(config, [layer.descriptor() for layer in layers], mediatype.DOCKER_MANIFEST)
    return ArchiveEntry(StaticImage(manifest, config, tuple(layers)), repo_tags)


def _check_layer_sources(value: object, where: str) -> None:
    """``LayerSources`` (foreign layers' original descriptors, keyed by diff_id) must be well formed."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise InvalidArchive(f"{where}: field 'LayerSources' must be an object")
    for key, desc in value.items():
        try:
            Digest.parse(key)
            Descriptor.from_json(desc, f"LayerSources[{key!r}]")
        except (InvalidManifest, ValueError) as exc:
            raise InvalidArchive(f"{where}: {exc}") from None


def _blob_digest(name: str) -> Digest | None:
    """The digest a content-addressed path (``blobs/<alg>/<hex>``) claims, if it is one."""
    m = _BLOB_PATH.match(name)
    if m is None:
        return None
    try:
        return Digest(m.group(1), m.group(2))
    except ValueError:
        return None


def _describe_layer(
    source: ArchiveSource, member: Member, diff_id: Digest, digests: dict[str, Digest]
) -> tuple[Descriptor, int | None]:
    """The descriptor of a layer file as it is in the archive, and its uncompressed size when known."""
    with source.open(member.name) as f:
        head = f.read(SNIFF_LEN)
    kind = _compression_of(head)
    if kind == "none":
        # An uncompressed layer file is its own diff: its digest is the diff_id the config claims
        # (verified by whoever reads it, e.g. the store on ingest).
        return Descriptor(mediatype.DOCKER_LAYER, diff_id, member.size), member.size
    if kind not in ("gzip", "zstd"):
        raise InvalidArchive(f"{source.label}: layer {member.name} is {kind}-compressed, which is not supported")
    digest = digests.get(member.name) or _blob_digest(member.name)
    if digest is None:
        hasher = DigestHasher()
        with source.open(member.name) as f:
            while chunk := f.read(_CHUNK):
                hasher.update(chunk)
        digest = hasher.digest()
    digests[member.name] = digest
    return Descriptor(mediatype.layer_type(mediatype.DOCKER_MANIFEST, kind), digest, member.size), None


def _compression_of(head: bytes) -> str:
    """``none``, ``gzip``, ``zstd`` (via the layer code's detection) or another name for what we refuse."""
    other = sniff_compression(head)
    if other in ("bzip2", "xz"):
        return other
    from dockyard.layers.compression import detect

    return str(detect(head).value)


# --------------------------------------------------------------------------- writing


class DockerArchiveSource:
    """One image of a docker-archive as a :class:`~dockyard.transport.base.Source` (a synthesised manifest: the
    format keeps none). ``which``: ``@N`` (the N-th image), a name from ``RepoTags``, or None for the only one."""

    def __init__(self, path: Path, which: str | None = None) -> None:
        entries = read(path)
        label = os.fspath(path)
        if which and which.startswith("@"):
            try:
                entry = entries[int(which[1:])]
            except (ValueError, IndexError):
                raise InvalidArchive(f"{label}: no image number {which[1:]} ({len(entries)} images)") from None
        elif which:
            wanted = refs.parse(which).with_default_tag()
            found = [e for e in entries if any(refs.parse(t) == wanted for t in e.repo_tags)]
            if not found:
                raise InvalidArchive(f"{label}: no image named {wanted.familiar()}")
            entry = found[0]
        elif len(entries) == 1:
            entry = entries[0]
        else:
            raise InvalidArchive(f"{label}: holds {len(entries)} images: say which (:NAME or :@N)")
        self.entry = entry
        self._source = BytesSource(entry.image)

    def top(self) -> RawManifest:
        return self._source.top()

    def child(self, desc: Descriptor) -> RawManifest:
        return self._source.child(desc)

    def open_blob(self, desc: Descriptor) -> BinaryIO:
        return self._source.open_blob(desc)

    def close(self) -> None:
        return None


@dataclass(slots=True)
class _Planned:
    config: ImageConfig
    refs: list[refs.Reference] = field(default_factory=list)


class DockerArchiveDestination:
    """A docker-archive (Docker >= 25 layout, uncompressed layers) as a
    :class:`~dockyard.transport.base.Destination`, streamed to ``out``: layers are decompressed and written as
    ``blobs/<alg>/<diff_id hex>`` in the order they come (verified against their diff_id on the way), configs as
    they are; :meth:`commit` adds the manifests, ``index.json``, ``manifest.json`` and ``repositories``. The
    format keeps no manifest: what :meth:`put_manifest` returns is the OCI manifest written for ``index.json``.
    Blobs are written one at a time (``max_concurrent`` 1), so the output is deterministic.
    """

    max_concurrent = 1

    def __init__(self, out: BinaryIO) -> None:
        self._tar = TarWriter(out)
        self._tar.__enter__()
        self._lock = threading.Lock()
        self._sizes: dict[Digest, int] = {}  # diff_id -> size of the layer tar written
        self._configs: dict[Digest, bytes] = {}
        self._plan: list[_Planned] = []
        self._tar.add_dir("blobs")
        self._tar.add_dir("blobs/sha256")
        self._failed = False
        self._done = False

    def reuse_blob(self, desc: Descriptor, diff_id: Digest | None) -> str | None:
        if diff_id is not None:
            return "Already exists" if diff_id in self._sizes else None
        return "Already exists" if desc.digest in self._configs else None

    def put_blob(self, desc: Descriptor, stream: BinaryIO, diff_id: Digest | None) -> None:
        with self._lock:
            try:
                if diff_id is None:
                    data = stream.read(MAX_JSON_SIZE + 1)
                    desc.digest.verify(data, f"config {desc.digest}")
                    self._configs[desc.digest] = data
                    self._tar.add_bytes(_blob_path(desc.digest), data)
                    return
                self._sizes[diff_id] = _write_layer(self._tar, desc, stream, diff_id)
            except BaseException:
                self._failed = True
                raise

    def put_manifest(self, raw: RawManifest, *, reference: str | None = None) -> Digest:
        manifest = Manifest.parse(raw.data, raw.media_type)
        config = ImageConfig.parse(self._configs[manifest.config.digest])
        check_manifest_config(manifest, config)
        self._plan.append(_Planned(config))
        descs = [Descriptor(mediatype.OCI_LAYER, d, self._sizes[d]) for d in config.diff_ids]
        return synthesize_manifest(config, descs, mediatype.OCI_MANIFEST).digest

    def name(self, names: Sequence[str]) -> None:
        """Give the last image put its tags (``RepoTags``), normalised and deduplicated."""
        planned = self._plan[-1]
        for name in names:
            ref = refs.parse(name)
            if ref.digest is not None:
                raise InvalidReference(f"cannot save {name} under a digest reference: a docker-archive needs tags")
            ref = ref.with_default_tag()
            if all(str(ref) != str(r) for r in planned.refs):
                planned.refs.append(ref)

    def commit(self) -> None:
        tar = self._tar
        manifests: dict[Digest, bytes] = {}
        manifest_json: list[dict[str, Any]] = []
        index_descs: list[Descriptor] = []
        repositories: dict[str, dict[str, str]] = {}
        merged: dict[Digest, _Planned] = {}
        for p in self._plan:  # one entry per distinct image (by ID), names merged in order
            if p.config.digest in merged:
                for ref in p.refs:
                    if all(str(ref) != str(r) for r in merged[p.config.digest].refs):
                        merged[p.config.digest].refs.append(ref)
            else:
                merged[p.config.digest] = p
        for p in merged.values():
            descs = [Descriptor(mediatype.OCI_LAYER, d, self._sizes[d]) for d in p.config.diff_ids]
            manifest = synthesize_manifest(p.config, descs, mediatype.OCI_MANIFEST)
            manifests.setdefault(manifest.digest, manifest.raw)
            platform = _platform_of(p.config)
            marks: list[dict[str, str]] = [
                {ANNOTATION_IMAGE_NAME: str(ref), ANNOTATION_REF_NAME: ref.tag or "latest"} for ref in p.refs
            ]
            for mark in marks or [{}]:
                index_descs.append(Descriptor(manifest.media_type, manifest.digest, manifest.size, platform, mark))
            for ref in p.refs:
                top = p.config.diff_ids[-1].hex if p.config.diff_ids else p.config.digest.hex
                repositories.setdefault(ref.familiar_name(), {})[ref.tag or "latest"] = top
            manifest_json.append(
                {
                    "Config": _blob_path(p.config.digest),
                    "RepoTags": [ref.familiar() for ref in p.refs],
                    "Layers": [_blob_path(d) for d in p.config.diff_ids],
                }
            )
        for digest in sorted(manifests):
            if digest not in self._configs:
                tar.add_bytes(_blob_path(digest), manifests[digest])
        index = {"schemaVersion": 2, "mediaType": mediatype.OCI_INDEX, "manifests": [d.to_json() for d in index_descs]}
        tar.add_bytes(INDEX_FILE, _json.dumps(index))
        tar.add_bytes(MANIFEST_FILE, _json.dumps(manifest_json) + b"\n")
        tar.add_bytes(LAYOUT_FILE, LAYOUT_CONTENT)
        if repositories:
            ordered = {k: dict(sorted(v.items())) for k, v in sorted(repositories.items())}
            tar.add_bytes(REPOSITORIES_FILE, _json.dumps(ordered) + b"\n")
        self._done = True
        tar.__exit__(None, None, None)

    def close(self) -> None:
        """Without a commit, end the tar stream as failed: no end-of-archive marker, nothing left to flush later."""
        if not self._done:
            self._done = True
            self._tar.__exit__(DockyardError, None, None)


def write(images: Sequence[tuple[Image, list[str]]], out: BinaryIO | Path) -> None:
    """Write ``images`` with their tags as a docker-archive (see :class:`DockerArchiveDestination`).

    ``out`` is a path (created or truncated; removed again on failure) or a binary stream, which
    need not be seekable. Every blob is written once; the output is deterministic.
    """
    if isinstance(out, str | os.PathLike):
        path = Path(out)
        try:
            with open(path, "wb") as f:
                _write(images, f)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    else:
        _write(images, out)


def _write(images: Sequence[tuple[Image, list[str]]], out: BinaryIO) -> None:
    for image, names in images:
        check_manifest_config(image.manifest(), image.config())
        for name in names:
            if refs.parse(name).digest is not None:
                raise InvalidReference(f"cannot save {name} under a digest reference: a docker-archive needs tags")
    dest = DockerArchiveDestination(out)
    try:
        _put_all(dest, images)
    finally:
        dest.close()


def _put_all(dest: DockerArchiveDestination, images: Sequence[tuple[Image, list[str]]]) -> None:
    for image, names in images:
        layers = list(image.layers())
        config = image.config()
        if len(layers) != len(config.diff_ids):
            raise InvalidManifest(
                f"image {config.digest.short} has {len(layers)} layers but {len(config.diff_ids)} diff_ids"
            )
        for layer, diff_id in zip(layers, config.diff_ids, strict=True):
            if layer.diff_id() != diff_id:
                raise InvalidManifest(
                    f"image {config.digest.short}: layer {layer.descriptor().digest} has diff_id "
                    f"{layer.diff_id()} but the config says {diff_id}"
                )
        put_image(dest, image, max_concurrent=1)
        dest.name(names)
    dest.commit()


def _blob_path(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.hex}"


def _platform_of(config: ImageConfig) -> Platform | None:
    if not config.os or not config.architecture:
        return None
    try:
        return config.platform
    except ValueError:
        return None


def _write_layer(tar: TarWriter, desc: Descriptor, raw: BinaryIO, diff_id: Digest) -> int:
    """Write a layer uncompressed as ``blobs/<alg>/<diff_id hex>``; its size. Verifies the diff_id."""
    what = f"layer {diff_id}"
    name = _blob_path(diff_id)
    hasher = DigestHasher(diff_id.algorithm)
    with contextlib.ExitStack() as stack:
        if mediatype.layer_compression(desc.media_type) == "none":
            tar.add_stream(name, HashingReader(raw, hasher.update), desc.size, what)
            _check(hasher, diff_id, what)
            return desc.size
        from dockyard.layers.compression import open_decompressed

        stream = stack.enter_context(open_decompressed(raw))
        spool = stack.enter_context(tempfile.TemporaryFile(prefix="dockyard-layer-"))
        while chunk := stream.read(_CHUNK):
            hasher.update(chunk)
            spool.write(chunk)
        _check(hasher, diff_id, what)
        size = spool.tell()
        spool.seek(0)
        tar.add_stream(name, spool, size, what)
        return size


def _check(hasher: DigestHasher, expected: Digest, what: str) -> None:
    actual = hasher.digest()
    if actual != expected:
        raise DigestMismatch(str(expected), str(actual), what)


__all__ = ["ArchiveEntry", "DockerArchiveDestination", "DockerArchiveSource", "read", "write"]
