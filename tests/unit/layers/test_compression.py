from __future__ import annotations

import gzip
import io
import os

import pytest
import zstandard
from layertar_helpers import NonSeekable, gzip_bytes, zstd_bytes

from dockyard.errors import InvalidInput
from dockyard.layers.compression import (
    DECOMPRESSION_ERRORS,
    Compression,
    DecompressedStream,
    compress,
    detect,
    open_decompressed,
)

DATA = os.urandom(50_000) + bytes(300_000) + b"layer text " * 10_000


def test_detect_magic() -> None:
    assert detect(b"\x1f\x8b\x08\x00") is Compression.GZIP
    assert detect(b"\x28\xb5\x2f\xfd") is Compression.ZSTD
    assert detect(b"ustar") is Compression.NONE
    assert detect(b"") is Compression.NONE
    assert detect(b"\x1f") is Compression.NONE
    assert detect(b"\x28\xb5\x2f") is Compression.NONE


def test_enum_values() -> None:
    assert [c.value for c in Compression] == ["none", "gzip", "zstd"]
    assert Compression("zstd") is Compression.ZSTD


@pytest.mark.parametrize("kind", list(Compression))
@pytest.mark.parametrize("level", [None, 1, 9])
def test_compress_roundtrip(kind: Compression, level: int | None) -> None:
    out = io.BytesIO()
    compress(io.BytesIO(DATA), out, kind, level)
    blob = out.getvalue()
    assert detect(blob[:4]) is kind
    if kind is not Compression.NONE:
        assert len(blob) < len(DATA)
    assert open_decompressed(io.BytesIO(blob)).read() == DATA


def test_compress_gzip_is_standard_and_deterministic() -> None:
    a, b = io.BytesIO(), io.BytesIO()
    compress(io.BytesIO(DATA), a, Compression.GZIP)
    compress(io.BytesIO(DATA), b, Compression.GZIP)
    assert a.getvalue() == b.getvalue()
    assert gzip.decompress(a.getvalue()) == DATA
    assert a.getvalue()[4:8] == b"\0\0\0\0"  # no timestamp in the header


def test_compress_zstd_is_standard_and_deterministic() -> None:
    a, b = io.BytesIO(), io.BytesIO()
    compress(io.BytesIO(DATA), a, Compression.ZSTD, 5)
    compress(io.BytesIO(DATA), b, Compression.ZSTD, 5)
    assert a.getvalue() == b.getvalue()
    assert zstandard.ZstdDecompressor().stream_reader(io.BytesIO(a.getvalue())).read() == DATA


@pytest.mark.parametrize(
    "blob",
    [DATA, gzip_bytes(DATA), gzip_bytes(DATA, members=5), zstd_bytes(DATA), zstd_bytes(DATA, frames=4)],
    ids=["none", "gzip", "gzip-multi-member", "zstd", "zstd-multi-frame"],
)
def test_open_decompressed_non_seekable(blob: bytes) -> None:
    stream = NonSeekable(blob, piece=3)  # even the magic arrives in pieces
    reader = open_decompressed(stream)  # type: ignore[arg-type]
    out = bytearray()
    while chunk := reader.read(65536):
        out += chunk
    assert bytes(out) == DATA


def test_open_decompressed_short_and_empty() -> None:
    assert open_decompressed(io.BytesIO(b"")).read() == b""
    assert open_decompressed(io.BytesIO(b"ab")).read() == b"ab"
    assert open_decompressed(io.BytesIO(gzip_bytes(b""))).read() == b""


@pytest.mark.parametrize(
    "blob",
    [
        gzip_bytes(DATA)[:-10],
        gzip_bytes(DATA) + b"garbage!",
        gzip_bytes(DATA)[:50] + b"\xff" * 50 + gzip_bytes(DATA)[100:],
        zstd_bytes(DATA)[:-10],
        zstd_bytes(DATA) + b"garbage!",
    ],
    ids=["gz-truncated", "gz-garbage", "gz-corrupt", "zst-truncated", "zst-garbage"],
)
def test_open_decompressed_corrupt(blob: bytes) -> None:
    with pytest.raises((InvalidInput, *DECOMPRESSION_ERRORS)):
        open_decompressed(io.BytesIO(blob)).read()


def test_gzip_zero_padding_tolerated() -> None:
    blob = gzip_bytes(DATA, members=3) + bytes(4096)
    assert open_decompressed(io.BytesIO(blob)).read() == DATA


@pytest.mark.parametrize("compress_fn", [gzip_bytes, zstd_bytes], ids=["gzip", "zstd"])
def test_consumed_tracks_the_decompressor(compress_fn: object) -> None:
    """What the expansion-ratio limit relies on: ``consumed`` grows with the output, not ahead of it."""
    zeros = bytes(64 << 20)
    blob = compress_fn(zeros)  # type: ignore[operator]
    stream = DecompressedStream(io.BytesIO(blob))
    out = len(stream.read(1 << 20))
    assert out > 0
    assert stream.consumed <= 128 << 10  # a step, not the whole blob
    while b := stream.read(1 << 20):
        out += len(b)
    assert out == len(zeros) and stream.consumed == len(blob)


@pytest.mark.parametrize("compress_fn", [lambda b: b, gzip_bytes, zstd_bytes], ids=["none", "gzip", "zstd"])
def test_open_decompressed_reads_are_full(compress_fn: object) -> None:
    """Callers such as tarfile.addfile rely on read(n) returning n bytes until the end."""
    blob = compress_fn(DATA)  # type: ignore[operator]
    reader = open_decompressed(NonSeekable(blob, piece=1000))  # type: ignore[arg-type]
    sizes = []
    while b := reader.read(16384):
        sizes.append(len(b))
    assert sum(sizes) == len(DATA)
    assert all(n == 16384 for n in sizes[:-1])
