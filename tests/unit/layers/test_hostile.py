"""Hostile layers: every one is refused (or defused) without anything written outside ``dest``."""

from __future__ import annotations

import io
import os
import tarfile
import time
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest
from layertar_helpers import OPQ, WH, D, E, F, H, Jail, S, layers, make_tar, openers

from dockyard.errors import UnsafeLayer
from dockyard.layers.limits import Limits, MiB
from dockyard.layers.union import export, flatten
from dockyard.layers.unpack import unpack

ABS_NAME = f"/dockyard-hostile-{uuid.uuid4().hex}"

# Each case: a function of the jail (some need its absolute path) to the layers' entry lists.
Case = Callable[[Jail], list[list[E]]]

REFUSED: dict[str, Case] = {
    "dotdot": lambda j: [[F("../escaped", b"x")]],
    "dotdot-sentinel": lambda j: [[F("../sentinel", b"pwned")]],
    "dotdot-nested": lambda j: [[D("a"), F("a/../../escaped")]],
    "dot-slash-dotdot": lambda j: [[F("./../escaped")]],
    "dotdot-dir": lambda j: [[D("../escaped-dir")]],
    "absolute-file": lambda j: [[F(ABS_NAME, b"x")]],
    "absolute-dir": lambda j: [[D(ABS_NAME)]],
    "absolute-jail-path": lambda j: [[F(str(j.sentinel), b"pwned")]],
    "symlink-to-root-same-layer": lambda j: [[S("d", "/"), F("d/etc/passwd", b"pwned")]],
    "symlink-to-root-across-layers": lambda j: [[S("d", "/")], [F("d/etc/passwd", b"pwned")]],
    "symlink-to-jail-same-layer": lambda j: [[S("d", str(j.parent)), F("d/sentinel", b"pwned")]],
    "symlink-to-jail-across-layers": lambda j: [[S("d", str(j.parent))], [F("d/sentinel", b"pwned")]],
    "symlink-to-jail-mkdir": lambda j: [[S("d", str(j.parent))], [D("d/newdir")]],
    "symlink-dotdot-same-layer": lambda j: [[S("d", "../../.."), F("d/escaped")]],
    "symlink-dotdot-across-layers": lambda j: [[S("d", "../../..")], [F("d/escaped")]],
    "symlink-dotdot-sentinel": lambda j: [[S("d", ".."), F("d/sentinel", b"pwned")]],
    "symlink-nested-dotdot": lambda j: [[D("sub"), S("sub/l", "../../x"), F("sub/l/escaped")]],
    "symlink-chain-to-absolute": lambda j: [[S("a", "b"), S("b", str(j.parent)), F("a/sentinel", b"pwned")]],
    "symlink-chain-dotdot": lambda j: [[D("x"), S("x/a", "../b"), S("b", "c/../.."), F("x/a/sentinel")]],
    "symlink-loop": lambda j: [[S("a", "b"), S("b", "a"), F("a/x")]],
    "symlink-self-loop": lambda j: [[S("a", "a/b"), F("a/x")]],
    "hardlink-absolute": lambda j: [[H("passwd", "/etc/passwd")]],
    "hardlink-absolute-jail": lambda j: [[H("s", str(j.sentinel))]],
    "hardlink-dotdot": lambda j: [[H("s", "../sentinel")]],
    "hardlink-dotdot-outside": lambda j: [[H("x", "../outside")]],
    "hardlink-through-absolute-symlink": lambda j: [[S("d", str(j.parent)), H("s", "d/sentinel")]],
    "hardlink-through-dotdot-symlink": lambda j: [[S("d", ".."), H("s", "d/sentinel")]],
    "hardlink-missing-target": lambda j: [[H("x", "nope")]],
    "hardlink-to-directory": lambda j: [[D("d"), H("x", "d")]],
    "hardlink-to-root": lambda j: [[H("x", ".")]],
    "whiteout-dotdot": lambda j: [[F("a/x")], [F("a/.wh..."), F("x")]],
    "whiteout-dot": lambda j: [[F("a/x")], [F("a/.wh..")]],
    "whiteout-through-absolute-symlink": lambda j: [[S("d", str(j.parent))], [WH("d/sentinel")]],
    "whiteout-through-dotdot-symlink": lambda j: [[S("d", "..")], [WH("d/sentinel")]],
    "opaque-through-absolute-symlink": lambda j: [[S("d", str(j.parent))], [OPQ("d")]],
    "opaque-through-dotdot-symlink": lambda j: [[S("d", "..")], [OPQ("d")]],
    "root-entry-symlink": lambda j: [[S("./", "/")]],
    "root-entry-file": lambda j: [[F(".", b"x")]],
    "too-deep": lambda j: [[F("/".join(["d"] * 300))]],
    "too-deep-through-symlinks": lambda j: [
        [F("/".join(["a"] * 200) + "/f"), S("s", "/".join(["a"] * 200))],
        [F("s/" + "/".join(["b"] * 100) + "/f")],
    ],
}


