"""``system check`` and ``system df``: what the store holds, what is shared, and whether anything is damaged."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.errors import BlobNotFound, DockyardError
from dockyard.image.validate import check_manifest_config
from dockyard.layers.digesting import copy_and_digest
from dockyard.oci.digest import Digest
from dockyard.store.image import StoreImage
from dockyard.store.lock import file_lock
from dockyard.store.metadata import BUILD_CACHE

if TYPE_CHECKING:
    from dockyard.store.core import ImageSummary, StoreCore


@dataclass(frozen=True, slots=True)
class CheckReport:
    problems: list[str]
    unreferenced_blobs: list[Digest]
    temp_files: list[Path]
    blobs_checked: int

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class ImageUsage:
    """One image in ``system df -v``: Docker's SIZE, SHARED SIZE (its layers other images use too) and the
    number of containers using it. Sizes are Docker's SIZE unit: the bytes of the files the layers unpack to."""

    summary: ImageSummary
    shared_size: int
    containers: int

    @property
    def size(self) -> int:
        return self.summary.size

    @property
    def unique_size(self) -> int:
        return self.size - self.shared_size


@dataclass(frozen=True, slots=True)
class CacheStepUsage:
    """One build-cache step in ``system df -v``: the bytes of the layer it keeps (SIZE's unit), whether an image
    holds that layer too (``shared``: pruning the step frees nothing), its times and how many builds used it."""

    key: str
    description: str
    size: int
    shared: bool
    created: str
    last_used: str
    usage_count: int


@dataclass(frozen=True, slots=True)
class DiskUsage:
    """``system df``. ``size`` counts each layer once in the unit of ``images``' SIZE (for one image they are
    equal); ``reclaimable`` is the part of it no image in use by a container holds. ``blob_bytes`` and
    ``reclaimable_bytes`` are the same on disk: every blob (compressed layers, configs, manifests)."""

    images: int
    active: int
    size: int
    reclaimable: int
    blob_bytes: int
    reclaimable_bytes: int
    containers: int
    per_image: tuple[ImageUsage, ...]
    cache_steps: int = 0  # build cache: steps recorded
    cache_size: int = 0  # the layers they keep, each once (SIZE's unit)
    cache_reclaimable: int = 0  # of which no image uses (what `builder prune` frees)
    cache_entries: tuple[CacheStepUsage, ...] = ()


def disk_usage(store: StoreCore) -> DiskUsage:
    summaries = store.summaries()
    layer_sizes: dict[str, int] = {}
    image_layers: dict[str, set[str]] = {}
    for s in summaries:
        diff_ids = set(store.meta.image_diff_ids(str(s.id)))
        image_layers[str(s.id)] = diff_ids
        for diff_id in diff_ids - layer_sizes.keys():
            row = store.meta.layer(diff_id)
            layer_sizes[diff_id] = row.content_size if row is not None else 0
    users: dict[str, int] = {}
    for diff_ids in image_layers.values():
        for diff_id in diff_ids:
            users[diff_id] = users.get(diff_id, 0) + 1
    active_ids = {str(s.id) for s in summaries if s.containers}
    held = set().union(*(image_layers[i] for i in active_ids)) if active_ids else set()
    per_image = tuple(
        ImageUsage(s, sum(layer_sizes[d] for d in image_layers[str(s.id)] if users[d] > 1), s.containers)
        for s in summaries
    )
    used_blobs = store.meta.referenced_blobs()
    blob_sizes: dict[str, int] = {}
    for d in store.blobs.all():
        try:
            blob_sizes[str(d)] = store.blobs.size(d)
        except BlobNotFound:
            continue
    held_blobs = {b for b, who in used_blobs.items() if who & active_ids}
    steps = store.meta.cache_steps()
    in_images = set().union(*image_layers.values()) if image_layers else set()
    cache_layers: dict[str, int] = {}
    for step in steps:
        if step.diff_id is not None and step.diff_id not in cache_layers:
            row = store.meta.layer(step.diff_id)
            cache_layers[step.diff_id] = row.content_size if row is not None else 0
    return DiskUsage(
        images=len(summaries),
        active=len(active_ids),
        size=sum(layer_sizes.values()),
        reclaimable=sum(size for d, size in layer_sizes.items() if d not in held),
        blob_bytes=sum(blob_sizes.values()),
        reclaimable_bytes=sum(size for b, size in blob_sizes.items() if b not in held_blobs),
        containers=len(store.meta.containers()),
        per_image=per_image,
        cache_steps=len(steps),
        cache_size=sum(cache_layers.values()),
        cache_reclaimable=sum(size for d, size in cache_layers.items() if d not in in_images),
        cache_entries=tuple(
            CacheStepUsage(
                step.key,
                step.description or step.created_by,
                cache_layers.get(step.diff_id, 0) if step.diff_id is not None else 0,
                step.diff_id in in_images,
                step.created,
                step.last_used,
                step.usage_count,
            )
            for step in steps
        ),
    )


