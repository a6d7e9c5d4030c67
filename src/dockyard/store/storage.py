"""Blob storage behind one small protocol, shaped after CNCF Distribution's ``StorageDriver``.

Keys are digests (``sha256`` and ``sha512``); values are immutable byte strings. What an implementation writes:

``BlobStorage`` (7 methods)
    ``put(src, expected, expected_size)``  copy a stream in, verified; a partial or wrong write is never visible
    ``writer(resume=None)``                a resumable append writer (new, or reopened by its id)
    ``open(digest, offset, length)``       a reader over a byte range
    ``stat(digest)``                       size (a :class:`BlobInfo`)
    ``delete(digest)``                     ``False`` when there was nothing to delete
    ``list()``                             every digest present, in no promised order
    ``move(digest, dest)``                 hand a blob to another storage (rename when both share a disk)

``BlobWriter`` (Distribution's ``FileWriter``)
    ``id``, ``write(data)``, ``size()`` (bytes so far), ``commit(expected, expected_size)``, ``cancel()``,
    ``close()`` (stop for now: the upload stays and ``writer(resume=id)`` continues it, from this process or
    another one once this one has gone away).

Rules every implementation keeps (checked by ``tests/suites/blob_storage.py``):

* Content is verified before it becomes visible: ``put`` and ``commit`` refuse a digest or size mismatch with
  :class:`~dockyard.errors.DigestMismatch` / :class:`~dockyard.errors.SizeMismatch` and nothing appears under
  the digest. A failed ``commit`` leaves the upload as it was (continue it, or ``cancel`` it).
* Streams are read and written in chunks (at most :data:`CHUNK` bytes at a time); nothing reads a blob whole.
* Ranges follow HTTP's: ``open(d, offset, length)`` gives ``length`` bytes or fewer at the end; ``offset``
  equal to the size gives an empty reader; past the size (or negative) is :class:`InvalidOffset`.
* A missing blob is :class:`~dockyard.errors.BlobNotFound`; an unknown upload :class:`UploadNotFound`; an upload
  that another writer has open :class:`UploadInUse`.
* Concurrent puts of the same content all succeed and leave one blob.

How the registry server's drivers map onto it (Distribution does the same with its ``StorageDriver``): a
filesystem driver is this package's ``BlobStore`` with Distribution's paths; an S3 driver puts with one
``PutObject`` (an object is visible only when complete), writes uploads as a multipart upload (parts of at
least 5 MiB, smaller tails kept in a side object until the next write, the upload id in its key), opens ranges
with ``GET`` + ``Range``, stats with ``HEAD``, lists with ``ListObjectsV2`` under ``blobs/``, moves with a
server-side ``CopyObject`` then ``DeleteObject``, and re-reads an upload to hash it at commit.

Optional capabilities are separate ``runtime_checkable`` protocols: :class:`LocalPaths` (a blob's file, for
zero-copy use) and :class:`PurgesUploads` (drop uploads abandoned long ago, as Distribution's upload purger does).
Helpers shared by every implementation (``exists``, ``read_bytes``, ``put_bytes``, ``verify``, ``move_by_copy``)
are functions here, so an implementer writes only the seven methods.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from dockyard.errors import BlobNotFound, DigestMismatch, InvalidInput, SizeMismatch, StoreError
from dockyard.oci.digest import Digest, DigestHasher

#: The largest read or write a storage makes at once while streaming.
CHUNK = 1 << 20

_UPLOAD_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# --- values and errors -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """What ``stat`` knows of a blob."""

    digest: Digest
    size: int


class UploadNotFound(BlobNotFound):
    """No upload has this id (never started, committed, cancelled or purged)."""

    def __init__(self, upload_id: str, driver: str) -> None:
        super().__init__(f"{driver}: blob upload {upload_id!r} is unknown")
        self.upload_id = upload_id
        self.driver = driver


class UploadInUse(StoreError):
    """Another writer has this upload open (in this process or another live one)."""

    def __init__(self, upload_id: str, driver: str) -> None:
        super().__init__(f"{driver}: blob upload {upload_id} is being written by another writer")
        self.upload_id = upload_id
        self.driver = driver


class InvalidOffset(InvalidInput):
    """A byte range that starts past the end of the blob, or a negative offset or length."""

    def __init__(self, digest: Digest, offset: int, length: int | None, size: int | None, driver: str) -> None:
        shown = f"offset {offset}" + (f", length {length}" if length is not None else "")
        where = f" (size {size})" if size is not None else ""
        super().__init__(f"{driver}: invalid range for blob {digest}: {shown}{where}")
        self.offset = offset
        self.length = length


def blob_not_found(digest: Digest, driver: str) -> BlobNotFound:
    """The one wording of a missing blob (the local store keeps its historical message)."""
    return BlobNotFound(f"blob {digest} is missing from the {driver}")


def new_upload_id() -> str:
    """A fresh upload id: a random UUID, as Distribution's."""
    import uuid  # only writers need it: kept off the start-up path of every command

    return str(uuid.uuid4())


