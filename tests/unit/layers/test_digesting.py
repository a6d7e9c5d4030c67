from __future__ import annotations

import hashlib
import io
import os
import time

import pytest
from isal import isal_zlib
from layertar_helpers import D, F, NonSeekable, S, gzip_bytes, make_tar, zstd_bytes

from dockyard.errors import DigestMismatch, InvalidInput, UnsafeLayer
from dockyard.layers.compression import Compression, compress
from dockyard.layers.digesting import LayerDigests, copy_and_digest, verify
from dockyard.layers.limits import Limits, MiB
from dockyard.oci.digest import Digest

TAR = make_tar([D("etc"), F("etc/hostname", b"box\n"), F("blob", os.urandom(200_000)), S("link", "etc/hostname")])
TAR_DIGEST = Digest.of(TAR)
#: Docker's SIZE of TAR: file bytes (4 + 200000) plus the symlink target's length (12); no headers or padding
TAR_CONTENT_SIZE = 4 + 200_000 + len("etc/hostname")


def _sha(b: bytes) -> Digest:
    return Digest("sha256", hashlib.sha256(b).hexdigest())


@pytest.mark.parametrize(
    ("blob", "kind"),
    [
        (TAR, Compression.NONE),
        (gzip_bytes(TAR), Compression.GZIP),
        (gzip_bytes(TAR, members=7), Compression.GZIP),
        (zstd_bytes(TAR), Compression.ZSTD),
        (zstd_bytes(TAR, frames=5), Compression.ZSTD),
    ],
    ids=["none", "gzip", "gzip-multi-member", "zstd", "zstd-multi-frame"],
)
def test_copy_and_digest(blob: bytes, kind: Compression) -> None:
    dst = io.BytesIO()
    d = copy_and_digest(io.BytesIO(blob), dst)
    assert d == LayerDigests(_sha(blob), len(blob), TAR_DIGEST, len(TAR), kind, TAR_CONTENT_SIZE)
    assert dst.getvalue() == blob


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_copy_and_digest_non_seekable_short_reads(compression: str) -> None:
    blob = {"none": TAR, "gzip": gzip_bytes(TAR, 3), "zstd": zstd_bytes(TAR, 3)}[compression]
    d = copy_and_digest(NonSeekable(blob, piece=3), None)  # type: ignore[arg-type]
    assert (d.digest, d.diff_id, d.compression.value) == (_sha(blob), TAR_DIGEST, compression)


def test_copy_and_digest_empty() -> None:
    d = copy_and_digest(io.BytesIO(b""), None)
    assert d.digest == d.diff_id == _sha(b"")
    assert d.size == d.uncompressed_size == 0
    assert d.compression is Compression.NONE


def test_zstd_skippable_frame() -> None:
    skippable = (0x184D2A50).to_bytes(4, "little") + (5).to_bytes(4, "little") + b"12345"
    blob = zstd_bytes(TAR[:1000]) + skippable + zstd_bytes(TAR[1000:])
    d = copy_and_digest(io.BytesIO(blob), None)
    assert d.diff_id == TAR_DIGEST


def test_gzip_trailing_zero_padding_is_tolerated() -> None:
    blob = gzip_bytes(TAR) + bytes(1000)
    assert copy_and_digest(io.BytesIO(blob), None).diff_id == TAR_DIGEST