def _run_unpack(ops: list[Callable[[], BinaryIO]], jail: Jail, **kw: object) -> None:
    unpack(ops, jail.dest, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("case", sorted(REFUSED))
@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_unpack_refuses(case: str, compression: str, tmp_path: Path) -> None:
    jail = Jail.make(tmp_path)
    with pytest.raises(UnsafeLayer):
        _run_unpack(layers(*REFUSED[case](jail), compression=compression), jail)
    jail.assert_intact()
    assert sorted(os.listdir(tmp_path)) == ["jail"]
    assert not os.path.lexists(ABS_NAME)


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_union_refuses(case: str, tmp_path: Path) -> None:
    jail = Jail.make(tmp_path)
    with pytest.raises(UnsafeLayer):
        flatten(layers(*REFUSED[case](jail)))
    with pytest.raises(UnsafeLayer):
        export(layers(*REFUSED[case](jail)), io.BytesIO())
    jail.assert_intact()


def test_refusal_names_the_entry(tmp_path: Path) -> None:
    jail = Jail.make(tmp_path)
    with pytest.raises(UnsafeLayer, match=r"layer 2: .*'d/etc/passwd'.*d -> /"):
        _run_unpack(layers([S("d", "/")], [F("d/etc/passwd")]), jail)


# --------------------------------------------------------------------- defused, not refused


def test_final_symlink_is_replaced_not_followed(tmp_path: Path) -> None:
    jail = Jail.make(tmp_path)
    _run_unpack(
        layers(
            [S("f", str(jail.sentinel)), S("d", str(jail.parent)), S("h", str(jail.sentinel)), F("t", b"t")],
            [F("f", b"pwned"), D("d", mode=0o700), H("h", "t")],
        ),
        jail,
    )
    jail.assert_intact()
    assert (jail.dest / "f").read_bytes() == b"pwned" and not (jail.dest / "f").is_symlink()
    assert (jail.dest / "d").is_dir() and not (jail.dest / "d").is_symlink()
    assert (jail.dest / "h").read_bytes() == b"t"


def test_metadata_never_applied_through_symlinks(tmp_path: Path) -> None:
    """A symlink entry's owner, times and mode go to the link, never to its (host) target."""
    jail = Jail.make(tmp_path)
    before = os.stat(jail.sentinel)
    _run_unpack(layers([E("s", "symlink", target=str(jail.sentinel), mode=0o777, uid=1234, mtime=1)]), jail)
    after = os.stat(jail.sentinel)
    assert (after.st_mode, after.st_uid, after.st_mtime_ns) == (before.st_mode, before.st_uid, before.st_mtime_ns)
    assert os.readlink(jail.dest / "s") == str(jail.sentinel)
    jail.assert_intact()


def test_hardlink_to_symlink_links_the_symlink(tmp_path: Path) -> None:
    jail = Jail.make(tmp_path)
    _run_unpack(layers([S("s", str(jail.sentinel)), H("h", "s")]), jail)
    assert os.readlink(jail.dest / "h") == str(jail.sentinel)
    assert os.lstat(jail.dest / "h").st_ino == os.lstat(jail.dest / "s").st_ino
    assert os.stat(jail.sentinel).st_nlink == 1
    jail.assert_intact()


def test_absolute_symlinks_inside_are_not_followed_by_later_entries(tmp_path: Path) -> None:
    """Debian ships /etc/alternatives/* -> /usr/bin/...; replacing them must not touch the host."""
    jail = Jail.make(tmp_path)
    _run_unpack(
        layers(
            [D("etc"), D("etc/alternatives"), S("etc/alternatives/pager", str(jail.sentinel))],
            [F("etc/alternatives/pager", b"replaced")],
            [WH("etc/alternatives/pager")],
        ),
        jail,
    )
    assert not os.path.lexists(jail.dest / "etc/alternatives/pager")
    jail.assert_intact()


# --------------------------------------------------------------------- decompression bombs


def _zeros_tar_gzip(size: int) -> bytes:
    """A gzipped tar holding one file of ``size`` zero bytes, built without holding it in memory.

    zlib at level 9 reaches deflate's best ratio on zeros (about 1030:1).
    """
    info = tarfile.TarInfo("zeros")
    info.size = size
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [c.compress(info.tobuf(tarfile.PAX_FORMAT))]
    chunk = bytes(4 * MiB)
    left = size
    while left:
        n = min(left, len(chunk))
        out.append(c.compress(chunk[:n]))
        left -= n
    out.append(c.compress(bytes(-size % 512 + 1024)))
    out.append(c.flush())
    return b"".join(out)


BOMB = _zeros_tar_gzip(200 * MiB)


def test_bomb_default_ratio_limit(tmp_path: Path) -> None:
    assert len(BOMB) < 300_000
    jail = Jail.make(tmp_path)
    with pytest.raises(UnsafeLayer, match="decompression bomb"):
        _run_unpack(openers(BOMB), jail, limits=Limits())
    jail.assert_intact()
    written = sum(f.stat().st_size for f in jail.dest.rglob("*") if f.is_file())
    assert written <= 65 * MiB


def test_bomb_size_limit(tmp_path: Path) -> None:
    jail = Jail.make(tmp_path)
    with pytest.raises(UnsafeLayer, match="DOCKYARD_MAX_LAYER_SIZE"):
        _run_unpack(openers(BOMB), jail, limits=Limits(max_size=8 * MiB))
    jail.assert_intact()
    written = sum(f.stat().st_size for f in jail.dest.rglob("*") if f.is_file())
    assert written <= 8 * MiB


def test_bomb_in_union(tmp_path: Path) -> None:
    with pytest.raises(UnsafeLayer, match="decompression bomb"):
        flatten(openers(BOMB), Limits(max_size=8 * MiB))
    with pytest.raises(UnsafeLayer, match="decompression bomb"):
        export(openers(BOMB), io.BytesIO(), Limits(max_ratio=10, ratio_grace=1 * MiB))


def test_bomb_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKYARD_MAX_LAYER_SIZE", "4M")
    jail = Jail.make(tmp_path)
    with pytest.raises(UnsafeLayer, match="decompression bomb"):
        _run_unpack(openers(BOMB), jail)
    jail.assert_intact()


def test_too_many_entries(tmp_path: Path) -> None:
    jail = Jail.make(tmp_path)
    blob = make_tar([F(f"f{i}") for i in range(50)])
    with pytest.raises(UnsafeLayer, match="entries"):
        _run_unpack(openers(blob), jail, limits=Limits(max_entries=10))
    jail.assert_intact()


def test_nul_in_name_refused(tmp_path: Path) -> None:
    info = tarfile.TarInfo("x")
    info.pax_headers = {"path": "a\0/../../b"}
    blob = info.tobuf(tarfile.PAX_FORMAT) + bytes(1024)
    jail = Jail.make(tmp_path)
    with pytest.raises(UnsafeLayer):
        _run_unpack(openers(blob), jail)
    jail.assert_intact()


def test_many_markers_stay_cheap(tmp_path: Path) -> None:
    """Repeated opaque markers and whiteouts are applied once per layer (no quadratic walks)."""
    lower = [F(f"d/lower{i}") for i in range(1000)]
    upper: list[E] = []
    for i in range(2000):
        upper += [F(f"d/f{i}"), OPQ("d"), WH("d")]
    ops = layers(lower, upper)
    t = time.monotonic()
    unpack(ops, tmp_path / "r")
    assert sorted(os.listdir(tmp_path / "r" / "d")) == sorted(f"f{i}" for i in range(2000))
    assert len(flatten(ops)) == 2001
    assert time.monotonic() - t < 15
