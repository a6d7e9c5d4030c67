"""The conformance suite of :class:`dockyard.store.storage.BlobStorage` (Distribution's ``testsuites`` in spirit).

Every implementation runs all of it: subclass :class:`BlobStorageSuite` in a test module and provide a
``storage_case`` fixture (see ``tests/unit/store/test_blob_storage.py``). A new driver (the registry server's
filesystem driver, S3 on SeaweedFS) joins by adding one parameter to that fixture.
"""

from __future__ import annotations

import gc
import hashlib
import io
import os
import threading
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from dockyard.errors import BlobNotFound, DigestMismatch, SizeMismatch
from dockyard.oci.digest import Digest
from dockyard.store.memory import MemoryBlobStorage
from dockyard.store.storage import (
    CHUNK,
    BlobStorage,
    InvalidOffset,
    UploadInUse,
    UploadNotFound,
    exists,
    put_bytes,
    read_bytes,
)


@dataclass(frozen=True)
class StorageCase:
    """One implementation under test.

    ``open`` gives a new handle on the same backing storage (what a second process would open); ``other`` a
    handle on a separate, empty one of the same kind (a move target). ``bounded_memory`` is false for storages
    that keep blobs in memory by design: the suite then skips its memory-peak checks (not its streaming checks).
    """

    name: str
    open: Callable[[], BlobStorage]
    other: Callable[[], BlobStorage]
    bounded_memory: bool = True


def sha256(data: bytes) -> Digest:
    return Digest.of(data)


def sha512(data: bytes) -> Digest:
    return Digest.of(data, "sha512")


class PatternStream(io.RawIOBase):
    """``size`` bytes of a repeated random block, produced on demand; records the largest read asked for."""

    def __init__(self, block: bytes, size: int) -> None:
        self._block = block
        self._left = size
        self._pos = 0
        self.largest_read = 0
        self.read_all = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            self.read_all = True
            size = self._left
        self.largest_read = max(self.largest_read, size)
        n = min(size, self._left)
        out = bytearray()
        while len(out) < n:
            start = self._pos % len(self._block)
            piece = self._block[start : start + (n - len(out))]
            out += piece
            self._pos += len(piece)
        self._left -= n
        return bytes(out)

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def pattern_digest(block: bytes, size: int, algorithm: str = "sha256") -> Digest:
    h = hashlib.new(algorithm)
    stream = PatternStream(block, size)
    while chunk := stream.read(CHUNK):
        h.update(chunk)
    return Digest(algorithm, h.hexdigest())


