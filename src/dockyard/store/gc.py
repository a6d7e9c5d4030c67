"""Garbage collection by reachability: blobs no image reaches, layer records no image uses, dead writers' temp files,
and resumable uploads abandoned for a week (Distribution's upload purger default)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.errors import BlobNotFound
from dockyard.store.lock import file_lock, try_exclusive
from dockyard.store.storage import PurgesUploads

if TYPE_CHECKING:
    from dockyard.store.core import StoreCore

#: Uploads untouched for this long (seconds) that no live writer holds are removed by a collection.
UPLOAD_MAX_AGE = 7 * 24 * 3600


def clean_temp_if_alone(store: StoreCore) -> int:
    """Remove temp files of killed writers, when no other process is writing (no lock holder); returns bytes freed."""
    fd = try_exclusive(store.paths.gc_lock)
    if fd is None:
        return 0
    try:
        return clean_temp(store)
    finally:
        os.close(fd)


def clean_temp(store: StoreCore) -> int:
    """Empty ``tmp/``. Caller holds the gc lock exclusively (so every file there is a dead writer's); returns bytes."""
    freed = 0
    if not store.paths.tmp.is_dir():
        return 0
    for tmp in store.paths.tmp.iterdir():
        freed += _size_of(tmp)
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
    return freed


def _size_of(path: Path) -> int:
    try:
        if not path.is_dir() or path.is_symlink():
            return path.lstat().st_size
        return sum(p.lstat().st_size for p in path.rglob("*") if not p.is_dir() or p.is_symlink())
    except OSError:
        return 0


def collect_garbage(store: StoreCore) -> int:
    """Delete blobs no image reaches, stale temp files and abandoned uploads; returns the bytes freed.

    Caller holds the exclusive gc lock."""
    with store.meta.write() as db:
        store.meta.forget_unused_layers()
        store.meta.forget_unheld_indexes(db)
        store.meta.drop_layer_forms(db, all_forms=False)
    used = store.meta.referenced_blobs()
    freed = 0
    for digest in list(store.blobs.list()):
        if str(digest) not in used:
            try:
                size = store.blobs.stat(digest).size
            except BlobNotFound:
                continue
            if store.blobs.delete(digest):
                freed += size
    freed += clean_temp(store)
    if isinstance(store.blobs, PurgesUploads):
        freed += store.blobs.purge_uploads(UPLOAD_MAX_AGE)
    return freed


def gc(store: StoreCore) -> int:
    """Delete every blob no image reaches; returns the bytes freed."""
    with file_lock(store.paths.gc_lock, exclusive=True):
        return collect_garbage(store)
