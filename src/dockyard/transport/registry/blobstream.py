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


#: How much of the body is gathered before it is handed on.
_PIECE = 1 << 20
#: Marks the normal end of a response body in ``BlobStream._pending``.
_ENDED = StopIteration()


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
        expected_size: int | None = None,
    ) -> None:
        """``expected_size``: what the descriptor says; a registry that announces or sends more is refused at
        once (an endless answer never fills memory or disk)."""
        super().__init__()
        self.expected_size = expected_size
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
        self._pending: Exception | None = None  # what ended the last gathering: _ENDED or a transport error
        self._connect()

    # --- io.RawIOBase ---------------------------------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._offset - len(self._buffer)

    def read(self, size: int | None = -1, /) -> bytes:
        """The next bytes (at most ``size``): a whole received piece is handed on without copying."""
        if size is None or size < 0:
            return self.readall()
        while not self._buffer:
            if self._done or size == 0:
                return b""
            self._next_chunk()
        if size >= len(self._buffer):
            out, self._buffer = self._buffer, b""
            return out
        out = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return out

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
                self._check_announced()
        else:
            length = response.headers.get("content-length")
            if length is not None and length.isdigit():
                self.size = int(length)
                self._check_announced()
            self._skip = self._offset  # the server ignored Range: skip what was already read
        # Bytes as they arrive (httpcore reads 64 KiB at a time); _next_chunk gathers them into bigger pieces.
        self._chunks = response.iter_raw()

    def _next_chunk(self) -> None:
        """Gather up to :data:`_PIECE` bytes into the buffer (fewer trips through the readers above); an end or
        a dropped connection met while gathering is dealt with once the bytes before it are handed on, so a
        resume asks for exactly the first byte not yet received."""
        if self._pending is not None:
            exc, self._pending = self._pending, None
            self._end_of_chunks(exc)
            return
        parts: list[bytes] = []
        got = 0
        while got < _PIECE:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self._pending = _ENDED
                break
            except httpx.TransportError as exc:
                self._pending = exc
                break
            if self._skip:
                dropped = min(self._skip, len(chunk))
                chunk = chunk[dropped:]
                self._skip -= dropped
            if chunk:
                parts.append(chunk)
                got += len(chunk)
        if not parts:
            return
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        self._failures = 0
        if self._hasher is not None:
            self._hasher.update(data)
        self._offset += len(data)
        if self.expected_size is not None and self._offset > self.expected_size:
            self._close_response()
            raise SizeMismatch(self.expected_size, self._offset, f"{self.what} (sent more than its descriptor says)")
        self._buffer = data

    def _end_of_chunks(self, exc: Exception) -> None:
        if exc is not _ENDED:
            self._resume(exc)
        elif self.size is not None and self._offset < self.size:
            self._resume(None)  # closed early without an error
        else:
            self._finish()

    def _check_announced(self) -> None:
        if self.expected_size is not None and self.size is not None and self.size != self.expected_size:
            self._close_response()
            raise SizeMismatch(self.expected_size, self.size, f"{self.what} (as the registry announced it)")

    def _close_response(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None

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
