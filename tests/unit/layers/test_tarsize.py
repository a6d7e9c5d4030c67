"""Docker's layer SIZE from a tar stream: file bytes and symlink targets, never headers or padding."""

from __future__ import annotations

import io
import tarfile

import pytest
from layertar_helpers import WH, D, F, H, S, gzip_bytes, make_tar, zstd_bytes

from dockyard.errors import InvalidInput
from dockyard.layers.digesting import copy_and_digest
from dockyard.layers.tarsize import content_size
from dockyard.layers.tarstream import TarReader


def _reference_size(data: bytes) -> int:
    """What Docker's directory.Size finds after unpacking: regular files and symlink targets; hardlinks once."""
    total = 0
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar:
            if m.isreg():
                total += m.size
            elif m.issym():
                total += len(m.linkname.encode())
    return total


def _size(data: bytes, how: str) -> int:
    """The size as ``load`` counts it (one pass, plain or compressed) or straight from the reader."""
    if how == "reader":
        return content_size(TarReader(io.BytesIO(data)))
    blob = {"plain": data, "gzip": gzip_bytes(data), "zstd": zstd_bytes(data)}[how]
    return copy_and_digest(io.BytesIO(blob), None).content_size


LONG = "d/" + "x" * 150
ENTRIES = [
    D("d"),
    F("d/a", b"hello\n"),
    F("d/empty"),
    F(LONG, b"z" * 1000),  # a name longer than ustar's 100 bytes
    S("d/short", "a"),
    S("d/long", "/" + "t" * 200),  # a link target longer than 100 bytes
    S("d/utf8", "é" * 3),  # a target measured in bytes, as lstat does
    H("d/hard", "d/a"),  # a second name for d/a: counted once
    WH("d/gone"),
    F("big", b"\0" * 70_000),
]


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT], ids=["pax", "gnu"])
@pytest.mark.parametrize("how", ["reader", "plain", "gzip", "zstd"])
def test_matches_unpacked_size(fmt: int, how: str) -> None:
    data = make_tar(ENTRIES, fmt=fmt)
    expected = 6 + 1000 + 1 + 201 + len("é".encode() * 3) + 70_000
    assert _reference_size(data) == expected
    assert _size(data, how) == expected
    assert expected < len(data)  # the tar stream itself is bigger: headers, padding, end blocks


def test_pax_size_override_and_end_of_archive() -> None:
    # a pax "size" record wins over the header's field; data after the end-of-archive blocks is ignored
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("f")
        info.size = 3000
        info.pax_headers = {"size": "3000", "comment": "x" * 600}
        tar.addfile(info, io.BytesIO(b"q" * 3000))
    data = buf.getvalue() + b"trailing garbage that is not a tar header" * 20
    assert _size(data, "plain") == 3000
    assert _size(data, "gzip") == 3000


@pytest.mark.parametrize("how", ["plain", "gzip"])
def test_garbage_is_refused_as_unpack_refuses_it(how: str) -> None:
    data = make_tar([F("a", b"x" * 10)])
    junk = bytearray(b"\xff" * 512)
    junk[124:136] = b"not octal!!\0"
    blob = bytes(junk) + data
    digests = copy_and_digest(io.BytesIO(gzip_bytes(blob) if how == "gzip" else blob), None)
    assert digests.content_size == 0
    with pytest.raises(InvalidInput, match="tar"):
        digests.check_tar()
