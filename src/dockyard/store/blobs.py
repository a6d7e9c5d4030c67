"""The local blob store: a :class:`~dockyard.store.storage.BlobStorage` on the store's directory.

Layout (see ``paths.py``): ``blobs/<algorithm>/<hex>`` holds each blob once; a put writes ``tmp/ingest-*``, verifies
it, fsyncs it and renames it into place, so a partial or wrong blob is never visible. Resumable uploads live in
``uploads/<id>`` (not in ``tmp/``, which is emptied whenever a writer holds the store alone): while a writer has
an upload open it holds an ``flock`` on the file, so a dead process's upload can be resumed by id, and a live
one's cannot be taken over.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from dockyard.errors import DigestMismatch, SizeMismatch
from dockyard.oci.digest import Digest, DigestHasher
from dockyard.store.paths import StorePaths
from dockyard.store.storage import (
    CHUNK,
    BlobInfo,
    BlobStorage,
    RangeReader,
    UploadInUse,
    UploadNotFound,
    blob_not_found,
    check_range,
    check_upload_id,
    move_by_copy,
    new_upload_id,
    verify_content,
)
from dockyard.store.storage import verify as _verify

if TYPE_CHECKING:
    from dockyard.layers.digesting import LayerDigests
    from dockyard.layers.limits import Limits

_DRIVER = "store"


def _fsync_dir(path: Path) -> None:
    dir_fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class BlobStore:
    """Blobs as files under ``ROOT/blobs``; implements ``BlobStorage``, ``LocalPaths`` and ``PurgesUploads``."""

    def __init__(self, paths: StorePaths) -> None:
        self.paths = paths

    # --- BlobStorage ---------------------------------------------------------------------------------------

    def put(self, src: BinaryIO, expected: Digest, expected_size: int | None = None) -> BlobInfo:
        return BlobInfo(expected, self.put_stream(src, expected, expected_size))

    def writer(self, resume: str | None = None) -> FileBlobWriter:
        return FileBlobWriter(self, resume)

    def open(self, digest: Digest, offset: int = 0, length: int | None = None) -> BinaryIO:
        try:
            f = open(self.paths.blob(digest), "rb")  # noqa: SIM115 - handed to the caller
        except FileNotFoundError:
            raise blob_not_found(digest, _DRIVER) from None
        if offset == 0 and length is None:
            return f
        try:
            count = check_range(digest, offset, length, os.fstat(f.fileno()).st_size, _DRIVER)
            f.seek(offset)
        except BaseException:
            f.close()
            raise
        if length is None:
            return f
        return cast(BinaryIO, io.BufferedReader(RangeReader(f, count), CHUNK))

    def stat(self, digest: Digest) -> BlobInfo:
        return BlobInfo(digest, self.size(digest))

    def delete(self, digest: Digest) -> bool:
        try:
            self.paths.blob(digest).unlink()
        except FileNotFoundError:
            return False
        return True

    def list(self) -> Iterator[Digest]:
        for alg_dir in sorted(self.paths.blobs.glob("*")):
            if not alg_dir.is_dir():
                continue
            for p in sorted(alg_dir.iterdir()):
                try:
                    yield Digest(alg_dir.name, p.name)
                except ValueError:
                    continue

    def move(self, digest: Digest, dest: BlobStorage) -> BlobInfo:
        """Into another local store: one rename when both are on the same filesystem; else a verified copy."""
        if not isinstance(dest, BlobStore):
            return move_by_copy(self, digest, dest)
        src = self.paths.blob(digest)
        final = dest.paths.blob(digest)
        try:
            size = src.stat().st_size
        except FileNotFoundError:
            raise blob_not_found(digest, _DRIVER) from None
        if src == final:
            return BlobInfo(digest, size)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(src, final)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            return move_by_copy(self, digest, dest)
        _fsync_dir(final.parent)
        _fsync_dir(src.parent)
        return BlobInfo(digest, size)

    # --- LocalPaths / PurgesUploads ------------------------------------------------------------------------

    def path(self, digest: Digest) -> Path:
        return self.paths.blob(digest)

    def purge_uploads(self, older_than: float) -> int:
        """Remove uploads untouched for ``older_than`` seconds that no live writer holds; returns bytes freed."""
        freed = 0
        cutoff = time.time() - older_than
        uploads = self.paths.uploads
        if not uploads.is_dir():
            return 0
        for p in uploads.iterdir():
            try:
                fd = os.open(p, os.O_RDONLY)
            except OSError:
                continue
            try:
                st = os.fstat(fd)
                if st.st_mtime > cutoff:
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live writer has it open
                p.unlink(missing_ok=True)
                freed += st.st_size
            finally:
                os.close(fd)
        return freed

    # --- the historical names (every caller keeps working) -------------------------------------------------

    def exists(self, digest: Digest) -> bool:
        return self.paths.blob(digest).is_file()

    def read(self, digest: Digest) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def size(self, digest: Digest) -> int:
        try:
            return self.paths.blob(digest).stat().st_size
        except FileNotFoundError:
            raise blob_not_found(digest, _DRIVER) from None

    def all(self) -> Iterator[Digest]:
        return self.list()

    def verify(self, digest: Digest) -> Digest:
        """Re-hash a stored blob; returns the digest of its bytes."""
        return _verify(self, digest)

    @contextlib.contextmanager
    def _temp(self) -> Iterator[tuple[BinaryIO, Path]]:
        self.paths.tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.paths.tmp, prefix="ingest-")
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as f:
                yield f, tmp
        finally:
            tmp.unlink(missing_ok=True)

    def _commit(self, tmp: Path, digest: Digest) -> None:
        final = self.paths.blob(digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        _fsync_dir(final.parent)

    def put_bytes(self, data: bytes, expected: Digest | None = None) -> Digest:
        digest = Digest.of(data, expected.algorithm if expected else "sha256")
        if expected is not None and digest != expected:
            raise DigestMismatch(str(expected), str(digest))
        if self.exists(digest):
            return digest
        with self._temp() as (f, tmp):
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            f.close()
            self._commit(tmp, digest)
        return digest

    def put_stream(self, src: BinaryIO, expected: Digest, expected_size: int | None = None, what: str = "blob") -> int:
        """Copy a stream in, verifying its digest (and size) before it becomes visible."""
        with self._temp() as (f, tmp):
            hasher = DigestHasher(expected.algorithm)
            while chunk := src.read(CHUNK):
                hasher.update(chunk)
                f.write(chunk)
            verify_content(expected, hasher.digest(), hasher.size, expected_size, what)
            f.flush()
            os.fsync(f.fileno())
            f.close()
            if not self.exists(expected):
                self._commit(tmp, expected)
            return hasher.size

    def put_layer(
        self,
        src: BinaryIO,
        expected: Digest,
        expected_diff_id: Digest,
        expected_size: int | None = None,
        limits: Limits | None = None,
    ) -> LayerDigests:
        """Ingest a layer blob, verifying both the distribution hash and the diff_id in one pass."""
        from dockyard.layers.digesting import copy_and_digest

        with self._temp() as (f, tmp):
            digests = copy_and_digest(src, f, limits)
            what = f"layer {expected}"
            if digests.digest != expected:
                raise DigestMismatch(str(expected), str(digests.digest), f"{what} (distribution digest)")
            if digests.diff_id != expected_diff_id:
                raise DigestMismatch(str(expected_diff_id), str(digests.diff_id), f"{what} (diff_id)")
            if expected_size is not None and digests.size != expected_size:
                raise SizeMismatch(expected_size, digests.size, what)
            digests.check_tar()  # a tar that would not unpack is refused here, as unpack and check refuse it
            f.flush()
            os.fsync(f.fileno())
            f.close()
            if not self.exists(expected):
                self._commit(tmp, expected)
            return digests


class FileBlobWriter:
    """An upload in ``uploads/<id>``, held with an exclusive ``flock`` while open."""

    def __init__(self, store: BlobStore, resume: str | None) -> None:
        self._store = store
        uploads = store.paths.uploads
        uploads.mkdir(parents=True, exist_ok=True)
        if resume is None:
            self._id = new_upload_id()
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL
        else:
            check_upload_id(resume, _DRIVER)
            self._id = resume
            flags = os.O_WRONLY | os.O_APPEND
        self._path = uploads / self._id
        self._fd: int | None = None
        try:
            fd = os.open(self._path, flags | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            raise UploadNotFound(self._id, _DRIVER) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UploadInUse(self._id, _DRIVER) from None
        if resume is not None and not self._path.exists():  # committed or cancelled before we had the lock
            os.close(fd)
            raise UploadNotFound(self._id, _DRIVER)
        self._fd = fd
        self._size = os.fstat(fd).st_size
        # The running hash covers every byte only for a new upload; a resumed one is re-hashed at commit.
        self._hasher: DigestHasher | None = DigestHasher() if resume is None else None

    @property
    def id(self) -> str:
        return self._id

    def _live_fd(self) -> int:
        if self._fd is None:
            raise UploadNotFound(self._id, _DRIVER)
        return self._fd

    def write(self, data: bytes) -> int:
        fd = self._live_fd()
        view = memoryview(data)
        while view:
            n = os.write(fd, view[:CHUNK])
            view = view[n:]
        if self._hasher is not None:
            self._hasher.update(data)
        self._size += len(data)
        return len(data)

    def size(self) -> int:
        return self._size

    def _digest(self, algorithm: str) -> Digest:
        if self._hasher is not None and self._hasher.algorithm == algorithm:
            return self._hasher.digest()
        hasher = DigestHasher(algorithm)
        with open(self._path, "rb") as f:
            while chunk := f.read(CHUNK):
                hasher.update(chunk)
        if algorithm == "sha256":
            self._hasher = hasher
        return hasher.digest()

    def commit(self, expected: Digest, expected_size: int | None = None) -> BlobInfo:
        fd = self._live_fd()
        os.fsync(fd)
        verify_content(expected, self._digest(expected.algorithm), self._size, expected_size, f"upload {self._id}")
        final = self._store.paths.blob(expected)
        if final.exists():
            self._path.unlink(missing_ok=True)
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._path, final)
            _fsync_dir(final.parent)
        self._release()
        return BlobInfo(expected, self._size)

    def cancel(self) -> None:
        self._live_fd()
        self._path.unlink(missing_ok=True)
        self._release()

    def close(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            self._release()

    def _release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the flock
            self._fd = None

    def __del__(self) -> None:  # dropped without close(): free the upload for a later writer, as close() does
        if getattr(self, "_fd", None) is not None:
            self._release()

    def __enter__(self) -> FileBlobWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if TYPE_CHECKING:  # mypy checks that the local store and its writer implement the protocols
    from dockyard.store.storage import BlobWriter, LocalPaths, PurgesUploads

    _storage: type[BlobStorage] = BlobStore
    _paths: type[LocalPaths] = BlobStore
    _purges: type[PurgesUploads] = BlobStore
    _writer: type[BlobWriter] = FileBlobWriter
