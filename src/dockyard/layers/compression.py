"""Layer compression: detect it by magic bytes, decompress as a stream, compress as a stream.

gzip goes through ISA-L (``isal``), several times faster than the stdlib ``zlib``;
zstd through ``zstandard``. Everything streams: nothing here holds a whole layer.
"""

from __future__ import annotations

import enum
import io
from typing import BinaryIO, Final, cast

import zstandard
from isal import isal_zlib

from dockyard.errors import InvalidInput
from dockyard.layers._zstdframes import ZstdFrameChecker

GZIP_MAGIC: Final = b"\x1f\x8b"
ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
#: Bytes :func:`detect` needs to tell every format apart.
MAGIC_LEN: Final = 4
CHUNK: Final = 1 << 20

#: ISA-L offers levels 0..3 (2 is its default); larger (zlib-style) levels are clamped to 3.
_GZIP_MAX_LEVEL: Final = 3
_GZIP_DEFAULT_LEVEL: Final = 2
_ZSTD_DEFAULT_LEVEL: Final = 3


#: Exceptions the decompressors raise on corrupt input (ISA-L's stub types ``error`` as an instance).
DECOMPRESSION_ERRORS: Final[tuple[type[BaseException], ...]] = (
    cast("type[BaseException]", isal_zlib.error),
    zstandard.ZstdError,
    EOFError,  # gzip ended in the middle of a member
)


class Compression(enum.Enum):
    """How a layer blob is compressed."""

    NONE = "none"
    GZIP = "gzip"
    ZSTD = "zstd"


def detect(head: bytes) -> Compression:
    """The compression of a stream that starts with ``head`` (give at least 4 bytes)."""
    if head.startswith(GZIP_MAGIC):
        return Compression.GZIP
    if head.startswith(ZSTD_MAGIC):
        return Compression.ZSTD
    return Compression.NONE


def read_head(raw: BinaryIO, n: int = MAGIC_LEN) -> bytes:
    """Read up to ``n`` bytes, retrying short reads; fewer only at end of stream."""
    parts: list[bytes] = []
    got = 0
    while got < n:
        b = raw.read(n - got)
        if not b:
            break
        parts.append(b)
        got += len(b)
    return b"".join(parts)


class PrefixedReader(io.RawIOBase):
    """A reader that yields ``head`` (bytes already read from ``raw``) and then the rest of ``raw``.

    This is how a non-seekable stream is "peeked": read the magic, then hand on a
    reader that still starts at byte 0.
    """

    def __init__(self, head: bytes, raw: BinaryIO) -> None:
        super().__init__()
        self._head = head
        self._raw = raw

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        if self._head:
            out = self._head[:size]
            self._head = self._head[size:]
            return out
        return self._raw.read(size)

    def readall(self) -> bytes:
        head, self._head = self._head, b""
        return head + self._raw.read()

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)


#: Compressed bytes taken per step when decompressing a stream. Small, so that
#: :attr:`DecompressedStream.consumed` (which expansion-ratio checks rely on) is never
#: far ahead of what the decompressor has really used.
_STEP: Final = 64 << 10


