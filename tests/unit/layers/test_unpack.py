from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest
from layer_scenarios import SCENARIOS, fs_from_dir
from layertar_helpers import OPQ, WH, D, E, F, H, S, layers

from dockyard.errors import InvalidInput
from dockyard.layers.tree import snapshot
from dockyard.layers.union import flatten
from dockyard.layers.unpack import unpack

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="needs root")


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_unpack_scenarios(name: str, compression: str, tmp_path: Path) -> None:
    sc = SCENARIOS[name]
    dest = tmp_path / "rootfs"
    dest.mkdir()
    unpack(layers(*sc.layers, compression=compression), dest)
    assert fs_from_dir(dest) == sc.expected


def test_hardlinks_share_inode(tmp_path: Path) -> None:
    unpack(layers([F("a", b"x"), H("b", "a"), H("c", "b")], [F("d", b"y"), H("e", "d")]), tmp_path)
    a, b, c = (os.lstat(tmp_path / n) for n in "abc")
    assert a.st_ino == b.st_ino == c.st_ino and a.st_nlink == 3
    assert os.lstat(tmp_path / "e").st_ino == os.lstat(tmp_path / "d").st_ino


def test_hardlink_target_replaced_keeps_old_inode(tmp_path: Path) -> None:
    unpack(layers([F("a", b"old"), H("b", "a")], [F("a", b"new")]), tmp_path)
    assert (tmp_path / "b").read_bytes() == b"old"
    assert os.lstat(tmp_path / "a").st_ino != os.lstat(tmp_path / "b").st_ino


def test_modes_and_times(tmp_path: Path) -> None:
    unpack(
        layers(
            [
                D("usr", mtime=1_000_000_000),
                D("usr/bin", mtime=1_100_000_000),
                E("usr/bin/passwd", data=b"pw", mode=0o4755, mtime=1_200_000_000.5),
                E("usr/bin/wall", data=b"w", mode=0o2755, gid=5),
                D("tmp", mode=0o1777, mtime=1_300_000_000),
                D("secret", mode=0o500),
                F("secret/file", b"s", mode=0o400),
                S("usr/bin/link", "passwd", mtime=1_400_000_000),
            ]
        ),
        tmp_path,
    )
    snap = snapshot(tmp_path)
    assert snap["usr/bin/passwd"].mode == 0o4755
    assert snap["usr/bin/passwd"].mtime_ns == 1_200_000_000_500_000_000
    assert snap["usr/bin/wall"].mode == 0o2755
    assert snap["tmp"].mode == 0o1777
    assert snap["secret"].mode == 0o500 and snap["secret/file"].mode == 0o400
    # Directory times are set last, so creating their children did not disturb them.
    assert snap["usr"].mtime_ns == 1_000_000_000 * 10**9
    assert snap["usr/bin"].mtime_ns == 1_100_000_000 * 10**9
    assert snap["tmp"].mtime_ns == 1_300_000_000 * 10**9
    assert snap["usr/bin/link"].mtime_ns == 1_400_000_000 * 10**9


def test_root_entry_metadata(tmp_path: Path) -> None:
    dest = tmp_path / "r"
    unpack(layers([D("./", mode=0o750, mtime=1_234_567_890), F("x")]), dest)
    st = os.stat(dest)
    assert stat.S_IMODE(st.st_mode) == 0o750 and st.st_mtime_ns == 1_234_567_890 * 10**9


def test_metadata_survives_later_layer_dir_merge(tmp_path: Path) -> None:
    unpack(layers([D("a", mode=0o700), F("a/x")], [D("a", mode=0o751, mtime=1_500_000_000), F("a/y")]), tmp_path)
    snap = snapshot(tmp_path)
    assert snap["a"].mode == 0o751 and snap["a"].mtime_ns == 1_500_000_000 * 10**9
    assert {"a/x", "a/y"} <= snap.keys()


@needs_root
def test_ownership_as_root(tmp_path: Path) -> None:
    unpack(
        layers(
            [
                D("home", uid=0, gid=0),
                D("home/u", uid=1000, gid=1000, mode=0o2750),
                E("home/u/suid", data=b"x", uid=1000, gid=1000, mode=0o6755),
                S("home/u/l", "suid", uid=1000, gid=100),
                H("home/u/h", "home/u/suid"),
            ]
        ),
        tmp_path,
    )
    snap = snapshot(tmp_path)
    assert (snap["home/u"].uid, snap["home/u"].gid, snap["home/u"].mode) == (1000, 1000, 0o2750)
    # chmod after chown: setuid and setgid survive the ownership change.
    assert (snap["home/u/suid"].uid, snap["home/u/suid"].gid, snap["home/u/suid"].mode) == (1000, 1000, 0o6755)
    assert (snap["home/u/l"].uid, snap["home/u/l"].gid) == (1000, 100)


def _xattrs_supported(path: Path) -> bool:
    probe = path / ".probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, "user.probe", b"1")
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
            return False
        raise
    finally:
        probe.unlink()
    return True


