"""Content-addressed blobs with atomic ingest: temporary file, verify, fsync, rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from dockyard.errors import BlobNotFound, DigestMismatch, SizeMismatch
from dockyard.oci.digest import Digest, DigestHasher
from dockyard.store.paths import StorePaths

if TYPE_CHECKING:
    from dockyard.layers.digesting import LayerDigests
    from dockyard.layers.limits import Limits

_CHUNK = 1 << 20


class BlobStore:
    def __init__(self, paths: StorePaths) -> None:
        self.paths = paths

    def path(self, digest: Digest) -> Path:
        return self.paths.blob(digest)

    def exists(self, digest: Digest) -> bool:
        return self.paths.blob(digest).is_file()

    def open(self, digest: Digest) -> BinaryIO:
        try:
            return open(self.paths.blob(digest), "rb")
        except FileNotFoundError:
            raise BlobNotFound(f"blob {digest} is missing from the store") from None

    def read(self, digest: Digest) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def size(self, digest: Digest) -> int:
        try:
            return self.paths.blob(digest).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(f"blob {digest} is missing from the store") from None

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
        dir_fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

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
            while chunk := src.read(_CHUNK):
                hasher.update(chunk)
                f.write(chunk)
            actual = hasher.digest()
            if actual != expected:
                raise DigestMismatch(str(expected), str(actual), what)
            if expected_size is not None and hasher.size != expected_size:
                raise SizeMismatch(expected_size, hasher.size, what)
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
            f.flush()
            os.fsync(f.fileno())
            f.close()
            if not self.exists(expected):
                self._commit(tmp, expected)
            return digests

    def delete(self, digest: Digest) -> bool:
        try:
            self.paths.blob(digest).unlink()
        except FileNotFoundError:
            return False
        return True

    def all(self) -> Iterator[Digest]:
        for alg_dir in sorted(self.paths.blobs.glob("*")):
            if not alg_dir.is_dir():
                continue
            for p in sorted(alg_dir.iterdir()):
                try:
                    yield Digest(alg_dir.name, p.name)
                except ValueError:
                    continue

    def verify(self, digest: Digest) -> Digest:
        """Re-hash a stored blob; returns the digest of its bytes."""
        hasher = DigestHasher(digest.algorithm)
        with self.open(digest) as f:
            while chunk := f.read(_CHUNK):
                hasher.update(chunk)
        return hasher.digest()
