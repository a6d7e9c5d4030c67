from __future__ import annotations

import bz2
import io
import lzma
import tarfile
from pathlib import Path

import pytest
from transport_helpers import add_bytes, add_symlink

from dockyard.errors import InvalidArchive, SizeMismatch
from dockyard.transport._tarutil import (
    DirSource,
    HashingReader,
    TarSource,
    TarWriter,
    open_source,
    safe_name,
    sniff_compression,
)


@pytest.mark.parametrize(
    ("name", "want"),
    [("a", "a"), ("./a//b/", "a/b"), ("blobs/sha256/ab", "blobs/sha256/ab"), ("./x/./y", "x/y")],
)
def test_safe_name_normalises(name: str, want: str) -> None:
    assert safe_name(name, "w") == want


@pytest.mark.parametrize("name", ["", ".", "./", "/a", "../a", "a/../b", "a/..", "a\\b", "a\x00b", 3, None])
def test_safe_name_refuses(name: object) -> None:
    with pytest.raises(InvalidArchive, match=r"^w: "):
        safe_name(name, "w")


def _tar(path: Path) -> Path:
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        add_bytes(tar, "./a/file", b"0123456789" * 1000)
        add_bytes(tar, "b", b"bee")
        add_symlink(tar, "a/link", "file")
        add_symlink(tar, "c/up", "../a/link")
        add_symlink(tar, "c/abs", "/etc/passwd")
        add_symlink(tar, "c/out", "../../x")
        add_symlink(tar, "loop1", "loop2")
        add_symlink(tar, "loop2", "loop1")
        info = tarfile.TarInfo("hard")
        info.type = tarfile.LNKTYPE
        info.linkname = "b"
        tar.addfile(info)
        info = tarfile.TarInfo("d")
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        add_bytes(tar, "long/" + "n" * 200, b"long name")
        add_bytes(tar, "b", b"second b wins")
    return path


def test_tar_source(tmp_path: Path) -> None:
    src = open_source(_tar(tmp_path / "t.tar"))
    assert isinstance(src, TarSource)
    assert src.member("a/file") is not None
    assert src.read_bytes("a/link", "x") == b"0123456789" * 1000
    assert src.read_bytes("c/up", "x") == b"0123456789" * 1000
    assert src.read_bytes("b", "x") == b"second b wins"
    assert src.read_bytes("hard", "x") == b"second b wins"
    assert src.read_bytes("long/" + "n" * 200, "x") == b"long name"
    assert src.member("nope") is None
    assert not src.exists("nope")
    with pytest.raises(InvalidArchive, match="absolute"):
        src.member("c/abs")
    with pytest.raises(InvalidArchive, match="leads out"):
        src.open("c/out")
    with pytest.raises(InvalidArchive, match="too many levels"):
        src.member("loop1")
    with pytest.raises(InvalidArchive, match="not a regular file"):
        src.member("d")
    with pytest.raises(InvalidArchive, match="nope is missing"):
        src.open("nope")
    with pytest.raises(InvalidArchive, match="thing nope is missing"):
        src.read_bytes("nope", "thing")
    with pytest.raises(InvalidArchive, match="too large"):
        src.read_bytes("a/file", "x", limit=100)


def test_tar_stream_is_seekable_window(tmp_path: Path) -> None:
    src = open_source(_tar(tmp_path / "t.tar"))
    with src.open("a/file") as f:
        assert f.read(3) == b"012"
        f.seek(9995)
        assert f.read() == b"56789"
        assert f.read(10) == b""
        f.seek(-2, io.SEEK_END)
        assert f.read() == b"89"
        assert f.tell() == 10000


@pytest.mark.parametrize("kind", ["gzip", "zstd", "bzip2", "xz"])
def test_compressed_tar(tmp_path: Path, kind: str) -> None:
    import gzip

    import zstandard

    plain = _tar(tmp_path / "t.tar").read_bytes()
    packed = {
        "gzip": gzip.compress,
        "zstd": zstandard.ZstdCompressor().compress,
        "bzip2": bz2.compress,
        "xz": lzma.compress,
    }[kind](plain)
    assert sniff_compression(packed) == kind
    path = tmp_path / "t.tar.x"
    path.write_bytes(packed)
    src = open_source(path)
    assert src.read_bytes("c/up", "x") == b"0123456789" * 1000
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(InvalidArchive, match=f"{path}: "):
        open_source(path)


