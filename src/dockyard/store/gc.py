"""Garbage collection by reachability: blobs no image reaches, layer records no image uses, dead writers' temp files."""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

from dockyard.store.lock import file_lock, try_exclusive

if TYPE_CHECKING:
    from dockyard.store.store import Store


def clean_temp_if_alone(store: Store) -> None:
    """Remove temp files of killed writers, when no other process is writing (no lock holder)."""
    fd = try_exclusive(store.paths.gc_lock)
    if fd is None:
        return
    try:
        clean_temp(store)
    finally:
        os.close(fd)


def clean_temp(store: Store) -> None:
    for tmp in store.paths.tmp.iterdir():
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def collect_garbage(store: Store) -> int:
    """Delete blobs no image reaches and stale temp files. Caller holds the exclusive gc lock."""
    with store.meta.write() as db:
        db.execute("DELETE FROM layers WHERE diff_id NOT IN (SELECT diff_id FROM image_layers)")
        store.meta.forget_unheld_indexes(db)
    used = store.meta.referenced_blobs()
    freed = 0
    for digest in list(store.blobs.all()):
        if str(digest) not in used:
            try:
                freed += store.blobs.path(digest).stat().st_size
            except FileNotFoundError:
                continue
            store.blobs.delete(digest)
    clean_temp(store)
    return freed


def gc(store: Store) -> int:
    """Delete every blob no image reaches; returns the bytes freed."""
    with file_lock(store.paths.gc_lock, exclusive=True):
        return collect_garbage(store)
