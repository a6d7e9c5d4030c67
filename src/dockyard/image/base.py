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

    For each of ``platform``'s candidates (itself, then the older variants of its architecture: ``arm/v7`` takes
    ``arm/v6``, never another architecture), the first child in index order that matches: a manifest by its
    descriptor's platform, or by its config's when the descriptor has none; a nested index is searched in order
    (skipped when its descriptor names another platform).
    """
    images: dict[Digest, Image] = {}
    available: list[str] = []

    def platform_of(desc: Descriptor) -> Platform | None:
        if desc.platform is not None:
            return desc.platform
        if desc.digest not in images:
            try:
                images[desc.digest] = index.image(desc)
            except InvalidManifest:
                return None  # not a container image (an attestation, a signature): never chosen
        config = images[desc.digest].config()
        return config.platform if config.os and config.architecture else None

    parsed = index.index()
    for candidate in platform.fallbacks():
        for desc in parsed.manifests:
            if mediatype.is_index(desc.media_type):
                if desc.platform is not None and not candidate.matches(desc.platform):
                    continue
                try:
                    return select_platform(index.child_index(desc), candidate)
                except InvalidManifest:
                    continue
            if not mediatype.is_manifest(desc.media_type):
                continue
            found = platform_of(desc)
            if found is not None and candidate.matches(found):
                return images.get(desc.digest) or index.image(desc), desc
    for desc in parsed.manifests:
        if mediatype.is_manifest(desc.media_type) and desc.platform is not None:
            available.append(str(desc.platform))
    listed = ", ".join(dict.fromkeys(available)) or "none"
    raise InvalidManifest(f"no image for platform {platform} in index {parsed.digest} (available: {listed})")


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