def test_dir_source(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "f").write_bytes(b"data")
    (root / "a" / "in").symlink_to("f")
    (root / "a" / "dangling").symlink_to("nothing")
    (tmp_path / "secret").write_bytes(b"s")
    (root / "out").symlink_to(tmp_path / "secret")
    src = open_source(root)
    assert isinstance(src, DirSource)
    assert src.read_bytes("a/in", "x") == b"data"
    assert src.member("a/dangling") is None
    assert src.member("missing") is None
    with pytest.raises(InvalidArchive, match="leads out"):
        src.member("out")
    with pytest.raises(InvalidArchive, match="not a regular file"):
        src.member("a")
    with pytest.raises(InvalidArchive, match="missing"):
        src.open("missing")


def test_open_source_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidArchive, match="no such file"):
        open_source(tmp_path / "nothing")
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x00" * 10 + b"junk" * 500)
    with pytest.raises(InvalidArchive, match="not a tar archive"):
        open_source(junk)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(InvalidArchive):
        open_source(empty)


def test_tar_writer(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with TarWriter(buf) as tar:
        tar.add_dir("blobs")
        tar.add_bytes("blobs/a", b"aaa")
        tar.add_stream("blobs/b", io.BytesIO(b"bbbb"), 4, "b")
    buf.seek(0)
    with tarfile.open(fileobj=buf) as t:
        infos = t.getmembers()
        assert [(i.name, i.isdir(), i.mode, i.mtime, i.uid, i.gid) for i in infos] == [
            ("blobs", True, 0o755, 0, 0, 0),
            ("blobs/a", False, 0o644, 0, 0, 0),
            ("blobs/b", False, 0o644, 0, 0, 0),
        ]
        f = t.extractfile("blobs/b")
        assert f is not None and f.read() == b"bbbb"


def test_tar_writer_size_checks() -> None:
    with pytest.raises(SizeMismatch, match="expected 10 bytes, got 4"):
        TarWriter(io.BytesIO()).add_stream("x", io.BytesIO(b"bbbb"), 10, "x")
    with pytest.raises(SizeMismatch, match="expected 2 bytes, got 4"):
        TarWriter(io.BytesIO()).add_stream("x", io.BytesIO(b"bbbb"), 2, "x")


def test_hashing_reader() -> None:
    seen: list[bytes] = []
    r = HashingReader(io.BytesIO(b"hello world"), seen.append)
    assert r.read(5) == b"hello"
    assert r.read() == b" world"
    assert r.read() == b""
    assert b"".join(seen) == b"hello world"
    assert r.count == 11


def test_sniff_needs_real_magic() -> None:
    assert sniff_compression(b"BZh1 a file name") == "none"
    assert sniff_compression(b"manifest.json\x00") == "none"
    assert sniff_compression(b"") == "none"


@pytest.mark.parametrize("compressed", [False, True])
def test_fifo_input_is_spooled(tmp_path: Path, compressed: bool) -> None:
    import gzip
    import os
    import threading

    data = _tar(tmp_path / "t.tar").read_bytes()
    if compressed:
        data = gzip.compress(data)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as w:
            w.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        src = open_source(fifo)
    finally:
        writer.join(10)
    assert src.read_bytes("c/up", "x") == b"0123456789" * 1000


@pytest.mark.parametrize("preadv", [True, False], ids=["preadv", "pread"])
def test_tar_member_reads_with_or_without_preadv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, preadv: bool) -> None:
    from dockyard.transport import _tarutil

    if not preadv:
        monkeypatch.setattr(_tarutil, "_PREADV", None)
    data = bytes(range(256)) * 1000
    path = tmp_path / "t.tar"
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        add_bytes(tar, "big", data)
    src = open_source(path)
    try:
        with src.open("big") as f:
            assert f.read(10) == data[:10]
            f.seek(100_000)
            assert f.read() == data[100_000:]
        with src.open("big") as f:
            assert f.read() == data
    finally:
        assert isinstance(src, TarSource)
        src.close()
