from __future__ import annotations

import gzip
import io
import os

import pytest
import zstandard
from layertar_helpers import NonSeekable, gzip_bytes, zstd_bytes

from dockyard.layers.compression import Compression, compress, detect, open_decompressed

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
