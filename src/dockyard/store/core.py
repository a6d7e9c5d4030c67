"""What the store's modules need of the store, as a protocol: ``check``, ``delete``, ``gc``, ``image``, ``ingest``
and ``source`` are typed against :class:`StoreCore`, which the :class:`~dockyard.store.store.Store` facade
implements, so that no module of ``store/`` imports the facade that imports it (no import loops)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from dockyard.oci import reference as refs
from dockyard.oci.digest import Digest
from dockyard.store.blobs import BlobStore
from dockyard.store.metadata import ImageRow, Metadata
from dockyard.store.paths import StorePaths


@dataclass(frozen=True, slots=True)
class ImageSummary:
    id: Digest
    created: datetime | None
    size: int
    tags: tuple[refs.Reference, ...]
    digests: tuple[refs.Reference, ...]
    containers: int
    row: ImageRow = field(repr=False)
    held: bool = False  # a platform of an index a tag names (shown under that tag only when it is this host's)

    @property
    def dangling(self) -> bool:
        """Docker's meaning: no tag (an image known only by ``repo@digest`` is dangling too); an index's other
        platforms are held by its tag, not dangling."""
        return not self.tags and not self.held


class StoreCore(Protocol):
    """The parts of the store (paths, blobs, metadata) and the few lookups its modules share."""

    paths: StorePaths
    blobs: BlobStore
    meta: Metadata

    def resolve(self, text: str) -> str: ...
    def manifest_digest_of(self, text: str, image_id: str) -> str: ...
    def layer_form(self, diff_id: str, compression: str) -> tuple[Digest, int, str]: ...
    def summaries(self) -> list[ImageSummary]: ...


__all__ = ["ImageSummary", "StoreCore"]
