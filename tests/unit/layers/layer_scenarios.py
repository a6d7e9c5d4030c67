"""Layer stacks with their expected final file system, shared by the union and unpack tests."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from layertar_helpers import OPQ, WH, D, E, F, H, S

from dockyard.layers.union import Entry

#: path -> "dir" | ("file", content) | ("symlink", target)
FS = dict[str, object]


@dataclass
class Scenario:
    layers: Sequence[Sequence[E]]
    expected: FS


MERGED_USR = [D("usr"), D("usr/lib"), S("lib", "usr/lib"), F("usr/lib/a", b"a")]

SCENARIOS: dict[str, Scenario] = {
    "override": Scenario(
        [[D("a"), F("a/x", b"1"), F("a/y", b"1")], [F("a/x", b"2")]],
        {"a": "dir", "a/x": ("file", b"2"), "a/y": ("file", b"1")},
    ),
    "override-same-layer": Scenario(
        [[F("x", b"1"), F("x", b"2"), D("d"), F("d", b"3")]],
        {"x": ("file", b"2"), "d": ("file", b"3")},
    ),
    "whiteout-file": Scenario(
        [[D("a"), F("a/x"), F("a/y")], [WH("a/x")]],
        {"a": "dir", "a/y": ("file", b"")},
    ),
    "whiteout-dir": Scenario(
        [[D("a"), D("a/b"), F("a/b/c"), F("top")], [WH("a/b")]],
        {"a": "dir", "top": ("file", b"")},
    ),
    "whiteout-missing-is-ignored": Scenario(
        [[F("x")], [WH("nothing"), WH("no/such/dir")]],
        {"x": ("file", b"")},
    ),
    "opaque-marker-first": Scenario(
        [
            [D("a"), F("a/old"), D("a/sub"), F("a/sub/old2"), F("keep")],
            [D("a"), OPQ("a"), F("a/new", b"n")],
        ],
        {"a": "dir", "a/new": ("file", b"n"), "keep": ("file", b"")},
    ),
    "opaque-marker-last": Scenario(
        [
            [D("a"), F("a/old"), D("a/sub"), F("a/sub/old2")],
            [D("a"), F("a/new", b"n"), D("a/sub"), F("a/sub/new2", b"m"), OPQ("a")],
        ],
        {"a": "dir", "a/new": ("file", b"n"), "a/sub": "dir", "a/sub/new2": ("file", b"m")},
    ),
    "opaque-root": Scenario(
        [[F("x"), D("d")], [OPQ(""), F("y", b"y")]],
        {"y": ("file", b"y")},
    ),
    "whiteout-keeps-same-layer-entry": Scenario(
        [[F("x", b"1"), F("y", b"1")], [F("x", b"2"), WH("x"), WH("y"), F("y", b"3")]],
        {"x": ("file", b"2"), "y": ("file", b"3")},
    ),
    "whiteout-dir-then-readd": Scenario(
        [[D("a"), F("a/old"), D("a/d"), F("a/d/old")], [WH("a"), D("a"), F("a/new", b"n")]],
        {"a": "dir", "a/new": ("file", b"n")},
    ),
    "whiteout-after-readd": Scenario(
        [[D("a"), F("a/old"), D("a/d"), F("a/d/old")], [D("a"), F("a/new", b"n"), WH("a")]],
        {"a": "dir", "a/new": ("file", b"n")},
    ),
    "dir-replaced-by-file": Scenario(
        [[D("a"), D("a/b"), F("a/b/x")], [F("a", b"file")]],
        {"a": ("file", b"file")},
    ),
    "file-replaced-by-dir": Scenario(
        [[F("a", b"f")], [D("a"), F("a/x", b"x")]],
        {"a": "dir", "a/x": ("file", b"x")},
    ),
    "symlink-replaced-by-dir": Scenario(
        [[S("a", "b"), D("b"), F("b/x")], [D("a"), F("a/y")]],
        {"a": "dir", "a/y": ("file", b""), "b": "dir", "b/x": ("file", b"")},
    ),
    "symlink-replaced-by-file": Scenario(
        [[D("b"), F("b/x", b"orig"), S("a", "b/x")], [F("a", b"new")]],
        {"a": ("file", b"new"), "b": "dir", "b/x": ("file", b"orig")},
    ),
    "merged-usr": Scenario(
        [MERGED_USR, [F("lib/b", b"b"), D("lib/sub"), F("lib/sub/c", b"c")]],
        {
            "usr": "dir",
            "usr/lib": "dir",
            "usr/lib/a": ("file", b"a"),
            "usr/lib/b": ("file", b"b"),
            "usr/lib/sub": "dir",
            "usr/lib/sub/c": ("file", b"c"),
            "lib": ("symlink", "usr/lib"),
        },
    ),
    "whiteout-through-merged-usr": Scenario(
        [MERGED_USR, [WH("lib/a")]],
        {"usr": "dir", "usr/lib": "dir", "lib": ("symlink", "usr/lib")},
    ),
    "symlink-parent-with-dotdot": Scenario(
        [[D("a"), D("b"), S("a/up", "../b")], [F("a/up/f", b"f")]],
        {"a": "dir", "b": "dir", "a/up": ("symlink", "../b"), "b/f": ("file", b"f")},
    ),
    "symlink-parent-to-missing-dir": Scenario(
        [[S("a", "b")], [F("a/f", b"f")]],
        {"a": ("symlink", "b"), "b": "dir", "b/f": ("file", b"f")},
    ),
    "absolute-symlinks-kept": Scenario(
        [[S("proc", "/proc"), D("etc"), D("etc/alternatives"), S("etc/alternatives/vi", "/usr/bin/vim")]],
        {
            "proc": ("symlink", "/proc"),
            "etc": "dir",
            "etc/alternatives": "dir",
            "etc/alternatives/vi": ("symlink", "/usr/bin/vim"),
        },
    ),
    "absolute-symlink-replaced": Scenario(
        [[S("proc", "/proc"), S("x", "/etc/passwd")], [D("proc"), F("proc/f"), F("x", b"mine")]],
        {"proc": "dir", "proc/f": ("file", b""), "x": ("file", b"mine")},
    ),
    "hardlinks": Scenario(
        [[F("a", b"x"), H("b", "a"), D("d"), H("d/c", "b")]],
        {"a": ("file", b"x"), "b": ("file", b"x"), "d": "dir", "d/c": ("file", b"x")},
    ),
    "hardlink-target-whited-out": Scenario(
        [[F("a", b"data"), H("b", "a")], [WH("a")]],
        {"b": ("file", b"data")},
    ),
    "hardlink-target-replaced": Scenario(
        [[F("a", b"old"), H("b", "a")], [F("a", b"new")]],
        {"a": ("file", b"new"), "b": ("file", b"old")},
    ),
    "hardlink-to-symlink": Scenario(
        [[S("s", "target"), H("h", "s")]],
        {"s": ("symlink", "target"), "h": ("symlink", "target")},
    ),
    "hardlink-through-merged-usr": Scenario(
        [MERGED_USR, [H("lib/a2", "lib/a")]],
        {
            "usr": "dir",
            "usr/lib": "dir",
            "usr/lib/a": ("file", b"a"),
            "usr/lib/a2": ("file", b"a"),
            "lib": ("symlink", "usr/lib"),
        },
    ),
    "implicit-parents": Scenario(
        [[F("deep/er/file", b"x")]],
        {"deep": "dir", "deep/er": "dir", "deep/er/file": ("file", b"x")},
    ),
    "root-entry-and-dot-slash": Scenario(
        [[D("./", mode=0o750), D("./etc/"), F("./etc/x", b"x")], [D("."), F("./etc/y")]],
        {"etc": "dir", "etc/x": ("file", b"x"), "etc/y": ("file", b"")},
    ),
    "whiteout-below-a-file-is-ignored": Scenario(
        [[F("a", b"a")], [WH("a/b"), OPQ("a")]],
        {"a": ("file", b"a")},
    ),
    "repeated-whiteouts-and-opaques": Scenario(
        [[D("d"), F("d/old"), F("x")], [OPQ("d"), F("d/new"), OPQ("d"), WH("x"), F("x", b"2"), WH("x")]],
        {"d": "dir", "d/new": ("file", b""), "x": ("file", b"2")},
    ),
    "aufs-metadata-ignored": Scenario(
        [[F(".wh..wh.plnk/1.2"), D(".wh..wh.aufs"), F("x")]],
        {"x": ("file", b"")},
    ),
}


def fs_from_dir(root: Path) -> FS:
    out: FS = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = ("symlink", os.readlink(p))
            elif p.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = ("file", p.read_bytes())
    return dict(sorted(out.items()))


def fs_from_tar(blob: bytes) -> FS:
    out: FS = {}
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        for m in tar.getmembers():
            name = m.name.rstrip("/")
            if m.isdir():
                out[name] = "dir"
            elif m.issym():
                out[name] = ("symlink", m.linkname)
            elif m.islnk():
                out[name] = out[m.linkname]
            elif m.isfile():
                f = tar.extractfile(m)
                assert f is not None
                out[name] = ("file", f.read())
    return dict(sorted(out.items()))


def fs_shape(fs: FS) -> dict[str, object]:
    """Kinds and symlink targets only (what ``flatten`` can tell without contents)."""
    return {p: (v if v == "dir" or (isinstance(v, tuple) and v[0] == "symlink") else "file") for p, v in fs.items()}


def shape_from_entries(entries: list[Entry]) -> dict[str, object]:
    by_path = {e.path: e for e in entries}
    out: dict[str, object] = {}
    for e in entries:
        k = e
        if e.kind == "hardlink":
            k = by_path[e.linkname]
        if k.kind == "dir":
            out[e.path] = "dir"
        elif k.kind == "symlink":
            out[e.path] = ("symlink", k.linkname)
        else:
            out[e.path] = "file"
    return dict(sorted(out.items()))
