from __future__ import annotations

import io
import tarfile

import pytest
from layertar_helpers import D, E, F, H, S, gzip_bytes, make_tar, openers, zstd_bytes

from dockyard.errors import InvalidInput, UnsafeLayer
from dockyard.layers.limits import Limits
from dockyard.layers.tarstream import TarReader, header_bytes, open_layer, parse_mtime_ns


def read_all(blob: bytes) -> list[tuple[str, str, bytes]]:
    r = TarReader(io.BytesIO(blob))
    return [(h.name.rstrip("/"), h.kind, b"".join(r.chunks())) for h in r]


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_formats_and_long_names(fmt: int) -> None:
    long_dir = "d" * 90 + "/" + "e" * 60
    ustar = fmt == tarfile.USTAR_FORMAT
    long_name = long_dir + "/" + "f" * 80 if not ustar else long_dir + "/f"
    link = "f" * 99 if ustar else long_name  # ustar cannot hold a long link target
    blob = make_tar([D("d" * 90), D(long_dir), F(long_name, b"x" * 1000), S("s", link), H("h", link)], fmt)
    got = read_all(blob)
    assert [(n, k) for n, k, _ in got] == [
        ("d" * 90, "dir"),
        (long_dir, "dir"),
        (long_name, "file"),
        ("s", "symlink"),
        ("h", "hardlink"),
    ]
    assert got[2][2] == b"x" * 1000
    r = TarReader(io.BytesIO(blob))
    hs = list(r)
    assert hs[3].linkname == link and hs[4].linkname == link


def test_header_fields() -> None:
    blob = make_tar(
        [
            E(
                "bin/su",
                data=b"#!",
                mode=0o4755,
                uid=2**22,
                gid=7,
                mtime=1_700_000_000.25,
                uname="üser",
                gname="g",
                xattrs={"security.capability": b"\x01\x00\x00\x02\xff", "user.note": "é".encode()},
            ),
            E("dev/null", "char", mode=0o666, devmajor=1, devminor=3),
            E("big", "file", uid=8**8 + 5, data=b"z"),
        ]
    )
    r = TarReader(io.BytesIO(blob))
    su, null, big = list(r)
    assert su.mode == 0o4755 and su.uid == 2**22 and su.gid == 7
    assert su.mtime_ns == 1_700_000_000_250_000_000
    assert su.uname == "üser"
    assert su.xattrs == {"security.capability": b"\x01\x00\x00\x02\xff", "user.note": "é".encode()}
    assert (null.kind, null.devmajor, null.devminor) == ("char", 1, 3)
    assert big.uid == 8**8 + 5


def test_gnu_base256_numbers() -> None:
    blob = make_tar([E("f", uid=8**8 + 5, data=b"z")], tarfile.GNU_FORMAT)
    (h,) = list(TarReader(io.BytesIO(blob)))
    assert h.uid == 8**8 + 5


def test_parse_mtime_ns() -> None:
    assert parse_mtime_ns("1700000000") == 1_700_000_000_000_000_000
    assert parse_mtime_ns("1.5") == 1_500_000_000
    assert parse_mtime_ns("-1.5") == -1_500_000_000
    assert parse_mtime_ns("1.123456789123") == 1_123_456_789
    with pytest.raises(InvalidInput):
        parse_mtime_ns("soon")


def test_unread_data_is_skipped_and_missing_end_blocks_accepted() -> None:
    blob = make_tar([F("a", b"1" * 5000), F("b", b"2" * 3)])
    r = TarReader(io.BytesIO(blob))
    it = iter(r)
    assert next(it).name == "a"
    h = next(it)
    assert (h.name, r.read()) == ("b", b"222")
    # Cut just after the last member (no end-of-archive blocks).
    cut = blob[: 512 + 5120 + 512 + 512]
    assert [n for n, _, _ in read_all(cut)] == ["a", "b"]


def test_truncated_tar() -> None:
    blob = make_tar([F("a", b"1" * 5000)])
    with pytest.raises(InvalidInput, match="truncated"):
        read_all(blob[:2000])
    with pytest.raises(InvalidInput, match="truncated"):
        read_all(blob[:300])


def test_not_a_tar() -> None:
    with pytest.raises(InvalidInput, match="checksum"):
        read_all(b"hello world, this is not a tar archive" * 20)


def test_huge_pax_header_refused() -> None:
    record = b"path=" + b"a" * 100
    rec = b"%d " % (len(record) + 2 + 4) + record + b"\n"
    hdr = bytearray(header_bytes("x", "file"))
    # A PAX header claiming 1 GiB of records.
    info = tarfile.TarInfo("././@PaxHeader")
    info.type = tarfile.XHDTYPE
    info.size = 1 << 30
    blob = info.tobuf(tarfile.USTAR_FORMAT) + rec
    with pytest.raises(UnsafeLayer, match="PAX"):
        read_all(blob + bytes(hdr))


def test_sparse_refused() -> None:
    info = tarfile.TarInfo("sparse")
    info.type = tarfile.GNUTYPE_SPARSE
    blob = info.tobuf(tarfile.GNU_FORMAT)
    with pytest.raises(InvalidInput, match="sparse"):
        read_all(blob + bytes(1024))


