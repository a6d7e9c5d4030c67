"""Where images live, behind two small protocols, and the transports by name.

A :class:`Source` gives the raw bytes of the manifest or index a location names (:meth:`Source.top`), children by
descriptor, and blobs by descriptor. A :class:`Destination` answers "do you have, or can you mount, this blob",
takes blobs and manifests (raw bytes) and commits. Every place implements both where it can: the local store,
a registry (``docker://``), an OCI layout directory (``oci:``) or tar (``oci-archive:``), a docker-archive.
:func:`source_image` and :class:`SourceIndex` derive :class:`~dockyard.image.base.Image` and
:class:`~dockyard.image.base.ImageIndex` values from any source (go-containerregistry's ``partial``), so a
transport writes only the raw accessors. :data:`TRANSPORTS` maps skopeo's transport names to their modules.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from dockyard.errors import BlobNotFound, DigestMismatch, InvalidManifest, InvalidReference, SizeMismatch
from dockyard.image.base import BlobLayer, Image, Layer, Opener, StaticImage
from dockyard.image.transfer import BlobSink, RawManifest
from dockyard.image.validate import check_manifest_config
from dockyard.oci import mediatype
from dockyard.oci import reference as refs
from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.index import Index, parse_any
from dockyard.oci.manifest import Manifest

#: Indexes nest at most this deep (an index of indexes of ... of manifests); deeper is refused everywhere.
MAX_INDEX_DEPTH = 4
#: Image configs larger than this are refused (Docker's limit is 8 MiB).
MAX_CONFIG_SIZE = 8 << 20
#: Manifests and indexes larger than this are refused (Distribution's default limit is 4 MiB).
MAX_MANIFEST_SIZE = 4 << 20


class Source(Protocol):
    """Where an image or index is read from."""

    def top(self) -> RawManifest:
        """The manifest or index the location names, as its bytes."""
        ...

    def child(self, desc: Descriptor) -> RawManifest:
        """A manifest or index an index refers to, verified against ``desc`` (digest and size)."""
        ...

    def open_blob(self, desc: Descriptor) -> BinaryIO:
        """A blob's raw bytes as the descriptor describes them (the reader verifies what it needs)."""
        ...

    def close(self) -> None: ...


class Destination(BlobSink, Protocol):
    """Where an image or index is written: a :class:`~dockyard.image.transfer.BlobSink` that commits."""

    def commit(self) -> object:
        """Make what was put visible (a layout's index.json, an archive's rename); nothing before it is."""
        ...

    def close(self) -> None:
        """Release resources; without a commit, take back what was written where the place allows it."""
        ...


@runtime_checkable
class KeepsIndexes(Protocol):
    """Optional capability: a destination that keeps an index whose platforms it holds only in part (the store:
    ``pull --platform`` of a multi-platform tag remembers the index the tag names)."""

    def keep_index(self, raw: RawManifest) -> None: ...


@runtime_checkable
class Mounts(Protocol):
    """Optional capability: a destination that can mount blobs from other repositories of its registry."""

    def add_mount_source(self, repository: str, digests: Sequence[Digest]) -> None: ...
    def mount_from_anywhere(self, repository: str) -> None: ...


def verified_child(raw: RawManifest, desc: Descriptor, where: str) -> RawManifest:
    """``raw`` checked against the descriptor that named it."""
    if len(raw.data) != desc.size:
        raise SizeMismatch(desc.size, len(raw.data), f"{where}: manifest {desc.digest}")
    actual = Digest.of(raw.data, desc.digest.algorithm)
    if actual != desc.digest:
        raise DigestMismatch(str(desc.digest), str(actual), f"{where}: manifest")
    return raw


def parse_raw(raw: RawManifest, where: str) -> Index | Manifest:
    """A manifest or index parsed; schema 1 refused with Docker's advice."""
    if raw.media_type in mediatype.SCHEMA1_TYPES:
        raise InvalidManifest(
            f"{where} is a Docker image manifest schema 1, which is deprecated and not supported: "
            "push it again with a current client"
        )
    try:
        return parse_any(raw.data, raw.media_type or None)
    except InvalidManifest as exc:
        raise InvalidManifest(f"{where}: {exc}") from None