def check_upload_id(upload_id: str, driver: str) -> None:
    """Upload ids are UUIDs (as Distribution's); anything else is unknown, never a path."""
    if not _UPLOAD_ID.match(upload_id):
        raise UploadNotFound(upload_id, driver)


def check_range(digest: Digest, offset: int, length: int | None, size: int, driver: str) -> int:
    """Validate a range against the blob's size; returns how many bytes the range holds."""
    if offset < 0 or offset > size or (length is not None and length < 0):
        raise InvalidOffset(digest, offset, length, size, driver)
    left = size - offset
    return left if length is None else min(left, length)


def verify_content(digest: Digest, actual: Digest, size: int, expected_size: int | None, what: str) -> None:
    """Raise the mismatch error for content that is not what it was announced as (the digest first)."""
    if actual != digest:
        raise DigestMismatch(str(digest), str(actual), what)
    if expected_size is not None and size != expected_size:
        raise SizeMismatch(expected_size, size, what)


# --- protocols -------------------------------------------------------------------------------------------------


class BlobWriter(Protocol):
    """An append-only upload, resumable by :attr:`id` until it is committed or cancelled."""

    @property
    def id(self) -> str: ...

    def write(self, data: bytes) -> int:
        """Append ``data``; returns its length."""
        ...

    def size(self) -> int:
        """Bytes written so far (by this writer and every earlier one on the same upload)."""
        ...

    def commit(self, expected: Digest, expected_size: int | None = None) -> BlobInfo:
        """Verify and publish the upload under ``expected``; on a mismatch the upload is left as it was."""
        ...

    def cancel(self) -> None:
        """Drop the upload and everything written to it."""
        ...

    def close(self) -> None:
        """Stop writing for now; the upload stays and can be resumed by id."""
        ...


class BlobStorage(Protocol):
    """Content-addressed blobs: verified atomic puts, resumable uploads, ranged reads."""

    def put(self, src: BinaryIO, expected: Digest, expected_size: int | None = None) -> BlobInfo:
        """Copy ``src`` in, chunk by chunk; visible under ``expected`` only when its bytes hash to it."""
        ...

    def writer(self, resume: str | None = None) -> BlobWriter:
        """A new upload, or the upload ``resume`` continued where it stopped."""
        ...

    def open(self, digest: Digest, offset: int = 0, length: int | None = None) -> BinaryIO:
        """A reader over ``length`` bytes (or up to the end) from ``offset``."""
        ...

    def stat(self, digest: Digest) -> BlobInfo: ...

    def delete(self, digest: Digest) -> bool:
        """Remove a blob; ``False`` when it was not there."""
        ...

    def list(self) -> Iterator[Digest]:
        """Every digest present (both algorithms)."""
        ...

    def move(self, digest: Digest, dest: BlobStorage) -> BlobInfo:
        """Make ``digest`` present in ``dest`` and absent here (``move_by_copy`` when there is no shortcut)."""
        ...


@runtime_checkable
class LocalPaths(Protocol):
    """Optional: blobs are files on this machine (for zero-copy reads, hard links, ``sendfile``)."""

    def path(self, digest: Digest) -> Path: ...


@runtime_checkable
class PurgesUploads(Protocol):
    """Optional: remove uploads nobody has touched for ``older_than`` seconds and nobody holds; returns bytes freed."""

    def purge_uploads(self, older_than: float) -> int: ...


# --- helpers every implementation gets for free ----------------------------------------------------------------


def exists(storage: BlobStorage, digest: Digest) -> bool:
    try:
        storage.stat(digest)
    except BlobNotFound:
        return False
    return True


def read_bytes(storage: BlobStorage, digest: Digest) -> bytes:
    """A small blob (manifest, config) whole. Layers are read with ``open``."""
    with storage.open(digest) as f:
        return f.read()


def put_bytes(storage: BlobStorage, data: bytes, expected: Digest | None = None) -> Digest:
    digest = expected if expected is not None else Digest.of(data)
    storage.put(io.BytesIO(data), digest, len(data))
    return digest


def verify(storage: BlobStorage, digest: Digest) -> Digest:
    """Re-hash a stored blob; returns the digest of its bytes."""
    hasher = DigestHasher(digest.algorithm)
    with storage.open(digest) as f:
        while chunk := f.read(CHUNK):
            hasher.update(chunk)
    return hasher.digest()


def move_by_copy(source: BlobStorage, digest: Digest, dest: BlobStorage) -> BlobInfo:
    """``move`` for storages that share nothing: a verified copy into ``dest``, then a delete here."""
    size = source.stat(digest).size
    with source.open(digest) as f:
        info = dest.put(f, digest, size)
    source.delete(digest)
    return info


class RangeReader(io.RawIOBase):
    """At most ``length`` bytes of an already positioned binary file; closing it closes the file."""

    def __init__(self, raw: BinaryIO, length: int) -> None:
        self._raw = raw
        self._left = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        view = memoryview(buffer)[: self._left]
        data = self._raw.read(len(view))
        n = len(data)
        view[:n] = data
        self._left -= n
        return n

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()
