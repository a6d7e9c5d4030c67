"""An image in the store, seen through the :class:`~dockyard.image.base.Image` protocol."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, BinaryIO

from dockyard.errors import StoreError
from dockyard.image.base import BlobLayer, Layer
from dockyard.oci import mediatype
from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Manifest
from dockyard.store.blobs import BlobStore
from dockyard.store.metadata import ImageRow

if TYPE_CHECKING:
    from dockyard.store.core import StoreCore


class StoreImage:
    """An image in the store, as an :class:`Image` whose layers read the kept blobs."""

    def __init__(self, store: StoreCore, row: ImageRow) -> None:
        self._store = store
        self.row = row
        self._manifest: Manifest | None = None
        self._config: ImageConfig | None = None
        self._layers: tuple[Layer, ...] | None = None

    def config(self) -> ImageConfig:
        if self._config is None:
            self._config = ImageConfig.parse(self._store.blobs.read(Digest.parse(self.row.id)))
        return self._config

    def original_manifest(self) -> Manifest:
        raw = self._store.blobs.read(Digest.parse(self.row.manifest_digest))
        return Manifest.parse(raw, self.row.manifest_type)

    def layers(self) -> Sequence[Layer]:
        if self._layers is None:
            out: list[Layer] = []
            for diff_id in self._store.meta.image_diff_ids(self.row.id):
                lrow = self._store.meta.layer(diff_id)
                if lrow is None:
                    raise StoreError(f"image {self.row.id[7:19]} refers to layer {diff_id} that is not stored")
                blob = Digest.parse(lrow.blob_digest)
                out.append(
                    BlobLayer(
                        Descriptor(lrow.media_type, blob, lrow.compressed_size),
                        Digest.parse(diff_id),
                        _opener(self._store.blobs, blob),
                        lrow.size,
                    )
                )
            self._layers = tuple(out)
        return self._layers

    def manifest(self) -> Manifest:
        """The manifest as received when every layer blob it names is kept; else one describing the kept blobs."""
        if self._manifest is None:
            original = self.original_manifest()
            kept = [layer.descriptor() for layer in self.layers()]
            if [d.digest for d in original.layers] == [d.digest for d in kept]:
                self._manifest = original
            else:
                kind = original.media_type
                self._manifest = Manifest.build(
                    original.config,
                    [Descriptor(_media_for(kind, d.media_type), d.digest, d.size) for d in kept],
                    kind,
                )
        return self._manifest


def _media_for(manifest_type: str, layer_type: str) -> str:
    return mediatype.layer_type(manifest_type, mediatype.layer_compression(layer_type))


def _opener(blobs: BlobStore, digest: Digest) -> Callable[[], BinaryIO]:
    return lambda: blobs.open(digest)
