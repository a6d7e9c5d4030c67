"""Every BlobStorage implementation against the one conformance suite, plus what only the local store promises."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from suites.blob_storage import BlobStorageSuite, StorageCase, sha256

from dockyard.errors import DigestMismatch
from dockyard.oci.digest import Digest
from dockyard.store.blobs import BlobStore
from dockyard.store.memory import MemoryBlobStorage
from dockyard.store.paths import StorePaths
from dockyard.store.storage import BlobStorage, LocalPaths, PurgesUploads, put_bytes, read_bytes
from dockyard.store.store import Store


def _local_case(tmp_path: Path) -> StorageCase:
    root, other = tmp_path / "store", tmp_path / "other-store"
    return StorageCase(
        "local",
        open=lambda: BlobStore(StorePaths(root)),
        other=lambda: BlobStore(StorePaths(other)),
    )


def _memory_case() -> StorageCase:
    shared = MemoryBlobStorage()
    return StorageCase("memory", open=shared.handle, other=MemoryBlobStorage, bounded_memory=False)


@pytest.fixture(params=["local", "memory"])
def storage_case(request: pytest.FixtureRequest, tmp_path: Path) -> StorageCase:
    """One parameter per implementation: a new driver joins the suite here."""
    if request.param == "local":
        return _local_case(tmp_path)
    return _memory_case()


class TestBlobStorage(BlobStorageSuite):
    pass


# --- the local store only ---------------------------------------------------------------------------------------


def test_local_store_capabilities() -> None:
    store = BlobStore(StorePaths(Path("/nonexistent")))
    assert isinstance(store, LocalPaths)
    assert isinstance(store, PurgesUploads)
    assert not isinstance(MemoryBlobStorage(), LocalPaths)


def test_layout_on_disk_is_unchanged(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as store:
        d256 = put_bytes(store.blobs, b"layout")
        d512 = put_bytes(store.blobs, b"layout", Digest.of(b"layout", "sha512"))
        assert (store.paths.root / "blobs" / "sha256" / d256.hex).read_bytes() == b"layout"
        assert (store.paths.root / "blobs" / "sha512" / d512.hex).read_bytes() == b"layout"
        # the historical method names keep working
        assert store.blobs.exists(d256) and store.blobs.read(d256) == b"layout" and store.blobs.size(d256) == 6
        assert sorted(store.blobs.all()) == sorted([d256, d512])
        assert store.blobs.verify(d512) == d512
        assert store.blobs.path(d256) == store.paths.blob(d256)


def test_failed_put_leaves_no_temp_file(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as store:
        with pytest.raises(DigestMismatch):
            store.blobs.put(io.BytesIO(b"abc"), sha256(b"abd"))
        assert list(store.paths.tmp.iterdir()) == []
        w = store.blobs.writer()
        w.write(b"abc")
        with pytest.raises(DigestMismatch):
            w.commit(sha256(b"abd"))
        w.cancel()
        assert list(store.paths.uploads.iterdir()) == []
        assert list(store.blobs.list()) == []


def test_move_between_local_stores_is_a_rename(tmp_path: Path) -> None:
    a, b = BlobStore(StorePaths(tmp_path / "a")), BlobStore(StorePaths(tmp_path / "b"))
    digest = put_bytes(a, os.urandom(1000))
    inode = a.path(digest).stat().st_ino
    a.move(digest, b)
    assert b.path(digest).stat().st_ino == inode
    assert not a.path(digest).exists()


_DIE_MID_UPLOAD = """
import os, sys
from pathlib import Path
from dockyard.store.blobs import BlobStore
from dockyard.store.paths import StorePaths
w = BlobStore(StorePaths(Path(sys.argv[1]))).writer()
w.write(b"first half, ")
print(w.id, flush=True)
os.kill(os.getpid(), 9)  # gone without closing anything
"""


def test_upload_resumed_after_the_writing_process_was_killed(tmp_path: Path) -> None:
    root = tmp_path / "store"
    proc = subprocess.run([sys.executable, "-c", _DIE_MID_UPLOAD, str(root)], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    upload_id = proc.stdout.strip()
    storage: BlobStorage = BlobStore(StorePaths(root))
    w = storage.writer(resume=upload_id)  # the dead process's lock went with it
    assert w.size() == len(b"first half, ")
    w.write(b"second half")
    w.commit(sha256(b"first half, second half"))
    assert read_bytes(storage, sha256(b"first half, second half")) == b"first half, second half"


def test_purge_uploads_removes_only_old_unheld_ones(tmp_path: Path) -> None:
    store = BlobStore(StorePaths(tmp_path / "s"))
    old, held, fresh = store.writer(), store.writer(), store.writer()
    for w in (old, held, fresh):
        w.write(b"x" * 100)
    old.close()
    fresh.close()
    week_ago = time.time() - 8 * 86400
    for w in (old, held):
        os.utime(store.paths.uploads / w.id, (week_ago, week_ago))
    assert store.purge_uploads(7 * 86400) == 100
    assert sorted(p.name for p in store.paths.uploads.iterdir()) == sorted([held.id, fresh.id])
    held.cancel()


def test_prune_counts_dead_writers_temp_files_and_abandoned_uploads(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as store:
        (store.paths.tmp / "ingest-dead").write_bytes(b"x" * 500)  # what a SIGKILLed load leaves
        old = store.blobs.writer()
        old.write(b"y" * 1000)
        old.close()
        week_ago = time.time() - 8 * 86400
        os.utime(store.paths.uploads / old.id, (week_ago, week_ago))
        recent = store.blobs.writer()
        recent.write(b"z" * 10)
        recent.close()
        records, reclaimed = store.prune()
        assert (records, reclaimed) == ([], 1500)
        assert list(store.paths.tmp.iterdir()) == []
        assert [p.name for p in store.paths.uploads.iterdir()] == [recent.id]