def test_header_bytes_roundtrip() -> None:
    hb = header_bytes(
        "usr/bin/" + "x" * 120,
        "file",
        size=3,
        mode=0o2755,
        uid=1000,
        gid=50,
        mtime_ns=1_500_000_000_500_000_000,
        xattrs={"user.a": b"\xff\x00b"},
    )
    blob = hb + b"abc" + bytes(509) + bytes(1024)
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        (m,) = tar.getmembers()
        assert m.name == "usr/bin/" + "x" * 120
        assert m.mode == 0o2755 and (m.uid, m.gid) == (1000, 50)
        assert m.pax_headers["SCHILY.xattr.user.a"].encode("utf-8", "surrogateescape") == b"\xff\x00b"
    (h,) = list(TarReader(io.BytesIO(blob)))
    assert h.xattrs == {"user.a": b"\xff\x00b"}
    assert h.mtime_ns == 1_500_000_000_500_000_000


@pytest.mark.parametrize("compress", [lambda b: b, gzip_bytes, zstd_bytes], ids=["none", "gzip", "zstd"])
def test_open_layer_entry_limit(compress: object) -> None:
    blob = compress(make_tar([F(f"f{i}") for i in range(20)]))  # type: ignore[operator]
    (op,) = openers(blob)
    with open_layer(op, Limits()) as r:
        assert len(list(r)) == 20
    with open_layer(op, Limits(max_entries=19)) as r, pytest.raises(UnsafeLayer, match="entries"):
        list(r)


def test_open_layer_truncated_zstd() -> None:
    blob = zstd_bytes(make_tar([F("a", bytes(range(256)) * 400)]) + bytes(10240))
    (op,) = openers(blob[:-20])
    with open_layer(op, Limits()) as r, pytest.raises(InvalidInput):
        for _ in r:
            r.read(1 << 30)


class _CountingFile(io.BytesIO):
    """A seekable file that counts the bytes read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, n: int | None = -1, /) -> bytes:
        b = super().read(n)
        self.bytes_read += len(b)
        return b


def _big_tar() -> bytes:
    return make_tar([F("small", b"s" * 100), F("big", bytes(range(256)) * 4096), F("last", b"tail")])


def test_open_layer_plain_seekable_skips_unread_data() -> None:
    blob = _big_tar()
    files: list[_CountingFile] = []

    def opener() -> _CountingFile:
        files.append(_CountingFile(blob))
        return files[-1]

    with open_layer(opener, Limits()) as r:
        got = {h.name: (r.read() if h.name != "big" else b"") for h in r}
    assert got == {"small": b"s" * 100, "big": b"", "last": b"tail"}
    assert files[0].bytes_read < len(blob) // 2  # the 1 MiB member was sought over, not read


def test_open_layer_plain_seekable_still_finds_truncation_and_size_limit() -> None:
    blob = _big_tar()
    (op,) = openers(blob[: 512 + 512 + 512 + 300_000])  # cut inside the data of "big"
    with open_layer(op, Limits()) as r, pytest.raises(InvalidInput, match="truncated"):
        list(r)
    (op,) = openers(blob)
    with open_layer(op, Limits(max_size=500_000)) as r, pytest.raises(UnsafeLayer):
        list(r)  # the bytes sought over count as read


def _with_fields(block: bytes, **fields: bytes) -> bytes:
    """A header block with numeric fields replaced (by offset name) and its checksum recomputed."""
    where = {"mode": 100, "uid": 108, "gid": 116, "size": 124, "mtime": 136}
    b = bytearray(block)
    for name, value in fields.items():
        width = 12 if name in ("size", "mtime") else 8
        assert len(value) == width
        b[where[name] : where[name] + width] = value
    b[148:156] = b" " * 8
    b[148:156] = b"%06o\0 " % sum(b)
    return bytes(b)


@pytest.mark.parametrize(
    ("mode", "uid", "mtime", "want"),
    [
        (b"0000755\0", b"0001750\0", b"14604625467\0", (0o755, 0o1750, 0o14604625467)),  # what most writers do
        (b"000755 \0", b"  1750 \0", b"14604625467 ", (0o755, 0o1750, 0o14604625467)),  # old BSD/GNU styles
        (b"0000755 ", b"\0" * 8, b" " * 12, (0o755, 0, 0)),  # blank fields are 0
    ],
)
def test_numeric_field_styles(mode: bytes, uid: bytes, mtime: bytes, want: tuple[int, int, int]) -> None:
    blob = make_tar([F("a", b"xyz")])
    blob = _with_fields(blob[:512], mode=mode, uid=uid, mtime=mtime) + blob[512:]
    r = TarReader(io.BytesIO(blob))
    (h,) = list(r)
    assert (h.mode, h.uid, h.mtime_ns // 1_000_000_000, h.size) == (*want, 3)


def test_numeric_field_with_underscore_refused() -> None:
    blob = make_tar([F("a", b"xyz")])
    blob = _with_fields(blob[:512], uid=b"000_750\0") + blob[512:]
    with pytest.raises(InvalidInput, match="uid"):
        list(TarReader(io.BytesIO(blob)))


@pytest.mark.parametrize("nonzero", [0, 1, 100, 255, 256, 257, 300, 512])
@pytest.mark.parametrize("value", [1, 127, 255])
def test_header_byte_sum_is_exact(nonzero: int, value: int) -> None:
    from dockyard.layers.tarstream import _byte_sum

    block = bytes([value]) * nonzero + bytes(512 - nonzero)
    assert _byte_sum(block) == sum(block)
    mixed = bytes(range(256)) + bytes(256)
    assert _byte_sum(mixed) == sum(mixed)