def check(store: StoreCore, *, rehash: bool = True) -> CheckReport:
    """Re-hash every blob and cross-check the metadata; safe while other processes load and remove images.

    It holds the shared gc lock (loads go on, blob deletion waits) and reads which blobs are referenced before it
    lists the blobs present, so a blob that a concurrent load is writing is at worst reported unreferenced.
    """
    with file_lock(store.paths.gc_lock, exclusive=False):
        return _check(store, rehash=rehash)


def _check_blob(store: StoreCore, d: Digest, diff_id: str | None) -> str | None:
    """What is wrong with blob ``d``, if anything. A layer's blob is read as ``unpack`` reads it (decompressed,
    walked by the one tar reader) and its diff_id checked too, so that check and unpack cannot disagree."""
    if diff_id is None:
        actual = store.blobs.verify(d)
        return None if actual == d else f"blob {d} is corrupt: its bytes hash to {actual}"
    try:
        with store.blobs.open(d) as f:
            digests = copy_and_digest(f, None, algorithm=d.algorithm, diff_id_algorithm=Digest.parse(diff_id).algorithm)
    except DockyardError as exc:  # not valid compressed data: corrupt, unless its bytes still hash right
        actual = store.blobs.verify(d)
        return f"blob {d} is corrupt: its bytes hash to {actual}" if actual != d else f"layer {diff_id}: {exc}"
    if digests.digest != d:
        return f"blob {d} is corrupt: its bytes hash to {digests.digest}"
    if str(digests.diff_id) != diff_id:
        return f"layer {diff_id}: its blob {d} decompresses to {digests.diff_id}"
    if digests.tar_error is not None:
        return f"layer {diff_id} would not unpack: {digests.tar_error}"
    return None


def _check(store: StoreCore, *, rehash: bool) -> CheckReport:
    problems: list[str] = []
    damage = store.meta.integrity_problem()
    if damage is not None:
        problems.append(f"metadata database: {damage}")
    used = store.meta.referenced_blobs()
    present = set(map(str, store.blobs.all()))
    checked = 0
    if rehash:
        layer_blobs = {row.blob_digest: row.diff_id for row in store.meta.layers()}
        for digest in sorted(present):
            d = Digest.parse(digest)
            try:
                problem = _check_blob(store, d, layer_blobs.get(digest))
            except BlobNotFound:
                present.discard(digest)
                continue
            checked += 1
            if problem:
                problems.append(problem)
    for blob, users in sorted(used.items()):
        if blob not in present:
            who = ", ".join(sorted("the build cache" if u == BUILD_CACHE else f"image {u[7:19]}" for u in users))
            problems.append(f"blob {blob} is missing (used by {who})")
    for row in store.meta.images():
        try:
            image = StoreImage(store, row)
            manifest = image.original_manifest()
            config = image.config()
            check_manifest_config(manifest, config)
            wanted = [str(d) for d in config.diff_ids]
            if store.meta.image_diff_ids(row.id) != wanted:
                problems.append(f"image {row.id[7:19]}: layer list does not match its config")
            for diff_id in wanted:
                if store.meta.layer(diff_id) is None:
                    problems.append(f"image {row.id[7:19]}: layer {diff_id} is not recorded")
        except BlobNotFound:
            continue  # already reported as missing
        except DockyardError as exc:
            problems.append(f"image {row.id[7:19]}: {exc}")
    for table, dangling in store.meta.rows_without_image().items():
        problems.append(f"{dangling} {table} rows point to images that do not exist")
    unreferenced = sorted(Digest.parse(b) for b in present if b not in used)
    temps = sorted(store.paths.tmp.iterdir()) if store.paths.tmp.exists() else []
    return CheckReport(problems, unreferenced, temps, checked)
