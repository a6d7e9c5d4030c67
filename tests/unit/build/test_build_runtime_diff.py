"""An overlay upper directory written as a layer tar: order, headers, whiteouts, opaque directories,
hard links, exclusions, epoch clamping; read back with dockyard's own tar reader."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest

from dockyard.build.runtime import diff
from dockyard.build.runtime.snapshots import OPAQUE_XATTR
from dockyard.layers.tarstream import TarHeader, TarReader

EMPTY_LAYER = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="whiteout devices and trusted.* xattrs need root")


def _read(data: bytes) -> list[tuple[TarHeader, bytes]]:
    reader = TarReader(io.BytesIO(data))
    out = []
    for h in reader:
        out.append((h, b"".join(reader.chunks())))
    return out


def _diff(upper: Path, **kw: object) -> tuple[list[tuple[TarHeader, bytes]], bytes, object]:
    buf = io.BytesIO()
    res = diff(upper, buf, **kw)  # type: ignore[arg-type]
    return _read(buf.getvalue()), buf.getvalue(), res


def test_empty_upper_is_the_empty_layer(tmp_path: Path) -> None:
    buf = io.BytesIO()
    res = diff(tmp_path, buf)
    assert res.diff_id == EMPTY_LAYER
    assert (res.size, res.entries) == (1024, 0)
    assert buf.getvalue() == bytes(1024)


def test_entries_sorted_depth_first_with_headers(tmp_path: Path) -> None:
    up = tmp_path / "upper"
    (up / "b/c").mkdir(parents=True)
    (up / "b/c/f").write_bytes(b"x" * 700)
    (up / "b.txt").write_text("hello")
    (up / "a").symlink_to("/b.txt")
    (up / "b/exe").write_text("#!/bin/sh\n")
    os.chmod(up / "b/exe", 0o4755)
    for p in (up / "b/c/f", up / "b.txt", up / "b/exe"):
        os.utime(p, ns=(1_700_000_000_900_000_000, 1_700_000_000_900_000_000))
    entries, _, res = _diff(up)
    names = [h.name for h, _ in entries]
    assert names == ["a", "b/", "b/c/", "b/c/f", "b/exe", "b.txt"]
    by = {h.name: (h, data) for h, data in entries}
    f, data = by["b/c/f"]
    assert data == b"x" * 700 and f.kind == "file" and f.mode == 0o644
    assert f.mtime_ns == 1_700_000_000_000_000_000  # truncated to the second
    assert f.uname == "" and f.gname == ""
    assert by["b/exe"][0].mode == 0o4755
    assert by["a"][0].kind == "symlink" and by["a"][0].linkname == "/b.txt"
    assert res.entries == 6  # type: ignore[attr-defined]


def test_deterministic_and_epoch_clamps_times(tmp_path: Path) -> None:
    up = tmp_path / "upper"
    (up / "d").mkdir(parents=True)
    (up / "d/f").write_text("1")
    os.utime(up / "d/f", (100, 100))
    _, first, r1 = _diff(up)
    _, second, r2 = _diff(up)
    assert first == second and r1 == r2
    entries, _, _ = _diff(up, epoch=200)
    times = {h.name: h.mtime_ns for h, _ in entries}
    assert times["d/f"] == 100 * 10**9  # older than the epoch: kept
    assert times["d/"] == 200 * 10**9  # newer: clamped


def test_hardlinks_within_the_layer(tmp_path: Path) -> None:
    up = tmp_path / "upper"
    up.mkdir()
    (up / "x").write_text("data")
    os.link(up / "x", up / "y")
    (up / "z").mkdir()
    os.link(up / "x", up / "z/w")
    entries, _, _ = _diff(up)
    by = {h.name: (h, data) for h, data in entries}
    assert by["x"][0].kind == "file" and by["x"][1] == b"data"
    assert by["y"][0].kind == "hardlink" and by["y"][0].linkname == "x" and by["y"][1] == b""
    assert by["z/w"][0].kind == "hardlink" and by["z/w"][0].linkname == "x"


def test_long_names_and_xattrs_use_pax(tmp_path: Path) -> None:
    up = tmp_path / "upper"
    deep = up / ("d" * 90) / ("e" * 90)
    deep.mkdir(parents=True)
    (deep / "f").write_text("deep")
    (up / "caps").write_text("")
    try:
        os.setxattr(up / "caps", "user.test", b"\x00\x01value")
    except OSError:
        pytest.skip("no user xattrs on this file system")
    entries, _, _ = _diff(up)
    by = {h.name: h for h, _ in entries}
    assert f"{'d' * 90}/{'e' * 90}/f" in by
    assert by["caps"].xattrs == {"user.test": b"\x00\x01value"}


def test_exclude_leaves_out_runtime_mount_points(tmp_path: Path) -> None:
    up = tmp_path / "upper"
    (up / "etc").mkdir(parents=True)
    (up / "etc/hosts").write_text("")
    (up / "etc/keep").write_text("k")
    (up / "proc/sub").mkdir(parents=True)
    entries, _, _ = _diff(up, exclude=["/etc/hosts", "/proc"])
    assert [h.name for h, _ in entries] == ["etc/", "etc/keep"]


def test_unchanged_copied_up_directories_are_left_out_with_lowers(tmp_path: Path) -> None:
    lower, up = tmp_path / "lower", tmp_path / "upper"
    for root in (lower, up):
        (root / "etc/sub").mkdir(parents=True)
        (root / "usr").mkdir()
        for d in ("etc", "etc/sub", "usr"):
            os.utime(root / d, (1000, 1000))
    os.chmod(up / "usr", 0o700)  # changed metadata: kept
    (up / "etc/sub/new").write_text("n")  # a child: the parents are written before it
    os.utime(up / "etc/sub", (1000, 1000))
    entries, _, _ = _diff(up, lowers=[lower])
    assert [h.name for h, _ in entries] == ["etc/", "etc/sub/", "etc/sub/new", "usr/"]
    os.unlink(up / "etc/sub/new")
    os.utime(up / "etc/sub", (1000, 1000))
    entries, _, _ = _diff(up, lowers=[lower])
    assert [h.name for h, _ in entries] == ["usr/"]
    entries, _, _ = _diff(up)  # without lowers every directory is written
    assert [h.name for h, _ in entries] == ["etc/", "etc/sub/", "usr/"]


@needs_root
def test_whiteouts_and_opaque_directories(tmp_path: Path) -> None:
    up = tmp_path / "upper"
    (up / "etc").mkdir(parents=True)
    os.mknod(up / "etc/issue", stat.S_IFCHR | 0o600, os.makedev(0, 0))
    os.utime(up / "etc/issue", (300, 300), follow_symlinks=False)
    (up / "opq").mkdir()
    os.chmod(up / "opq", 0o750)
    os.setxattr(up / "opq", OPAQUE_XATTR, b"y")
    os.setxattr(up / "opq", "trusted.overlay.origin", b"\x00")
    (up / "opq/new").write_text("n")
    os.mknod(up / "tty", stat.S_IFCHR | 0o620, os.makedev(5, 0))
    entries, _, _ = _diff(up)
    names = [h.name for h, _ in entries]
    assert names == ["etc/", "etc/.wh.issue", "opq/", "opq/.wh..wh..opq", "opq/new", "tty"]
    by = {h.name: h for h, _ in entries}
    wh = by["etc/.wh.issue"]
    assert (wh.kind, wh.size, wh.mode, wh.mtime_ns) == ("file", 0, 0, 300 * 10**9)
    assert by["opq/"].xattrs == {}  # trusted.overlay.* never goes into a layer
    assert by["opq/.wh..wh..opq"].kind == "file" and by["opq/.wh..wh..opq"].mode == 0o750
    assert (by["tty"].kind, by["tty"].devmajor, by["tty"].devminor) == ("char", 5, 0)


@needs_root
def test_whiteouts_take_the_epoch(tmp_path: Path) -> None:
    up = tmp_path / "upper"
    up.mkdir()
    os.mknod(up / "gone", stat.S_IFCHR, os.makedev(0, 0))
    os.utime(up / "gone", (50, 50), follow_symlinks=False)
    entries, _, _ = _diff(up, epoch=100)
    assert [(h.name, h.mtime_ns) for h, _ in entries] == [(".wh.gone", 100 * 10**9)]  # as containerd's writer