def test_xattrs(tmp_path: Path) -> None:
    if not _xattrs_supported(tmp_path):
        pytest.skip("no user xattrs on this file system")
    dest = tmp_path / "r"
    unpack(
        layers(
            [
                E("f", data=b"x", xattrs={"user.one": b"1", "user.bin": b"\x00\xff"}),
                D("d", xattrs={"user.dir": b"old", "user.gone": b"x"}),
                E("g", data=b"x", xattrs={"security.selinux": b"system_u:object_r:bin_t:s0"}),
            ],
            [D("d", xattrs={"user.dir": b"new"})],
        ),
        dest,
    )
    assert os.getxattr(dest / "f", "user.one") == b"1"
    assert os.getxattr(dest / "f", "user.bin") == b"\x00\xff"
    # The later directory header replaces the set of attributes.
    assert dict(snapshot(dest)["d"].xattrs) == {"user.dir": b"new"}
    assert "security.selinux" not in dict(snapshot(dest)["g"].xattrs)


@needs_root
def test_security_capability_xattr_after_chown(tmp_path: Path) -> None:
    # A v2 file capability for cap_net_raw (what ping ships with).
    cap = bytes.fromhex("0000000200200000000000000000000000000000")
    try:
        probe = tmp_path / "probe"
        probe.write_bytes(b"")
        os.setxattr(probe, "security.capability", cap)
    except OSError:
        pytest.skip("cannot set security.capability here")
    dest = tmp_path / "r"
    unpack(layers([E("ping", data=b"p", uid=0, gid=0, mode=0o755, xattrs={"security.capability": cap})]), dest)
    assert os.getxattr(dest / "ping", "security.capability") == cap


DEVICES = [
    D("dev"),
    E("dev/null", "char", mode=0o666, devmajor=1, devminor=3),
    E("dev/loop0", "block", mode=0o660, gid=6, devmajor=7, devminor=0),
    E("run/initctl", "fifo", mode=0o600),
    F("dev/keep"),
]


def test_devices_skipped_with_one_warning(tmp_path: Path) -> None:
    warnings: list[str] = []
    report = unpack(
        layers(DEVICES, [E("dev/zero", "char", mode=0o666, devmajor=1, devminor=5)]),
        tmp_path,
        on_warning=warnings.append,
    )
    assert len(warnings) == 1 and "4" in warnings[0] and "device" in warnings[0]
    assert report.skipped_devices == 4 and report.devices == 0
    assert sorted(os.listdir(tmp_path / "dev")) == ["keep"]
    assert not (tmp_path / "run" / "initctl").exists()


def test_skipped_device_still_replaces_lower_entry(tmp_path: Path) -> None:
    unpack(layers([F("dev/null", b"not a device")], [E("dev/null", "char", devmajor=1, devminor=3)]), tmp_path)
    assert not (tmp_path / "dev" / "null").exists()


@needs_root
def test_devices_created_as_root(tmp_path: Path) -> None:
    warnings: list[str] = []
    report = unpack(layers(DEVICES), tmp_path, devices=True, on_warning=warnings.append)
    assert warnings == []
    assert report.devices == 3 and report.skipped_devices == 0
    snap = snapshot(tmp_path)
    assert (snap["dev/null"].kind, snap["dev/null"].rdev, snap["dev/null"].mode) == ("char", (1, 3), 0o666)
    assert (snap["dev/loop0"].kind, snap["dev/loop0"].rdev, snap["dev/loop0"].gid) == ("block", (7, 0), 6)
    assert (snap["run/initctl"].kind, snap["run/initctl"].mode) == ("fifo", 0o600)


def test_report_counts(tmp_path: Path) -> None:
    report = unpack(
        layers(
            [D("a"), F("a/x", b"12345"), F("a/y", b"678"), S("s", "a"), H("h", "a/x")],
            [WH("a/y"), OPQ("a"), F("z", b"9")],
        ),
        tmp_path,
    )
    assert (report.layers, report.entries) == (2, 8)
    assert (report.files, report.dirs, report.symlinks, report.hardlinks) == (3, 1, 1, 1)
    assert (report.whiteouts, report.bytes) == (2, 9)
    assert fs_from_dir(tmp_path) == {"h": ("file", b"12345"), "s": ("symlink", "a"), "a": "dir", "z": ("file", b"9")}


def test_unpack_creates_missing_dest(tmp_path: Path) -> None:
    unpack(layers([F("x")]), tmp_path / "new")
    assert (tmp_path / "new" / "x").exists()


def test_big_file_streams(tmp_path: Path) -> None:
    big = os.urandom(1 << 20) * 12
    unpack(layers([F("big", big)], compression="zstd"), tmp_path)
    assert (tmp_path / "big").read_bytes() == big


def test_not_root_keeps_own_ownership(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 4242)
    me = os.getuid(), os.getgid()
    unpack(layers([D("d", uid=1000, gid=1000, mode=0o2750), E("d/s", data=b"x", uid=1000, mode=0o4755)]), tmp_path)
    snap = snapshot(tmp_path)
    assert (snap["d"].uid, snap["d"].gid, snap["d"].mode) == (*me, 0o2750)
    assert (snap["d/s"].uid, snap["d/s"].mode) == (me[0], 0o4755)


def test_devices_need_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 4242)
    with pytest.raises(InvalidInput, match="root"):
        unpack(layers(DEVICES), tmp_path, devices=True)


def test_parent_that_is_a_file(tmp_path: Path) -> None:
    ls = layers([F("a", b"file")], [F("a/b")])
    with pytest.raises(InvalidInput, match="not a directory"):
        unpack(ls, tmp_path)
    with pytest.raises(InvalidInput, match="not a directory"):
        flatten(ls)