def read_config(source: Source, manifest: Manifest, where: str) -> bytes:
    """The config blob a manifest names, read and verified (digest and size)."""
    desc = manifest.config
    if desc.size > MAX_CONFIG_SIZE:
        raise InvalidManifest(f"{where}: config {desc.digest} is {desc.size} bytes (limit {MAX_CONFIG_SIZE})")
    with source.open_blob(desc) as f:
        data = f.read(desc.size + 1)
    if len(data) != desc.size:
        raise SizeMismatch(desc.size, len(data), f"{where}: config {desc.digest}")
    actual = Digest.of(data, desc.digest.algorithm)
    if actual != desc.digest:
        raise DigestMismatch(str(desc.digest), str(actual), f"{where}: config")
    return data


def is_image_manifest(manifest: Manifest) -> bool:
    """A container image (not an artifact: attestation, signature, SBOM...). BuildKit's attestation manifests have
    an image config type but only in-toto layers: they are artifacts (an image with one odd layer is a bad image)."""
    return manifest.config.media_type in mediatype.CONFIG_TYPES and not mediatype.only_artifact_layers(
        [layer.media_type for layer in manifest.layers]
    )


def is_foreign(desc: Descriptor) -> bool:
    """A non-distributable (foreign) layer: it stays where its URLs say unless a copy is asked to include it."""
    return desc.media_type in mediatype.FOREIGN_TYPES


def source_image(source: Source, raw: RawManifest, where: str) -> Image:
    """The image whose manifest is ``raw``: the config read and verified, layers opened only when read."""
    parsed = parse_raw(raw, where)
    if isinstance(parsed, Index):
        raise InvalidManifest(f"{where} is an index, not an image manifest")
    if parsed.config.media_type not in mediatype.CONFIG_TYPES:
        raise InvalidManifest(f"{where} is not a container image (config type {parsed.config.media_type})")
    for i, ldesc in enumerate(parsed.layers):
        if not mediatype.is_layer(ldesc.media_type):
            raise InvalidManifest(f"{where}: layers[{i}] has media type {ldesc.media_type!r}, not a layer")
    try:
        config = ImageConfig.parse(read_config(source, parsed, where))
        check_manifest_config(parsed, config)
    except InvalidManifest as exc:
        raise InvalidManifest(f"{where}: {exc}") from None
    layers: list[Layer] = []
    for desc, diff_id in zip(parsed.layers, config.diff_ids, strict=True):
        plain = desc.size if mediatype.layer_compression(desc.media_type) == "none" else None
        layers.append(BlobLayer(desc, diff_id, _opener(source, desc), plain))
    return StaticImage(parsed, config, tuple(layers))


def _opener(source: Source, desc: Descriptor) -> Opener:
    return lambda: source.open_blob(desc)


class SourceIndex:
    """An index read from a source, as an :class:`~dockyard.image.base.ImageIndex`."""

    def __init__(self, source: Source, raw: RawManifest, where: str, depth: int = 0) -> None:
        if depth > MAX_INDEX_DEPTH:
            raise InvalidManifest(f"{where}: indexes nested too deeply (more than {MAX_INDEX_DEPTH} levels)")
        parsed = parse_raw(raw, where)
        if not isinstance(parsed, Index):
            raise InvalidManifest(f"{where} is an image manifest, not an index")
        self.source = source
        self.raw = raw
        self.where = where
        self.depth = depth
        self._index = parsed

    def index(self) -> Index:
        return self._index

    def child_raw(self, desc: Descriptor) -> RawManifest:
        return verified_child(self.source.child(desc), desc, self.where)

    def image(self, desc: Descriptor) -> Image:
        return source_image(self.source, self.child_raw(desc), f"{self.where}@{desc.digest}")

    def child_index(self, desc: Descriptor) -> SourceIndex:
        return SourceIndex(self.source, self.child_raw(desc), f"{self.where}@{desc.digest}", self.depth + 1)