class BlobStorageSuite:
    """Mixed into a test class that provides a ``storage_case`` fixture."""

    @pytest.fixture
    def storage(self, storage_case: StorageCase) -> BlobStorage:
        return storage_case.open()

    # --- put / open / stat ------------------------------------------------------------------------------------

    def test_put_and_read_back(self, storage: BlobStorage) -> None:
        data = os.urandom(3 * CHUNK + 17)
        info = storage.put(io.BytesIO(data), sha256(data), len(data))
        assert (info.digest, info.size) == (sha256(data), len(data))
        assert storage.stat(sha256(data)).size == len(data)
        with storage.open(sha256(data)) as f:
            assert f.read() == data
        assert list(storage.list()) == [sha256(data)]
        assert exists(storage, sha256(data))

    def test_put_of_present_blob_is_a_no_op(self, storage: BlobStorage) -> None:
        data = b"same bytes"
        put_bytes(storage, data)
        put_bytes(storage, data)
        assert list(storage.list()) == [sha256(data)]
        assert read_bytes(storage, sha256(data)) == data

    def test_empty_blob(self, storage: BlobStorage) -> None:
        storage.put(io.BytesIO(b""), sha256(b""), 0)
        assert storage.stat(sha256(b"")).size == 0
        assert read_bytes(storage, sha256(b"")) == b""

    def test_digest_mismatch_is_refused_and_nothing_is_visible(self, storage: BlobStorage) -> None:
        data = os.urandom(100_000)
        wrong = sha256(b"something else")
        with pytest.raises(DigestMismatch):
            storage.put(io.BytesIO(data), wrong)
        for d in (wrong, sha256(data)):
            with pytest.raises(BlobNotFound):
                storage.stat(d)
            with pytest.raises(BlobNotFound):
                storage.open(d)
        assert list(storage.list()) == []

    def test_size_mismatch_is_refused_and_nothing_is_visible(self, storage: BlobStorage) -> None:
        data = b"twelve bytes"
        with pytest.raises(SizeMismatch):
            storage.put(io.BytesIO(data), sha256(data), len(data) + 1)
        assert not exists(storage, sha256(data))
        assert list(storage.list()) == []

    def test_missing_blob(self, storage: BlobStorage) -> None:
        d = sha256(b"never stored")
        with pytest.raises(BlobNotFound):
            storage.stat(d)
        with pytest.raises(BlobNotFound):
            storage.open(d)
        with pytest.raises(BlobNotFound):
            storage.open(d, 1, 1)
        assert not exists(storage, d)

    # --- ranges -----------------------------------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("offset", "length", "expect"),
        [
            (0, 10, slice(0, 10)),  # start
            (1000, 2500, slice(1000, 3500)),  # middle
            (4090, 6, slice(4090, 4096)),  # exactly the end
            (4090, 100, slice(4090, 4096)),  # past the end: cut at the end
            (4096, 5, slice(4096, 4096)),  # at the end: empty
            (4096, None, slice(4096, 4096)),
            (17, None, slice(17, 4096)),  # offset only: to the end
            (0, 0, slice(0, 0)),
            (0, None, slice(0, 4096)),
        ],
    )
    def test_ranges(self, storage: BlobStorage, offset: int, length: int | None, expect: slice) -> None:
        data = os.urandom(4096)
        put_bytes(storage, data)
        with storage.open(sha256(data), offset, length) as f:
            got = f.read()
            assert f.read() == b""
        assert got == data[expect]

    def test_range_read_in_small_pieces(self, storage: BlobStorage) -> None:
        data = os.urandom(10_000)
        put_bytes(storage, data)
        with storage.open(sha256(data), 123, 4567) as f:
            pieces = []
            while piece := f.read(1000):
                pieces.append(piece)
        assert b"".join(pieces) == data[123 : 123 + 4567]

    @pytest.mark.parametrize(("offset", "length"), [(4097, None), (5000, 1), (-1, None), (0, -1)])
    def test_invalid_ranges(self, storage: BlobStorage, offset: int, length: int | None) -> None:
        data = os.urandom(4096)
        put_bytes(storage, data)
        with pytest.raises(InvalidOffset):
            storage.open(sha256(data), offset, length)

    # --- the append writer ------------------------------------------------------------------------------------

    def test_writer_in_pieces(self, storage: BlobStorage) -> None:
        pieces = [os.urandom(n) for n in (1, 4095, CHUNK + 3, 0, 77)]
        data = b"".join(pieces)
        w = storage.writer()
        total = 0
        assert w.size() == 0
        for p in pieces:
            assert w.write(p) == len(p)
            total += len(p)
            assert w.size() == total
        assert not exists(storage, sha256(data))  # nothing visible before the commit
        info = w.commit(sha256(data), len(data))
        assert (info.digest, info.size) == (sha256(data), len(data))
        assert w.size() == len(data)  # still answers once finished
        assert read_bytes(storage, sha256(data)) == data
        with pytest.raises(UploadNotFound):
            storage.writer(resume=w.id)  # a committed upload is gone

    def test_writer_reopened_by_id_from_another_handle(self, storage_case: StorageCase) -> None:
        first, second = os.urandom(300_000), os.urandom(200_000)
        w = storage_case.open().writer()
        w.write(first)
        upload_id = w.id
        w.close()
        assert w.size() == len(first)
        again = storage_case.open()  # as another process would
        w2 = again.writer(resume=upload_id)
        assert w2.id == upload_id
        assert w2.size() == len(first)
        w2.write(second)
        assert w2.size() == len(first) + len(second)
        w2.commit(sha256(first + second))
        assert read_bytes(storage_case.open(), sha256(first + second)) == first + second

    def test_writer_resumed_twice_commits_sha512(self, storage: BlobStorage) -> None:
        parts = [os.urandom(1000) for _ in range(3)]
        upload_id = None
        for part in parts:
            w = storage.writer() if upload_id is None else storage.writer(resume=upload_id)
            w.write(part)
            upload_id = w.id
            w.close()
        assert upload_id is not None
        w = storage.writer(resume=upload_id)
        data = b"".join(parts)
        w.commit(sha512(data), len(data))
        assert read_bytes(storage, sha512(data)) == data

    def test_open_upload_cannot_be_taken_over(self, storage_case: StorageCase) -> None:
        w = storage_case.open().writer()
        w.write(b"mine")
        with pytest.raises(UploadInUse):
            storage_case.open().writer(resume=w.id)
        w.close()
        w2 = storage_case.open().writer(resume=w.id)  # free again once closed
        assert w2.size() == 4
        w2.cancel()

    def test_writer_dropped_without_close_can_be_resumed(self, storage: BlobStorage) -> None:
        w = storage.writer()
        w.write(b"abandoned ")
        upload_id = w.id
        del w
        gc.collect()
        w = storage.writer(resume=upload_id)
        w.write(b"then finished")
        w.commit(sha256(b"abandoned then finished"))
        assert read_bytes(storage, sha256(b"abandoned then finished")) == b"abandoned then finished"

    def test_cancel_leaves_nothing(self, storage: BlobStorage) -> None:
        data = os.urandom(50_000)
        w = storage.writer()
        w.write(data)
        w.cancel()
        with pytest.raises(UploadNotFound):
            storage.writer(resume=w.id)
        assert not exists(storage, sha256(data))
        assert list(storage.list()) == []
        with pytest.raises(UploadNotFound):
            w.write(b"more")  # a cancelled writer is finished

    def test_commit_with_wrong_digest_is_refused(self, storage: BlobStorage) -> None:
        data = os.urandom(10_000)
        w = storage.writer()
        w.write(data)
        with pytest.raises(DigestMismatch):
            w.commit(sha256(b"other"))
        with pytest.raises(SizeMismatch):
            w.commit(sha256(data), len(data) - 1)
        assert list(storage.list()) == []
        # the upload is as it was: it can be continued and committed
        assert w.size() == len(data)
        w.write(b"!")
        w.commit(sha256(data + b"!"))
        assert read_bytes(storage, sha256(data + b"!")) == data + b"!"

    def test_commit_of_present_blob(self, storage: BlobStorage) -> None:
        data = b"already here"
        put_bytes(storage, data)
        w = storage.writer()
        w.write(data)
        w.commit(sha256(data))
        assert list(storage.list()) == [sha256(data)]
        with pytest.raises(UploadNotFound):
            storage.writer(resume=w.id)

    @pytest.mark.parametrize("bad", ["nope", "../../blobs/sha256", "", "0" * 200])
    def test_unknown_upload_id(self, storage: BlobStorage, bad: str) -> None:
        with pytest.raises(UploadNotFound):
            storage.writer(resume=bad)

    def test_uploads_are_independent(self, storage: BlobStorage) -> None:
        a, b = storage.writer(), storage.writer()
        assert a.id != b.id
        a.write(b"aaa")
        b.write(b"bb")
        assert (a.size(), b.size()) == (3, 2)
        a.commit(sha256(b"aaa"))
        b.commit(sha256(b"bb"))
        assert sorted(storage.list()) == sorted([sha256(b"aaa"), sha256(b"bb")])

    # --- concurrency, delete, list, move, sha512 --------------------------------------------------------------

    def test_concurrent_puts_of_the_same_blob(self, storage_case: StorageCase) -> None:
        data = os.urandom(4 * CHUNK + 5)
        digest = sha256(data)
        errors: list[BaseException] = []
        start = threading.Barrier(6)

        def put() -> None:
            handle = storage_case.open()
            try:
                start.wait()
                handle.put(io.BytesIO(data), digest, len(data))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=put) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        storage = storage_case.open()
        assert list(storage.list()) == [digest]
        assert read_bytes(storage, digest) == data

    def test_delete(self, storage: BlobStorage) -> None:
        data = b"to delete"
        put_bytes(storage, data)
        assert storage.delete(sha256(data)) is True
        assert not exists(storage, sha256(data))
        assert storage.delete(sha256(data)) is False  # a missing blob: nothing to do, no error
        assert storage.delete(sha512(b"never")) is False
        assert list(storage.list()) == []

    def test_list(self, storage: BlobStorage) -> None:
        expected = set()
        for i in range(5):
            data = f"blob {i}".encode()
            expected.add(put_bytes(storage, data))
            expected.add(put_bytes(storage, data, sha512(data)))
        upload = storage.writer()
        upload.write(b"an upload is not a blob")
        upload.close()
        assert sorted(storage.list()) == sorted(expected)
        assert len(expected) == 10

    def test_sha512_keys(self, storage: BlobStorage) -> None:
        data = os.urandom(70_000)
        storage.put(io.BytesIO(data), sha512(data), len(data))
        assert storage.stat(sha512(data)).size == len(data)
        assert not exists(storage, sha256(data))  # a key is algorithm and hex: no aliasing
        with storage.open(sha512(data), 69_990, 50) as f:
            assert f.read() == data[69_990:]
        with pytest.raises(DigestMismatch):
            storage.put(io.BytesIO(data + b"x"), sha512(data))
        storage.put(io.BytesIO(data), sha256(data))
        assert sorted(storage.list()) == sorted([sha256(data), sha512(data)])
        assert storage.delete(sha512(data))
        assert list(storage.list()) == [sha256(data)]

    def test_move_to_another_storage_of_the_same_kind(self, storage_case: StorageCase) -> None:
        self._check_move(storage_case.open(), storage_case.other())

    def test_move_to_another_kind_of_storage(self, storage_case: StorageCase) -> None:
        self._check_move(storage_case.open(), MemoryBlobStorage())

    def test_move_from_another_kind_of_storage(self, storage_case: StorageCase) -> None:
        self._check_move(MemoryBlobStorage(), storage_case.open())

    @staticmethod
    def _check_move(source: BlobStorage, dest: BlobStorage) -> None:
        data = os.urandom(2 * CHUNK + 1)
        kept = put_bytes(source, b"stays")
        digest = put_bytes(source, data)
        info = source.move(digest, dest)
        assert (info.digest, info.size) == (digest, len(data))
        assert not exists(source, digest)
        assert list(source.list()) == [kept]
        assert read_bytes(dest, digest) == data
        with pytest.raises(BlobNotFound):
            source.move(digest, dest)  # no longer here
        # moving a blob the destination already has just removes it here
        put_bytes(source, data)
        source.move(digest, dest)
        assert not exists(source, digest)
        assert read_bytes(dest, digest) == data

    def test_move_within_the_same_storage_keeps_the_blob(self, storage_case: StorageCase) -> None:
        storage = storage_case.open()
        digest = put_bytes(storage, b"here")
        storage.move(digest, storage_case.open())
        assert read_bytes(storage, digest) == b"here"

    # --- large blobs ------------------------------------------------------------------------------------------

    def test_large_blob_is_streamed(self, storage_case: StorageCase) -> None:
        size = 48 * CHUNK + 12_345
        block = os.urandom(CHUNK - 7)  # not a divisor of the chunk size: pieces straddle blocks
        digest = pattern_digest(block, size)
        storage = storage_case.open()
        src = PatternStream(block, size)
        tracemalloc.start()
        try:
            storage.put(src, digest, size)  # type: ignore[arg-type]
            _, put_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            h = hashlib.sha256()
            with storage.open(digest) as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
            with storage.open(digest, size - CHUNK - 10, CHUNK) as f:
                tail = f.read()
            _, read_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert not src.read_all and src.largest_read <= 8 * CHUNK
        assert h.hexdigest() == digest.hex
        assert storage.stat(digest).size == size
        assert len(tail) == CHUNK
        if storage_case.bounded_memory:
            assert put_peak < 12 * CHUNK, f"put held {put_peak} bytes at once"
            assert read_peak < 12 * CHUNK, f"reading held {read_peak} bytes at once"

    def test_large_blob_through_the_writer(self, storage_case: StorageCase) -> None:
        size = 20 * CHUNK + 1
        block = os.urandom(CHUNK + 1)
        digest = pattern_digest(block, size)
        src = PatternStream(block, size)
        w = storage_case.open().writer()
        half = 0
        while half < size // 2 and (chunk := src.read(CHUNK)):
            w.write(chunk)
            half += len(chunk)
        w.close()
        w = storage_case.open().writer(resume=w.id)
        while chunk := src.read(CHUNK):
            w.write(chunk)
        assert w.size() == size
        w.commit(digest, size)
        assert storage_case.open().stat(digest).size == size