class DecompressedStream(io.RawIOBase):
    """The uncompressed bytes of a gzip, zstd or plain stream, read incrementally.

    gzip: every member, zero padding between or after members tolerated, anything
    else after a member is an error (as gzip(1)); a truncated member raises EOFError.
    zstd: every frame (skippable ones too); truncation raises
    :class:`~dockyard.errors.InvalidInput`. :attr:`consumed` counts the compressed
    bytes used so far, for expansion-ratio limits.
    """

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self._head = read_head(raw)
        self.compression = detect(self._head)
        self._taken = 0  # bytes taken from raw (head included)
        self._pending = b""  # gzip: taken, not yet fed to (or not consumed by) the inflater
        self._inflater: isal_zlib.Decompress | None = None
        self._more_out = False  # gzip: the last call hit max_length, the inflater may hold more
        self._checker: ZstdFrameChecker | None = None
        self._zstd: zstandard.ZstdDecompressionReader | None = None
        if self.compression is Compression.ZSTD:
            self._checker = ZstdFrameChecker()
            self._zstd = zstandard.ZstdDecompressor().stream_reader(
                cast(BinaryIO, _Source(self)), read_size=_STEP, read_across_frames=True
            )

    @property
    def consumed(self) -> int:
        """Compressed bytes used so far."""
        return self._taken - len(self._pending)

    def _take(self, n: int) -> bytes:
        if self._head:
            b, self._head = self._head[:n], self._head[n:]
        else:
            b = self._raw.read(n)
        self._taken += len(b)
        if self._checker is not None and b:
            self._checker.feed(b)
        return b

    def readable(self) -> bool:
        return True

    def can_skip(self) -> bool:
        """Whether :meth:`skip` seeks: a plain (uncompressed) stream over a seekable file."""
        if self.compression is not Compression.NONE:
            return False
        seekable = getattr(self._raw, "seekable", None)
        return seekable is not None and bool(seekable())

    def skip(self, n: int) -> None:
        """Move ``n`` bytes forward without reading them (only where :meth:`can_skip`). A file that ends
        earlier is not noticed here: the next read returns less, as after reading to the end."""
        if not self.can_skip():
            raise io.UnsupportedOperation("skip: not a plain seekable stream")
        if self._head:
            step = min(n, len(self._head))
            self._head = self._head[step:]
            self._taken += step
            n -= step
        if n > 0:
            self._raw.seek(n, io.SEEK_CUR)
            self._taken += n

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        if size == 0:
            return b""
        if self.compression is Compression.GZIP:
            return self._read_gzip(size)
        if self._zstd is not None:
            b = self._zstd.read(size)
            if not b:
                assert self._checker is not None
                while self._take(CHUNK):  # the reader may stop short of trailing bytes
                    pass
                if not self._checker.complete():
                    raise InvalidInput("invalid zstd data: the stream is truncated")
            return b
        return self._take(size)

    def _read_gzip(self, size: int) -> bytes:
        while True:
            if self._inflater is None:
                data = self._pending.lstrip(b"\0")
                while not data:
                    chunk = self._take(_STEP)
                    if not chunk:
                        self._pending = b""
                        return b""
                    data = chunk.lstrip(b"\0")
                self._pending = data
                self._inflater = isal_zlib.decompressobj(31)
            if not self._pending and not self._more_out:
                self._pending = self._take(_STEP)
                if not self._pending:
                    raise EOFError("compressed file ended before the end-of-stream marker was reached")
            out = self._inflater.decompress(self._pending, size)
            self._more_out = len(out) == size
            if self._inflater.eof:
                self._pending = self._inflater.unused_data
                self._inflater = None
                self._more_out = False
            else:
                self._pending = self._inflater.unconsumed_tail
            if out:
                return out

    def readall(self) -> bytes:
        parts = []
        while b := self.read(CHUNK):
            parts.append(b)
        return b"".join(parts)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)


class _Source:
    """What the zstd reader pulls its input from (counts and frame-checks every byte)."""

    def __init__(self, stream: DecompressedStream) -> None:
        self._stream = stream

    def read(self, n: int = -1) -> bytes:
        return self._stream._take(_STEP if n < 0 else n)


def open_decompressed(raw: BinaryIO) -> BinaryIO:
    """A streaming reader of the uncompressed bytes of ``raw`` (gzip, zstd or plain).

    ``raw`` need not be seekable (the magic is peeked by reading it and replaying
    it). Multi-member gzip and multi-frame zstd are read to the end. Closing the
    returned reader does not close ``raw``. Reads are full (``read(n)`` returns ``n``
    bytes until the end), as from any buffered file: the reader is an
    :class:`io.BufferedReader` over a :class:`DecompressedStream` (its ``.raw``),
    which is also usable directly where short reads are fine.
    """
    return cast(BinaryIO, io.BufferedReader(DecompressedStream(raw), CHUNK))


def _gzip_level(level: int | None) -> int:
    if level is None:
        return _GZIP_DEFAULT_LEVEL
    return max(0, min(level, _GZIP_MAX_LEVEL))


def compress(src: BinaryIO, dst: BinaryIO, compression: Compression, level: int | None = None) -> None:
    """Stream ``src`` to ``dst``, compressed. The output is deterministic (no timestamps, no names).

    ``level``: gzip uses ISA-L's levels 0..3 (default 2; higher values are clamped to 3),
    zstd its usual levels (default 3). Ignored for :attr:`Compression.NONE`.
    """
    if compression is Compression.NONE:
        while chunk := src.read(CHUNK):
            dst.write(chunk)
    elif compression is Compression.GZIP:
        # wbits 31: a gzip container with mtime 0 and no file name, so equal input gives equal bytes.
        comp = isal_zlib.compressobj(_gzip_level(level), isal_zlib.DEFLATED, 31)
        while chunk := src.read(CHUNK):
            out = comp.compress(chunk)
            if out:
                dst.write(out)
        dst.write(comp.flush())
    elif compression is Compression.ZSTD:
        cctx = zstandard.ZstdCompressor(level=_ZSTD_DEFAULT_LEVEL if level is None else level, write_checksum=True)
        cctx.copy_stream(src, dst, read_size=CHUNK, write_size=CHUNK)
    else:  # pragma: no cover - exhaustive
        raise AssertionError(compression)


__all__ = [
    "CHUNK",
    "DECOMPRESSION_ERRORS",
    "GZIP_MAGIC",
    "MAGIC_LEN",
    "ZSTD_MAGIC",
    "Compression",
    "DecompressedStream",
    "PrefixedReader",
    "compress",
    "detect",
    "open_decompressed",
    "read_head",
]
