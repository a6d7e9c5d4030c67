"""Image and Layer: the small read-only interfaces every transport yields and every sink accepts.

A source provides the raw manifest, the raw config and a way to open each layer blob; everything
else (digests, IDs, sizes, platform) is derived from those, never stored twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol, runtime_checkable

from dockyard.errors import InvalidManifest
from dockyard.oci import mediatype
from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.index import Index
from dockyard.oci.manifest import Manifest
from dockyard.oci.platform import Platform

Opener = Callable[[], BinaryIO]


@runtime_checkable
class Layer(Protocol):
    """One layer: its distribution descriptor, its content hash, and its raw (as-described) bytes."""

    def descriptor(self) -> Descriptor: ...
    def diff_id(self) -> Digest: ...
    def open(self) -> BinaryIO: ...


@runtime_checkable
class Image(Protocol):
    """One single-platform image."""

    def manifest(self) -> Manifest: ...
    def config(self) -> ImageConfig: ...
    def layers(self) -> Sequence[Layer]: ...


@runtime_checkable
class ImageIndex(Protocol):
    """A multi-platform image: an index whose children are images or (nested) indexes."""

    def index(self) -> Index: ...
    def image(self, desc: Descriptor) -> Image: ...
    def child_index(self, desc: Descriptor) -> ImageIndex: ...


def select_platform(index: ImageIndex, platform: Platform) -> tuple[Image, Descriptor]:
    """The one platform selection every transport uses.

    First by the children's descriptors (:meth:`~dockyard.oci.index.Index.select`: an exact match in index order,
    then the older variants of the same architecture -- ``arm/v7`` takes ``arm/v6`` -- never another
    architecture); a chosen nested index is searched the same way. Children without a platform are then tried
    by their config's platform (a manifest) or searched (a nested index), for each candidate in the same order.
    """
    parsed = index.index()
    try:
        desc = parsed.select(platform)
    except InvalidManifest as exc:
        unmatched = exc
    else:
        if mediatype.is_index(desc.media_type):
            return select_platform(index.child_index(desc), platform)
        return index.image(desc), desc
    for candidate in platform.fallbacks():
        for desc in parsed.manifests:
            if desc.platform is not None:
                continue
            if mediatype.is_index(desc.media_type):
                try:
                    return select_platform(index.child_index(desc), candidate)
                except InvalidManifest:
                    continue
            if not mediatype.is_manifest(desc.media_type):
                continue
            try:
                image = index.image(desc)
            except InvalidManifest:
                continue  # not a container image (an attestation, a signature): never chosen
            config = image.config()
            if config.os and config.architecture and candidate.matches(config.platform):
                return image, desc
    raise unmatched


def check_platform(config: ImageConfig, platform: Platform, where: str) -> None:
    """A single-platform image asked for with ``--platform`` must be that platform (or an older variant of it)."""
    actual = config.platform
    if not any(candidate.matches(actual) for candidate in platform.fallbacks()):
        raise InvalidManifest(
            f"image with reference {where} was found but does not match the specified "
            f"platform: wanted {platform}, actual: {actual}"
        )


@runtime_checkable
class SizedLayer(Protocol):
    """Optional capability: a layer that knows its uncompressed size without reading it."""

    def uncompressed_size(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class BlobLayer:
    """A layer whose raw bytes come from an opener (a file, a tar member, a store blob)."""

    desc: Descriptor
    content_digest: Digest
    opener: Opener = field(compare=False)
    size_uncompressed: int | None = None

    def descriptor(self) -> Descriptor:
        return self.desc

    def diff_id(self) -> Digest:
        return self.content_digest

    def open(self) -> BinaryIO:
        return self.opener()

    def uncompressed_size(self) -> int | None:
        return self.size_uncompressed


@dataclass(frozen=True, slots=True)
class StaticImage:
    """An image whose manifest and config are already parsed and whose layers are given."""

    the_manifest: Manifest
    the_config: ImageConfig
    the_layers: tuple[Layer, ...]

    def manifest(self) -> Manifest:
        return self.the_manifest

    def config(self) -> ImageConfig:
        return self.the_config

    def layers(self) -> Sequence[Layer]:
        return self.the_layers


def image_id(image: Image) -> Digest:
    """Docker's image ID: the digest of the config blob."""
    return image.manifest().config.digest
