"""A blob download as a file object that resumes a dropped connection with ``Range`` and checks the digest.

:class:`BlobStream` reads one blob from a registry. When the connection breaks in the middle
(reset, closed early, read timeout) it asks again from the byte it had reached
(``Range: bytes=N-``) and goes on as if nothing happened; a server that ignores ``Range`` and
sends the whole blob again is handled too (the first N bytes are skipped). Read from the start,
the bytes are hashed on the way and the stream raises :class:`~dockyard.errors.DigestMismatch`
at the end if they are not the blob asked for.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import httpx

from dockyard.errors import DigestMismatch, RegistryError, RegistryUnavailable, SizeMismatch
from dockyard.oci.digest import Digest, DigestHasher

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

#: Opens the blob from a byte offset: a streaming answer, status 200 or 206.
Opener = Callable[[int], httpx.Response]

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$")


class BlobStream(io.RawIOBase):
    """A readable, resuming, verifying stream of one blob (use it as a context manager)."""

    def __init__(
        self,
        opener: Opener,
        digest: Digest,
        *,
        host: str,
        what: str,
        offset: int = 0,
        verify: bool = True,
        max_resumes: int = 5,
    ) -> None:
        super().__init__()
        self.digest = digest
        self.host = host
        self.what = what
        self.max_resumes = max_resumes
        self.resumes = 0
        """How many times the download was resumed after a broken connection."""
        self.size: int | None = None
        """The whole blob's size, once the registry has said it."""
        self._opener = opener
        self._offset = offset
        self._hasher: DigestHasher | None = digest.hasher() if verify and offset == 0 else None
        self._buffer = b""
        self._skip = 0
        self._done = False
        self._failures = 0
        self._response: httpx.Response | None = None
        self._chunks: Iterator[bytes] = iter(())
        self._connect()

    # --- io.RawIOBase ---------------------------------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._offset - len(self._buffer)

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        target = memoryview(buffer).cast("B")
        while not self._buffer:
            if self._done:
                return 0
            self._next_chunk()
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None
        super().close()

    # --- the connection -------------------------------------------------------------------------------------

    def _connect(self) -> None:
        if self.size is not None and self._offset >= self.size:
            self._finish()
            return
        response = self._opener(self._offset)
        self._response = response
        self._skip = 0
        if response.status_code == 206:
            match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
            if match is None or int(match.group(1)) != self._offset:
                response.close()
                raise RegistryError(
                    self.host,
                    status=206,
                    what=self.what,
                    reason=f"answered a request from byte {self._offset} with the wrong range",
                )
            if match.group(3) != "*":
                self.size = int(match.group(3))
        else:
            length = response.headers.get("content-length")
            if length is not None and length.isdigit():
                self.size = int(length)
            self._skip = self._offset  # the server ignored Range: skip what was already read
        # Unchunked: bytes as they arrive, so none are held back in a buffer a dropped connection loses.
        self._chunks = response.iter_raw()

    def _next_chunk(self) -> None:
        try:
            chunk = next(self._chunks)
        except StopIteration:
            if self.size is not None and self._offset < self.size:
                self._resume(None)  # closed early without an error
            else:
                self._finish()
            return
        except httpx.TransportError as exc:
            self._resume(exc)
            return
        if self._skip:
            dropped = min(self._skip, len(chunk))
            chunk = chunk[dropped:]
            self._skip -= dropped
        if not chunk:
            return
        self._failures = 0
        if self._hasher is not None:
            self._hasher.update(chunk)
        self._offset += len(chunk)
        self._buffer = chunk

    def _resume(self, exc: Exception | None) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None
        self._failures += 1
        if self._failures > self.max_resumes:
            detail = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
            raise RegistryUnavailable(
                self.host,
                what=self.what,
                reason=f"kept dropping the download at byte {self._offset}{detail}",
            ) from exc
        self.resumes += 1
        self._connect()

    def _finish(self) -> None:
        self._done = True
        if self._response is not None:
            self._response.close()
            self._response = None
        if self.size is not None and self._offset != self.size:
            raise SizeMismatch(self.size, self._offset, self.what)
        if self._hasher is not None:
            actual = self._hasher.digest()
            if actual != self.digest:
                raise DigestMismatch(str(self.digest), str(actual), self.what)


__all__ = ["BlobStream", "Opener"]
