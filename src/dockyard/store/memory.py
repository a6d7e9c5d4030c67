"""An in-memory :class:`~dockyard.store.storage.BlobStorage`: for tests, and the model the other drivers match.

Thread-safe. Every handle made with :meth:`MemoryBlobStorage.handle` sees the same blobs and uploads, which is how
the conformance suite stands in for "another process" reopening an upload by id.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from dockyard.oci.digest import Digest, DigestHasher
from dockyard.store.storage import (
    CHUNK,
    BlobInfo,
    BlobStorage,
    UploadInUse,
    UploadNotFound,
    blob_not_found,
    check_range,
    check_upload_id,
    move_by_copy,
    new_upload_id,
    verify_content,
)

_DRIVER = "memory storage"


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    blobs: dict[Digest, bytes] = field(default_factory=dict)
    uploads: dict[str, bytearray] = field(default_factory=dict)
    open_uploads: set[str] = field(default_factory=set)


class MemoryBlobStorage:
    def __init__(self, state: _State | None = None) -> None:
        self._state = state if state is not None else _State()

    def handle(self) -> MemoryBlobStorage:
        """Another handle on the same contents (as a second process opening the same directory)."""
        return MemoryBlobStorage(self._state)

    def put(self, src: BinaryIO, expected: Digest, expected_size: int | None = None) -> BlobInfo:
        hasher = DigestHasher(expected.algorithm)
        data = bytearray()
        while chunk := src.read(CHUNK):
            hasher.update(chunk)
            data += chunk
        verify_content(expected, hasher.digest(), hasher.size, expected_size, "blob")
        with self._state.lock:
            self._state.blobs.setdefault(expected, bytes(data))
        return BlobInfo(expected, hasher.size)

    def writer(self, resume: str | None = None) -> MemoryBlobWriter:
        state = self._state
        with state.lock:
            if resume is None:
                upload_id = new_upload_id()
                state.uploads[upload_id] = bytearray()
            else:
                check_upload_id(resume, _DRIVER)
                upload_id = resume
                if upload_id not in state.uploads:
                    raise UploadNotFound(upload_id, _DRIVER)
                if upload_id in state.open_uploads:
                    raise UploadInUse(upload_id, _DRIVER)
            state.open_uploads.add(upload_id)
        return MemoryBlobWriter(state, upload_id)

    def open(self, digest: Digest, offset: int = 0, length: int | None = None) -> BinaryIO:
        with self._state.lock:
            data = self._state.blobs.get(digest)
        if data is None:
            raise blob_not_found(digest, _DRIVER)
        count = check_range(digest, offset, length, len(data), _DRIVER)
        return io.BytesIO(memoryview(data)[offset : offset + count])

    def stat(self, digest: Digest) -> BlobInfo:
        with self._state.lock:
            data = self._state.blobs.get(digest)
        if data is None:
            raise blob_not_found(digest, _DRIVER)
        return BlobInfo(digest, len(data))

    def delete(self, digest: Digest) -> bool:
        with self._state.lock:
            return self._state.blobs.pop(digest, None) is not None

    def list(self) -> Iterator[Digest]:
        with self._state.lock:
            digests = sorted(self._state.blobs)
        return iter(digests)

    def move(self, digest: Digest, dest: BlobStorage) -> BlobInfo:
        if isinstance(dest, MemoryBlobStorage):
            if dest._state is self._state:
                return self.stat(digest)
            with self._state.lock:
                data = self._state.blobs.pop(digest, None)
            if data is None:
                raise blob_not_found(digest, _DRIVER)
            with dest._state.lock:
                dest._state.blobs.setdefault(digest, data)
            return BlobInfo(digest, len(data))
        return move_by_copy(self, digest, dest)


class MemoryBlobWriter:
    def __init__(self, state: _State, upload_id: str) -> None:
        self._state = state
        self._id = upload_id
        self._open = True
        self._size = len(state.uploads[upload_id])

    @property
    def id(self) -> str:
        return self._id

    def _buffer(self) -> bytearray:
        buf = self._state.uploads.get(self._id) if self._open else None
        if buf is None:
            raise UploadNotFound(self._id, _DRIVER)
        return buf

    def write(self, data: bytes) -> int:
        with self._state.lock:
            self._buffer().extend(data)
            self._size += len(data)
        return len(data)

    def size(self) -> int:
        return self._size

    def commit(self, expected: Digest, expected_size: int | None = None) -> BlobInfo:
        with self._state.lock:
            data = bytes(self._buffer())
        hasher = DigestHasher(expected.algorithm)
        hasher.update(data)
        verify_content(expected, hasher.digest(), len(data), expected_size, f"upload {self._id}")
        with self._state.lock:
            self._state.blobs.setdefault(expected, data)
            self._state.uploads.pop(self._id, None)
            self._release()
        return BlobInfo(expected, len(data))

    def cancel(self) -> None:
        with self._state.lock:
            self._buffer()
            self._state.uploads.pop(self._id, None)
            self._release()

    def close(self) -> None:
        with self._state.lock:
            self._release()

    def _release(self) -> None:
        if self._open:
            self._state.open_uploads.discard(self._id)
            self._open = False

    def __del__(self) -> None:  # dropped without close(): free the upload for a later writer, as close() does
        if getattr(self, "_open", False):
            self.close()

    def __enter__(self) -> MemoryBlobWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if TYPE_CHECKING:  # mypy checks that both classes implement the protocols
    from dockyard.store.storage import BlobWriter

    _storage: type[BlobStorage] = MemoryBlobStorage
    _writer: type[BlobWriter] = MemoryBlobWriter
