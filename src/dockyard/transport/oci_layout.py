"""The OCI image layout: ``oci-layout``, ``index.json`` and content-addressed ``blobs/<alg>/<hex>``.

:func:`read` takes a layout directory or a tar of one (plain or compressed) and yields one image per
descriptor of ``index.json``; a descriptor that points at an index (or a Docker manifest list) yields
the child for the wanted platform. Manifests and configs are verified against their descriptors at
once; layer blobs are only checked for presence and size, and are verified by whoever reads them.

:func:`write` writes config and layer blobs as they are (compressed layers stay compressed), OCI
manifests (Docker schema 2 ones are converted, see :func:`write`), and one ``index.json`` descriptor
per image name, annotated the way ``docker save`` >= 25 and containerd do.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from dockyard.atomicfile import replaced_atomically, write_atomically
from dockyard.errors import (
    DigestMismatch,
    InvalidArchive,
    InvalidManifest,
    InvalidReference,
    SizeMismatch,
)
from dockyard.image.base import Image, select_platform
from dockyard.image.synth import synthesize_manifest
from dockyard.image.transfer import RawManifest, put_image
from dockyard.image.validate import check_manifest_config
from dockyard.oci import _json, mediatype
from dockyard.oci import reference as refs
from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest, DigestHasher
from dockyard.oci.index import Index
from dockyard.oci.layout import ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, INDEX_FILE, LAYOUT_FILE, LAYOUT_VERSION
from dockyard.oci.manifest import Manifest
from dockyard.oci.platform import Platform
from dockyard.transport._tarutil import (
    MAX_JSON_SIZE,
    ArchiveSource,
    HashingReader,
    TarWriter,
    open_source,
)
from dockyard.transport.base import SourceIndex, is_image_manifest, source_image

_CHUNK: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class RefName:
    """A name for :func:`write` that is only an ``org.opencontainers.image.ref.name`` (``oci:DIR:REF``), written
    verbatim, with no image name annotation."""

    value: str


@dataclass(frozen=True, slots=True)
class LayoutEntry:
    """One image of an OCI layout.

    ``name`` is the ``io.containerd.image.name`` annotation of its ``index.json`` descriptor (a full
    reference), ``ref_name`` the ``org.opencontainers.image.ref.name`` one (usually a tag), and
    ``index_digest`` the digest of the index it was selected from, when the descriptor named an index.
    """

    image: Image
    name: str | None
    ref_name: str | None
    index_digest: Digest | None = None


# --------------------------------------------------------------------------- reading


class LayoutSource:
    """An OCI layout (directory or tar) as a :class:`~dockyard.transport.base.Source`.

    ``index.json`` may name several images; :meth:`entries` lists them, and ``which`` (a descriptor of
    ``index.json``) chooses the top one. Manifests, indexes and configs are verified against their descriptors
    when read; layer blobs are checked for presence and size, and verified by whoever reads them.
    """

    def __init__(self, path: Path) -> None:
        self.archive = open_source(path, what="OCI layout")
        self.label = self.archive.label
        _check_layout_file(self.archive)
        if self.archive.member(INDEX_FILE) is None:
            raise InvalidArchive(f"{self.label}: OCI layout without index.json")
        try:
            self.index = Index.parse(self.archive.read_bytes(INDEX_FILE, "index.json"))
        except InvalidManifest as exc:
            raise InvalidArchive(f"{self.label}: index.json: {exc}") from None
        self.which: Descriptor | None = None

    def entries(self) -> tuple[Descriptor, ...]:
        return self.index.manifests

    def choose(self, ref_name: str | None) -> Descriptor:
        """The ``index.json`` entry named ``ref_name`` (its ref name or image name); the only one when None."""
        if ref_name:
            chosen = [
                d
                for d in self.index.manifests
                if ref_name in (d.annotations.get(ANNOTATION_REF_NAME), d.annotations.get(ANNOTATION_IMAGE_NAME))
            ]
            if not chosen:
                raise InvalidArchive(f"{self.label}: no image with ref name {ref_name!r}")
        else:
            chosen = list(self.index.manifests)
            if len(chosen) != 1:
                raise InvalidArchive(f"{self.label}: holds {len(chosen)} images: say which (:REF)")
        self.which = chosen[0]
        return chosen[0]

    def top(self) -> RawManifest:
        desc = self.which if self.which is not None else self.choose(None)
        return self.child(desc)

    def child(self, desc: Descriptor) -> RawManifest:
        return RawManifest(_read_blob(self.archive, desc, "manifest"), desc.media_type)

    def open_blob(self, desc: Descriptor) -> BinaryIO:
        name = _blob_name(desc.digest)
        what = _kind_of(desc)
        member = self.archive.require(name, what)
        if member.size != desc.size:
            raise SizeMismatch(desc.size, member.size, f"{what} {desc.digest}")
        return self.archive.open(name)

    def close(self) -> None:
        close = getattr(self.archive, "close", None)
        if close is not None:
            close()


def _kind_of(desc: Descriptor) -> str:
    if desc.media_type in mediatype.CONFIG_TYPES:
        return "config"
    return "layer blob" if mediatype.is_layer(desc.media_type) else "blob"


def read(path: Path, *, platform: Platform | None = None) -> list[LayoutEntry]:
    """Every image the ``index.json`` of the layout at ``path`` names (directory or tar).

    Indexes select their child for ``platform`` (default: this host's platform) by the one platform rule
    (:func:`~dockyard.image.base.select_platform`); artifacts are skipped.
    """
    source = LayoutSource(path)
    entries: list[LayoutEntry] = []
    skipped: list[str] = []
    for desc in source.entries():
        name = desc.annotations.get(ANNOTATION_IMAGE_NAME) or None
        ref_name = desc.annotations.get(ANNOTATION_REF_NAME) or None
        where = f"{source.label}: manifest {desc.digest}"
        if mediatype.is_index(desc.media_type):
            index = SourceIndex(source, source.child(desc), f"{source.label}: index {desc.digest}")
            try:
                image, _chosen = select_platform(index, platform or Platform.host())
            except InvalidManifest as exc:
                raise InvalidManifest(f"{source.label}: {exc}") from None
            index_digest: Digest | None = desc.digest
        elif mediatype.is_manifest(desc.media_type):
            raw = source.child(desc)
            if not is_image_manifest(Manifest.parse(raw.data, raw.media_type)):
                skipped.append(f"{desc.digest} (not a container image)")
                continue
            image = source_image(source, raw, where)
            index_digest = None
        else:
            skipped.append(f"{desc.digest} ({desc.media_type})")
            continue
        for layer in image.layers():
            ldesc = layer.descriptor()
            member = source.archive.require(_blob_name(ldesc.digest), "layer blob")
            if member.size != ldesc.size:
                raise SizeMismatch(ldesc.size, member.size, f"layer {ldesc.digest}")
        entries.append(LayoutEntry(image, name, ref_name, index_digest))
    if not entries:
        detail = f" (skipped: {', '.join(skipped)})" if skipped else ""
        raise InvalidArchive(f"{source.label}: the OCI layout holds no images{detail}")
    return entries


def _check_layout_file(source: ArchiveSource) -> None:
    if source.member(LAYOUT_FILE) is None:
        raise InvalidArchive(f"{source.label}: not an OCI image layout: the oci-layout file is missing")
    raw = source.read_bytes(LAYOUT_FILE, "oci-layout", limit=1 << 16)
    try:
        obj = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidArchive(f"{source.label}: oci-layout is not valid JSON") from None
    version = obj.get("imageLayoutVersion") if isinstance(obj, dict) else None
    if version != LAYOUT_VERSION:
        raise InvalidArchive(
            f"{source.label}: oci-layout: unsupported imageLayoutVersion {version!r} (want {LAYOUT_VERSION!r})"
        )


def _blob_name(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.hex}"


def _read_blob(source: ArchiveSource, desc: Descriptor, what: str) -> bytes:
    """A small blob (manifest, index, config), checked against its descriptor's size and digest."""
    name = _blob_name(desc.digest)
    member = source.require(name, what)
    if member.size != desc.size:
        raise SizeMismatch(desc.size, member.size, f"{what} {desc.digest}")
    raw = source.read_bytes(name, what, limit=MAX_JSON_SIZE)
    desc.digest.verify(raw, f"{what} {desc.digest}")
    return raw


# --------------------------------------------------------------------------- writing


def _platform_of(config: ImageConfig) -> Platform | None:
    if not config.os or not config.architecture:
        return None
    try:
        return config.platform
    except ValueError:
        return None


def name_annotations(names: Sequence[str | RefName]) -> list[dict[str, str]]:
    """The ``index.json`` annotations of each name: ``oci:DIR:REF`` names by REF alone, verbatim, as skopeo does;
    a full reference gets both the image name and its tag as ref name (``docker save`` >= 25, containerd)."""
    out: list[dict[str, str]] = []
    for text in names:
        if isinstance(text, RefName):
            if not text.value:
                raise InvalidReference("an OCI layout ref name must not be empty")
            out.append({ANNOTATION_REF_NAME: text.value})
            continue
        ref = refs.parse(text)
        if ref.digest is not None:
            raise InvalidReference(f"cannot save {text} under a digest reference: an OCI layout needs tags")
        ref = ref.with_default_tag()
        out.append({ANNOTATION_IMAGE_NAME: str(ref), ANNOTATION_REF_NAME: ref.tag or "latest"})
    return out


class LayoutDestination:
    """An OCI layout as a :class:`~dockyard.transport.base.Destination`: a directory (new, empty, or an existing
    layout that gains entries) or a tar (written to a temporary file, renamed at :meth:`commit`).

    Blobs are written once each, as they are, and verified against their digests on the way. Manifests are kept
    byte for byte, except that a single image's Docker schema 2 manifest becomes the equivalent OCI manifest (same
    config and layer blobs), as ``skopeo copy`` does, because OCI layout readers such as skopeo < 1.14 only look
    at OCI media types -- unless ``keep_docker_manifests`` (an index copied whole keeps its children's bytes).
    """

    def __init__(self, out: Path, *, as_tar: bool, keep_docker_manifests: bool = False) -> None:
        self.out = out
        self.as_tar = as_tar
        self.keep_docker_manifests = keep_docker_manifests
        self._lock = threading.Lock()
        self._blobs: dict[Digest, Path] = {}  # written, verified, waiting in the staging directory
        self._small: dict[Digest, bytes] = {}
        self._entries: list[Descriptor] = []
        self._existing: list[Descriptor] = []
        self._created = False
        self._committed = False
        self._last: Descriptor | None = None
        if as_tar:
            self._stage = Path(tempfile.mkdtemp(prefix=".dockyard-oci-", dir=out.parent or Path(".")))
        else:
            self._created = _prepare_dir(out)
            if (out / INDEX_FILE).is_file():
                self._existing = list(LayoutSource(out).entries())
            (out / "blobs").mkdir(exist_ok=True)
            self._stage = out / "blobs"

    def _path(self, digest: Digest) -> Path:
        if self.as_tar:
            return self._stage / f"{digest.algorithm}-{digest.hex}"
        return self._stage / digest.algorithm / digest.hex

    # --- BlobSink -----------------------------------------------------------------------------------------

    def reuse_blob(self, desc: Descriptor, diff_id: Digest | None) -> str | None:
        with self._lock:
            if desc.digest in self._blobs or desc.digest in self._small:
                return "Already exists"
        if (
            not self.as_tar
            and self._path(desc.digest).is_file()
            and self._path(desc.digest).stat().st_size == desc.size
        ):
            return "Already exists"
        return None

    def put_blob(self, desc: Descriptor, stream: BinaryIO, diff_id: Digest | None) -> None:
        target = self._path(desc.digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        what = f"blob {desc.digest}"
        hasher = DigestHasher(desc.digest.algorithm)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as dst:
                shutil.copyfileobj(HashingReader(stream, hasher.update), dst, _CHUNK)
            if hasher.size != desc.size:
                raise SizeMismatch(desc.size, hasher.size, what)
            _check(hasher, desc.digest, what)
            os.chmod(tmp_name, 0o644)
            os.replace(tmp_name, target)
        finally:
            if os.path.lexists(tmp_name):
                os.unlink(tmp_name)
        with self._lock:
            self._blobs[desc.digest] = target

    def put_manifest(self, raw: RawManifest, *, reference: str | None = None) -> Digest:
        """A manifest or index; ``reference`` is None for children, else the top one's name(s) (see
        :meth:`name`). A Docker schema 2 manifest of a single image is converted (see the class)."""
        data, media_type = raw.data, raw.media_type
        if media_type == mediatype.DOCKER_MANIFEST and reference is not None and not self.keep_docker_manifests:
            manifest = Manifest.parse(data, media_type)
            config = self._small.get(manifest.config.digest)
            if config is None:
                config = self._blobs[manifest.config.digest].read_bytes()
            converted = synthesize_manifest(ImageConfig.parse(config), manifest.layers, mediatype.OCI_MANIFEST)
            data, media_type = converted.raw, converted.media_type
        digest = Digest.of(data)
        with self._lock:
            self._small[digest] = data
        self._last = Descriptor(media_type, digest, len(data), self._platform(data, media_type))
        return digest

    def _platform(self, data: bytes, media_type: str) -> Platform | None:
        if not mediatype.is_manifest(media_type):
            return None
        manifest = Manifest.parse(data, media_type)
        config = self._small.get(manifest.config.digest)
        path = self._blobs.get(manifest.config.digest)
        if config is None and path is not None:
            config = path.read_bytes()
        if config is None or manifest.config.media_type not in mediatype.CONFIG_TYPES:
            return None
        return _platform_of(ImageConfig.parse(config))

    def name(self, names: Sequence[str | RefName]) -> None:
        """Give the last manifest put its ``index.json`` entries (one per name, or one without a name)."""
        last = self._last
        if last is None:
            raise InvalidManifest("no manifest to name")
        for marks in name_annotations(names) or [{}]:
            entry = Descriptor(last.media_type, last.digest, last.size, last.platform, marks)
            key = (entry.digest, marks.get(ANNOTATION_IMAGE_NAME, "") or marks.get(ANNOTATION_REF_NAME, ""))
            if any((d.digest, _entry_key(d)) == key for d in self._entries):
                continue
            self._entries.append(entry)

    # --- commit -------------------------------------------------------------------------------------------

    def commit(self) -> None:
        kept = [
            d
            for d in self._existing
            if _entry_key(d) not in {_entry_key(e) for e in self._entries} or not _entry_key(d)
        ]
        index = Index.build([*kept, *self._entries], mediatype.OCI_INDEX)
        layout = _json.dumps({"imageLayoutVersion": LAYOUT_VERSION})
        if self.as_tar:
            with replaced_atomically(self.out) as tmp, open(tmp, "wb") as f, TarWriter(f) as tar:
                order = sorted({*self._blobs, *self._small})
                tar.add_dir("blobs")
                for algorithm in sorted({d.algorithm for d in order}):
                    tar.add_dir(f"blobs/{algorithm}")
                for digest in order:
                    if digest in self._small:
                        tar.add_bytes(_blob_name(digest), self._small[digest])
                    else:
                        path = self._blobs[digest]
                        with open(path, "rb") as blob:
                            tar.add_stream(_blob_name(digest), blob, path.stat().st_size, f"blob {digest}")
                tar.add_bytes(INDEX_FILE, index.raw)
                tar.add_bytes(LAYOUT_FILE, layout)
        else:
            for digest, data in self._small.items():
                target = self._path(digest)
                target.parent.mkdir(parents=True, exist_ok=True)
                write_atomically(target, data)
            write_atomically(self.out / LAYOUT_FILE, layout)
            write_atomically(self.out / INDEX_FILE, index.raw)
        self._committed = True

    def close(self) -> None:
        if self.as_tar:
            shutil.rmtree(self._stage, ignore_errors=True)
        elif not self._committed and self._created:
            shutil.rmtree(self.out, ignore_errors=True)  # the directory did not exist: leave nothing
        elif not self._committed and not self._existing:
            shutil.rmtree(self.out / "blobs", ignore_errors=True)  # it was empty: leave it empty

    def __enter__(self) -> LayoutDestination:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _entry_key(desc: Descriptor) -> str:
    return desc.annotations.get(ANNOTATION_IMAGE_NAME, "") or desc.annotations.get(ANNOTATION_REF_NAME, "")


def write(
    images: Sequence[tuple[Image, Sequence[str | RefName]]],
    out: Path,
    *,
    as_tar: bool,
    keep_docker_manifests: bool = False,
) -> None:
    """Write ``images`` (each with its names) as an OCI image layout: a directory, or a tar when ``as_tar``
    (see :class:`LayoutDestination`)."""
    if not as_tar and out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidArchive(
            f"{out}: " + ("exists and is not a directory" if not out.is_dir() else "directory is not empty")
        )
    with LayoutDestination(out, as_tar=as_tar, keep_docker_manifests=keep_docker_manifests) as dest:
        for image, names in images:
            check_manifest_config(image.manifest(), image.config())
            put_image(dest, image, reference="")
            dest.name(names)
        dest.commit()


def _prepare_dir(out: Path) -> bool:
    """Check that ``out`` is a directory (empty, or an OCI layout) or create it; True when it was created."""
    if out.exists():
        if not out.is_dir():
            raise InvalidArchive(f"{out}: exists and is not a directory")
        if any(out.iterdir()) and not (out / LAYOUT_FILE).is_file():
            raise InvalidArchive(f"{out}: directory is not empty (and not an OCI layout)")
        return False
    out.mkdir()
    return True


def _check(hasher: DigestHasher, expected: Digest, what: str) -> None:
    actual = hasher.digest()
    if actual != expected:
        raise DigestMismatch(str(expected), str(actual), what)


__all__ = ["LayoutDestination", "LayoutEntry", "LayoutSource", "RefName", "name_annotations", "read", "write"]
