"""Layer compression: detect it by magic bytes, decompress as a stream, compress as a stream.

gzip goes through ISA-L (``isal``), several times faster than the stdlib ``zlib``;
zstd through ``zstandard``. Everything streams: nothing here holds a whole layer.
"""

from __future__ import annotations

import enum
import io
from collections.abc import Callable
from typing import BinaryIO, Final, cast

import zstandard
from isal import igzip, isal_zlib

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
    igzip.BadGzipFile,
)

_IGzipFile = cast("Callable[..., BinaryIO]", igzip.IGzipFile)


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


def open_decompressed(raw: BinaryIO) -> BinaryIO:
    """A streaming reader of the uncompressed bytes of ``raw`` (gzip, zstd or plain).

    ``raw`` need not be seekable. Multi-member gzip and multi-frame zstd are read
    to the end. Closing the returned reader does not close ``raw``.
    """
    head = read_head(raw)
    src = PrefixedReader(head, raw)
    kind = detect(head)
    if kind is Compression.GZIP:
        return _IGzipFile(fileobj=io.BufferedReader(src, CHUNK), mode="rb")
    if kind is Compression.ZSTD:
        reader = zstandard.ZstdDecompressor().stream_reader(
            cast(BinaryIO, src), read_size=CHUNK, read_across_frames=True, closefd=False
        )
        return cast(BinaryIO, reader)
    return cast(BinaryIO, src)


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
    "PrefixedReader",
    "compress",
    "detect",
    "open_decompressed",
    "read_head",
]