class BytesSource:
    """A source over an :class:`~dockyard.image.base.Image` value (and, optionally, the index it came from)."""

    def __init__(self, image: Image, extra: Sequence[RawManifest] = ()) -> None:
        self._image = image
        manifest = image.manifest()
        self._top = RawManifest(manifest.raw, manifest.media_type)
        self._manifests = {m.digest: m for m in extra}
        self._layers = {layer.descriptor().digest: layer for layer in image.layers()}

    def top(self) -> RawManifest:
        return self._top

    def child(self, desc: Descriptor) -> RawManifest:
        if desc.digest == self._top.digest:
            return self._top
        if desc.digest in self._manifests:
            return self._manifests[desc.digest]
        raise InvalidManifest(f"manifest {desc.digest} is not available")

    def open_blob(self, desc: Descriptor) -> BinaryIO:
        if desc.digest == self._image.manifest().config.digest:
            return io.BytesIO(self._image.config().raw)
        layer = self._layers.get(desc.digest)
        if layer is None:
            raise InvalidManifest(f"blob {desc.digest} is not part of the image")
        return layer.open()

    def close(self) -> None:
        return None


class MemorySource:
    """A source over what is held in memory: child manifests and blob openers by digest (``top`` is the
    subclass's). ``what`` names it in the errors for what it does not hold (``this build``)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.manifests: dict[Digest, RawManifest] = {}
        self.blobs: dict[Digest, Opener] = {}

    def add_bytes(self, digest: Digest, data: bytes) -> None:
        self.blobs[digest] = lambda: io.BytesIO(data)

    def top(self) -> RawManifest:
        raise NotImplementedError

    def child(self, desc: Descriptor) -> RawManifest:
        try:
            return self.manifests[desc.digest]
        except KeyError:
            raise BlobNotFound(f"manifest {desc.digest} is not part of {self.what}") from None

    def open_blob(self, desc: Descriptor) -> BinaryIO:
        opener = self.blobs.get(desc.digest)
        if opener is None:
            raise BlobNotFound(f"blob {desc.digest} is not part of {self.what}")
        return opener()

    def close(self) -> None:
        return None


# --------------------------------------------------------------------------- locations


@dataclass(frozen=True, slots=True)
class Location:
    """Where an image is: ``kind`` is a transport name or ``store``."""

    kind: str
    ref: refs.Reference | None = None  # docker:// and the store; the name in docker-archive
    path: Path | None = None  # oci, oci-archive, docker-archive
    name: str | None = None  # the ref name of oci / oci-archive, or the docker-archive name as written

    def __str__(self) -> str:
        if self.kind == "store":
            return str(self.ref)
        if self.kind == "docker":
            return f"docker://{self.ref}"
        if self.path is None:  # an open source with no place of its own (a build's images)
            return self.name or self.kind
        return f"{self.kind}:{self.path}" + (f":{self.name}" if self.name else "")


#: skopeo's transport names, in the order they are tried when parsing.
TRANSPORTS = ("docker", "oci", "oci-archive", "docker-archive")


def parse_location(text: str) -> Location:
    """Parse skopeo's ``transport:details`` form; a bare reference is the local store."""
    if text.startswith("docker://"):
        return Location("docker", ref=refs.parse(text[len("docker://") :]))
    for kind in ("oci-archive", "docker-archive", "oci"):
        prefix = kind + ":"
        if text.startswith(prefix):
            rest = text[len(prefix) :]
            if not rest:
                raise InvalidReference(f"{kind}: needs a path: {text!r}")
            path, sep, name = rest.partition(":")
            if not path:
                raise InvalidReference(f"{kind}: needs a path: {text!r}")
            ref = None
            if kind == "docker-archive" and sep and name and not name.startswith("@"):
                ref = refs.parse(name)
                if ref.digest is not None:
                    raise InvalidReference(f"docker-archive doesn't support digest references: {name}")
            return Location(kind, ref=ref, path=Path(path), name=name or None)
    if text.startswith("docker:"):
        raise InvalidReference(f"invalid location {text!r}: the registry transport is written docker://REF")
    if ":" in text.split("/", 1)[0] and text.split(":", 1)[0] in ("containers-storage", "dir", "docker-daemon"):
        raise InvalidReference(f"transport {text.split(':', 1)[0]!r} is not supported (use {', '.join(TRANSPORTS)})")
    return Location("store", ref=refs.parse(text))


__all__ = [
    "MAX_INDEX_DEPTH",
    "TRANSPORTS",
    "BytesSource",
    "Destination",
    "KeepsIndexes",
    "Location",
    "MemorySource",
    "Mounts",
    "Source",
    "SourceIndex",
    "is_foreign",
    "is_image_manifest",
    "parse_location",
    "parse_raw",
    "read_config",
    "source_image",
    "verified_child",
]
