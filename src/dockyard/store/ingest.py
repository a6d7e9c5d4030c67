"""Ingest: copy an image into the store, verifying every digest and diff_id, then record it atomically."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, BinaryIO, cast

from dockyard.image.base import Image, Layer
from dockyard.image.validate import check_manifest_config
from dockyard.layers.limits import Limits
from dockyard.oci import reference as refs
from dockyard.oci.config import ImageConfig
from dockyard.oci.digest import Digest
from dockyard.oci.index import Index
from dockyard.oci.manifest import Manifest
from dockyard.oci.platform import Platform
from dockyard.store.gc import clean_temp_if_alone
from dockyard.store.lock import file_lock
from dockyard.store.metadata import IndexRecord, NewImage

if TYPE_CHECKING:
    from dockyard.layers.digesting import LayerDigests
    from dockyard.store.store import Store


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


def ingest(
    store: Store,
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

    Up to ``max_concurrent`` layers are copied at once (each on its own thread: reading, inflating and
    hashing release the GIL). If anything fails, the layers this call added and no image uses are removed
    again, so a failed pull or load leaves the store as it was.
    """
    names = list(names)
    for name in names:
        refs.check_taggable(name)
    manifest = image.manifest()
    config = image.config()
    check_manifest_config(manifest, config)
    layers = list(image.layers())
    clean_temp_if_alone(store)
    added: list[str] = []  # diff_ids this call recorded
    written: list[Digest] = []  # layer blobs this call copied in (appended from worker threads)
    try:
        with file_lock(store.paths.gc_lock, exclusive=False):
            todo: dict[str, tuple[Layer, Digest]] = {}
            for layer, diff_id in zip(layers, config.diff_ids, strict=True):
                known = store.meta.layer(str(diff_id))
                if known is not None and store.blobs.exists(Digest.parse(known.blob_digest)):
                    if on_layer:
                        on_layer(LayerProgress(diff_id, layer.descriptor().digest, "Already exists"))
                    continue
                todo.setdefault(str(diff_id), (layer, diff_id))  # the same layer twice in one image: once
            copies = _copy_layers(store, list(todo.values()), limits, max_concurrent, written)
            with contextlib.closing(copies):  # on an error below, the downloads under way stop at once
                for layer, diff_id, digests in copies:
                    _record_layer(store, layer, diff_id, digests)
                    added.append(str(diff_id))
                    if on_layer:
                        on_layer(LayerProgress(diff_id, layer.descriptor().digest, "Loaded"))
            written.append(store.blobs.put_bytes(config.raw, manifest.config.digest))
            written.append(store.blobs.put_bytes(manifest.raw))
            if index is not None:
                written.append(store.blobs.put_bytes(index.raw))
            return _record(store, manifest, config, names, list(repo_digests), index)
    except BaseException:
        if added or written:
            _forget_unused_layers(store, added, written)
        raise


def _record_layer(store: Store, layer: Layer, diff_id: Digest, digests: LayerDigests) -> None:
    desc = layer.descriptor()
    store.meta.record_layer(
        str(diff_id), str(desc.digest), desc.media_type, digests.size, digests.uncompressed_size, digests.content_size
    )


def _copy_layers(
    store: Store,
    todo: list[tuple[Layer, Digest]],
    limits: Limits | None,
    max_concurrent: int,
    written: list[Digest],
) -> Generator[tuple[Layer, Digest, LayerDigests], None, None]:
    """Copy layer blobs into the store, verified; yields each as it completes (in the calling thread)."""

    stop = threading.Event()  # set when the ingest fails or is interrupted: the other downloads stop too

    def copy(layer: Layer, diff_id: Digest) -> LayerDigests:
        desc = layer.descriptor()
        with layer.open() as src:
            stoppable = cast(BinaryIO, _Stoppable(src, stop))
            digests = store.blobs.put_layer(stoppable, desc.digest, diff_id, desc.size, limits)
        written.append(desc.digest)
        return digests

    if max_concurrent <= 1 or len(todo) <= 1:
        for layer, diff_id in todo:
            yield layer, diff_id, copy(layer, diff_id)
        return
    pool = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="dockyard-layer")
    futures: dict[Future[LayerDigests], tuple[Layer, Digest]] = {}
    try:
        futures = {pool.submit(copy, layer, diff_id): (layer, diff_id) for layer, diff_id in todo}
        for future in as_completed(futures):
            layer, diff_id = futures[future]
            yield layer, diff_id, future.result()
    finally:
        stop.set()  # a no-op once every copy has finished; else the ones under way end at their next read
        pool.shutdown(wait=True, cancel_futures=True)


class _Stopped(Exception):
    """A layer copy given up because another one failed (never seen outside: the first error is raised)."""


class _Stoppable:
    """A layer stream that ends its copy at the next read once ``stop`` is set."""

    def __init__(self, raw: BinaryIO, stop: threading.Event) -> None:
        self._raw = raw
        self._stop = stop

    def read(self, size: int = -1) -> bytes:
        if self._stop.is_set():
            raise _Stopped("stopped: another layer failed")
        return self._raw.read(size)


def _forget_unused_layers(store: Store, diff_ids: list[str], blobs: list[Digest]) -> None:
    """Undo a failed ingest: drop the layers it added and the blobs it copied in that no image uses."""
    with file_lock(store.paths.gc_lock, exclusive=True), store.meta.write() as db:
        for diff_id in diff_ids:
            db.execute(
                "DELETE FROM layers WHERE diff_id = ? AND diff_id NOT IN (SELECT diff_id FROM image_layers)",
                (diff_id,),
            )
        used = store.meta.referenced_blobs()
        recorded = {r[0] for r in db.execute("SELECT blob_digest FROM layers")}
        for blob in blobs:
            if str(blob) not in used and str(blob) not in recorded:
                store.blobs.delete(blob)


def _record(
    store: Store,
    manifest: Manifest,
    config: ImageConfig,
    names: list[refs.Reference],
    digests: list[refs.Reference],
    index: Index | None,
) -> IngestResult:
    image_id = str(config.digest)
    tags = [(r.repository, r.tag) for r in (n.with_default_tag() for n in names) if r.tag is not None]
    record = None
    if index is not None:
        children = tuple(
            (str(d.digest), d.media_type, str(d.platform.normalized()) if d.platform is not None else "")
            for d in index.manifests
        )
        record = IndexRecord(str(index.digest), index.media_type, children)
    moved = store.meta.record_image(
        NewImage(
            image_id,
            str(manifest.digest),
            manifest.media_type,
            config.created,
            config.architecture,
            config.os,
            config.variant or "",
            tuple(str(d) for d in config.diff_ids),
        ),
        tags=tags,
        repo_digests=[(d.repository, str(d.digest)) for d in digests if d.digest is not None],
        index=record,
        preferred=[str(p) for p in Platform.host().fallbacks()],
        added=_now(),
    )
    return IngestResult(
        Digest.parse(image_id),
        tuple(n.with_default_tag() for n in names),
        tuple((refs.parse(f"{repo}:{tag}"), old) for repo, tag, old in moved),
    )
