"""Ingest: the store as a destination of the copy engine. Blobs are verified as they stream in (distribution digest,
size and diff_id in one pass); manifests and indexes are kept byte for byte; everything is recorded at commit, in
one transaction, with the names.

A layer is kept once per diff_id, in the first form a committed ingest recorded: when two writers bring the same
layer in two compressions at once, the second commit keeps the first's blob and its own copy is removed. A failed
or interrupted ingest removes the blobs it wrote that nothing records, so the store is left as it was.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, BinaryIO

from dockyard.errors import InvalidManifest, SizeMismatch
from dockyard.image.base import Image
from dockyard.image.transfer import BlobEvent, BlobEvents, RawManifest, put_image
from dockyard.image.validate import check_manifest_config
from dockyard.layers.limits import Limits
from dockyard.oci import mediatype
from dockyard.oci import reference as refs
from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.index import Index, parse_any
from dockyard.oci.manifest import Manifest
from dockyard.oci.platform import Platform
from dockyard.store.gc import clean_temp_if_alone
from dockyard.store.lock import file_lock
from dockyard.store.metadata import IndexRecord, LayerRow, NewImage

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from dockyard.store.core import StoreCore

#: A config blob larger than this is refused (Docker's limit for image configs is 8 MiB).
MAX_CONFIG_SIZE = 8 << 20


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class LayerProgress:
    """One progress event of an ingest: a layer that already existed, or was copied in."""

    diff_id: Digest
    digest: Digest
    status: str  # "Already exists" | "Loaded"


@dataclass(frozen=True, slots=True)
class IngestResult:
    image_id: Digest
    tagged: tuple[refs.Reference, ...]
    moved: tuple[tuple[refs.Reference, str], ...] = ()  # (tag, ID of the image that lost it to this one)
    manifest_digest: Digest | None = None  # what the names point at: the index, or the image's manifest


def index_record(index: Index) -> IndexRecord:
    children = tuple(
        (str(d.digest), d.media_type, str(d.platform.normalized()) if d.platform is not None else "")
        for d in index.manifests
    )
    return IndexRecord(str(index.digest), index.media_type, children)


class StoreDestination:
    """The store as a :class:`~dockyard.image.transfer.BlobSink`: use it as a context manager, put the image(s),
    then :meth:`commit`. Leaving the context without a commit takes back what was written."""

    needs_all_blobs = True  # foreign layers too: the store unpacks what it keeps

    def __init__(
        self,
        store: StoreCore,
        names: Iterable[refs.Reference] = (),
        *,
        repo_digests: Iterable[refs.Reference] = (),
        limits: Limits | None = None,
    ) -> None:
        self.store = store
        self.names = [n.with_default_tag() for n in names]
        for name in self.names:
            refs.check_taggable(name)
        self.repo_digests = list(repo_digests)
        self.limits = limits
        self._lock = threading.Lock()
        self._written: list[Digest] = []  # blobs this ingest put (appended from worker threads)
        self._layers: list[LayerRow] = []
        self._images: list[tuple[Manifest, ImageConfig]] = []
        self._index: Index | None = None
        self._gc_lock: AbstractContextManager[None] | None = None
        self._committed = False
        self._superseded: list[Digest] = []  # our copies of layers another writer recorded first

    def __enter__(self) -> StoreDestination:
        clean_temp_if_alone(self.store)
        self._gc_lock = file_lock(self.store.paths.gc_lock, exclusive=False)
        self._gc_lock.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._gc_lock is not None:
            self._gc_lock.__exit__(None, None, None)
            self._gc_lock = None
        self._take_back(self._superseded if self._committed else self._written)

    def close(self) -> None:
        """Nothing to do: leaving the context takes back an uncommitted ingest."""

    # --- BlobSink -----------------------------------------------------------------------------------------

    def reuse_blob(self, desc: Descriptor, diff_id: Digest | None) -> str | None:
        if diff_id is not None:
            known = self.store.meta.layer(str(diff_id))
            if known is not None and self.store.blobs.exists(Digest.parse(known.blob_digest)):
                return "Already exists"
            return None
        return "Already exists" if self.store.blobs.exists(desc.digest) else None

    def put_blob(self, desc: Descriptor, stream: BinaryIO, diff_id: Digest | None) -> None:
        if diff_id is None:
            data = stream.read(MAX_CONFIG_SIZE + 1)
            if len(data) != desc.size:
                raise SizeMismatch(desc.size, len(data), f"blob {desc.digest}")
            digest = self.store.blobs.put_bytes(data, desc.digest)
            with self._lock:
                self._written.append(digest)
            return
        digests = self.store.blobs.put_layer(stream, desc.digest, diff_id, desc.size, self.limits)
        row = LayerRow(
            str(diff_id),
            str(desc.digest),
            desc.media_type,
            digests.size,
            digests.uncompressed_size,
            digests.content_size,
        )
        with self._lock:
            self._written.append(desc.digest)
            self._layers.append(row)

    def put_manifest(self, raw: RawManifest, *, reference: str | None = None) -> Digest:
        parsed = parse_any(raw.data, raw.media_type)
        if isinstance(parsed, Index):
            self.keep_index(raw)
        elif parsed.config.media_type not in mediatype.CONFIG_TYPES or mediatype.only_artifact_layers(
            [layer.media_type for layer in parsed.layers]
        ):
            return raw.digest  # an artifact of an index (attestation, signature): not an image the store keeps
        else:
            config = ImageConfig.parse(self.store.blobs.read(parsed.config.digest))
            check_manifest_config(parsed, config)
            self._images.append((parsed, config))
        digest = self.store.blobs.put_bytes(raw.data)
        with self._lock:
            self._written.append(digest)
        return digest

    def keep_index(self, raw: RawManifest) -> None:
        """The index the image(s) came from, kept and named even when only some of its platforms are copied."""
        index = Index.parse(raw.data, raw.media_type)
        if index.raw != raw.data:
            raise InvalidManifest("index bytes changed while parsing")
        self._index = index
        digest = self.store.blobs.put_bytes(raw.data)
        with self._lock:
            self._written.append(digest)

    # --- commit -------------------------------------------------------------------------------------------

    def commit(self) -> IngestResult:
        """Record the layers, images, index and names in one transaction."""
        if not self._images:
            raise InvalidManifest("nothing to record: no image manifest was copied")
        added = _now()
        _shown, moved = self.store.meta.record(
            [_new_image(m, c, added) for m, c in self._images],
            layers=list(self._layers),
            tags=[(n.repository, n.tag or "latest") for n in self.names],
            repo_digests=[(d.repository, str(d.digest)) for d in self.repo_digests if d.digest is not None],
            index=index_record(self._index) if self._index is not None else None,
            preferred=[str(p) for p in Platform.host().fallbacks()],
            added=added,
        )
        self._committed = True
        # a layer another writer recorded first keeps that writer's blob: ours goes if nothing else names it
        ours = {r.blob_digest for r in self._layers}
        kept = {row.blob_digest for row in (self.store.meta.layer(r.diff_id) for r in self._layers) if row}
        self._superseded = [Digest.parse(b) for b in sorted(ours - kept)]
        target = self._index.digest if self._index is not None else self._images[-1][0].digest
        return IngestResult(
            self._images[-1][1].digest,
            tuple(self.names),
            tuple((refs.parse(f"{repo}:{tag}"), old) for repo, tag, old in moved),
            target,
        )

    def _take_back(self, blobs: list[Digest]) -> None:
        """Remove the blobs this ingest wrote that nothing records (waits for other writers: exclusive gc lock)."""
        if not blobs:
            return
        with file_lock(self.store.paths.gc_lock, exclusive=True):
            used = self.store.meta.referenced_blobs()
            recorded = {r.blob_digest for r in self.store.meta.layers()}
            for blob in blobs:
                if str(blob) not in used and str(blob) not in recorded:
                    self.store.blobs.delete(blob)


def _new_image(manifest: Manifest, config: ImageConfig, added: str) -> NewImage:
    return NewImage(
        str(config.digest),
        str(manifest.digest),
        manifest.media_type,
        config.created,
        config.architecture,
        config.os,
        config.variant or "",
        tuple(str(d) for d in config.diff_ids),
        added,
    )


def layer_events(on_layer: Callable[[LayerProgress], None] | None) -> BlobEvents:
    """An ingest's blob events as ``load``'s layer lines: ``Already exists`` or ``Loaded``, layers only."""

    def on_event(event: BlobEvent) -> None:
        if on_layer is None or event.diff_id is None:
            return
        if event.status == "reused":
            on_layer(LayerProgress(event.diff_id, event.digest, "Already exists"))
        elif event.status == "copied":
            on_layer(LayerProgress(event.diff_id, event.digest, "Loaded"))

    return on_event


def ingest(
    store: StoreCore,
    image: Image,
    names: Iterable[refs.Reference] = (),
    *,
    repo_digests: Iterable[refs.Reference] = (),
    index: Index | None = None,
    limits: Limits | None = None,
    on_layer: Callable[[LayerProgress], None] | None = None,
    max_concurrent: int = 1,
) -> IngestResult:
    """Copy an image in (verifying every digest and diff_id), then record it and its names atomically.

    Up to ``max_concurrent`` layers are copied at once. If anything fails, the blobs this call added and nothing
    records are removed again, so a failed pull or load leaves the store as it was.
    """
    check_manifest_config(image.manifest(), image.config())
    on_event = layer_events(on_layer)
    dest = StoreDestination(store, names, repo_digests=repo_digests, limits=limits)
    with dest:
        put_image(dest, image, max_concurrent=max_concurrent, on_event=on_event)
        if index is not None:
            dest.keep_index(RawManifest(index.raw, index.media_type))
        return dest.commit()
