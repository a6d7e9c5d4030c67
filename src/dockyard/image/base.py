"""Image and Layer: the small read-only interfaces every transport yields and every sink accepts.

A source provides the raw manifest, the raw config and a way to open each layer blob; everything
else (digests, IDs, sizes, platform) is derived from those, never stored twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol, runtime_checkable

from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Manifest

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