@pytest.mark.parametrize(
    "blob",
    [
        gzip_bytes(TAR)[:-10],
        gzip_bytes(TAR)[: len(gzip_bytes(TAR)) // 2],
        gzip_bytes(TAR) + b"garbage!",
        gzip_bytes(TAR)[:100] + b"\xff" * 100 + gzip_bytes(TAR)[200:],
        zstd_bytes(TAR)[:-10],
        zstd_bytes(TAR)[: len(zstd_bytes(TAR)) // 2],
        zstd_bytes(TAR) + b"garbage!",
    ],
    ids=["gz-tail", "gz-half", "gz-garbage", "gz-corrupt", "zst-tail", "zst-half", "zst-garbage"],
)
def test_corrupt_or_truncated(blob: bytes) -> None:
    with pytest.raises(InvalidInput):
        copy_and_digest(io.BytesIO(blob), None)


def _zeros_gzip(n: int) -> bytes:
    c = isal_zlib.compressobj(3, isal_zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    out = [c.compress(chunk) for _ in range(n // len(chunk))]
    return b"".join(out) + c.flush()


def test_decompression_bomb_size_limit() -> None:
    bomb = _zeros_gzip(200 * MiB)
    assert len(bomb) < 1 * MiB
    t = time.monotonic()
    with pytest.raises(UnsafeLayer) as err:
        copy_and_digest(io.BytesIO(bomb), None, Limits(max_size=16 * MiB))
    msg = str(err.value)
    assert "decompression bomb" in msg
    assert "DOCKYARD_MAX_LAYER_SIZE" in msg and "DOCKYARD_MAX_RATIO" in msg
    assert time.monotonic() - t < 5


def test_decompression_bomb_ratio_limit() -> None:
    bomb = _zeros_gzip(200 * MiB)
    with pytest.raises(UnsafeLayer, match="decompression bomb"):
        copy_and_digest(io.BytesIO(bomb), None, Limits(max_ratio=50, ratio_grace=4 * MiB))
    # Under the grace size the ratio does not apply.
    small = _zeros_gzip(2 * MiB)
    copy_and_digest(io.BytesIO(small), None, Limits(max_ratio=50, ratio_grace=4 * MiB))


def test_decompression_bomb_zstd() -> None:
    out = io.BytesIO()
    compress(io.BytesIO(bytes(100 * MiB)), out, Compression.ZSTD)
    with pytest.raises(UnsafeLayer, match="decompression bomb"):
        copy_and_digest(io.BytesIO(out.getvalue()), None, Limits(max_size=8 * MiB))


def test_uncompressed_size_limit() -> None:
    with pytest.raises(UnsafeLayer):
        copy_and_digest(io.BytesIO(TAR), None, Limits(max_size=len(TAR) - 1))
    copy_and_digest(io.BytesIO(TAR), None, Limits(max_size=len(TAR)))


def test_verify() -> None:
    blob = gzip_bytes(TAR)
    d = verify(io.BytesIO(blob), _sha(blob), TAR_DIGEST)
    assert d.diff_id == TAR_DIGEST
    with pytest.raises(DigestMismatch, match="distribution digest"):
        verify(io.BytesIO(blob), TAR_DIGEST, TAR_DIGEST)
    with pytest.raises(DigestMismatch, match="diff_id"):
        verify(io.BytesIO(blob), _sha(blob), _sha(blob))


def test_verify_sha512() -> None:
    blob = zstd_bytes(TAR)
    digest = Digest("sha512", hashlib.sha512(blob).hexdigest())
    diff_id = Digest("sha512", hashlib.sha512(TAR).hexdigest())
    assert verify(io.BytesIO(blob), digest, diff_id).diff_id == diff_id


def test_limits_from_env() -> None:
    assert Limits.from_env({}) == Limits()
    lim = Limits.from_env({"DOCKYARD_MAX_LAYER_SIZE": "2G", "DOCKYARD_MAX_RATIO": "50"})
    assert (lim.max_size, lim.max_ratio) == (2 << 30, 50.0)
    assert Limits.from_env({"DOCKYARD_MAX_LAYER_SIZE": "1048576"}).max_size == 1 << 20
    assert Limits.from_env({"DOCKYARD_MAX_LAYER_SIZE": "512MiB"}).max_size == 512 << 20
    for env in ({"DOCKYARD_MAX_LAYER_SIZE": "lots"}, {"DOCKYARD_MAX_RATIO": "x"}, {"DOCKYARD_MAX_RATIO": "0"}):
        with pytest.raises(InvalidInput):
            Limits.from_env(env)


def test_limits_defaults() -> None:
    lim = Limits()
    assert lim.max_size == 64 << 30
    assert lim.max_ratio == 1000
    assert lim.ratio_grace == 64 << 20
    assert lim.max_entries == 10_000_000
