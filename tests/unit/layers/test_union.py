from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from layer_scenarios import SCENARIOS, fs_from_dir, fs_from_tar, fs_shape, shape_from_entries
from layertar_helpers import OPQ, WH, D, E, F, H, S, layers, openers

from dockyard.layers.union import Entry, export, flatten
from dockyard.layers.unpack import unpack


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_flatten_scenarios(name: str) -> None:
    sc = SCENARIOS[name]
    entries = flatten(layers(*sc.layers))
    assert shape_from_entries(entries) == fs_shape(sc.expected)


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_export_scenarios(name: str, compression: str) -> None:
    sc = SCENARIOS[name]
    out = io.BytesIO()
    export(layers(*sc.layers, compression=compression), out)
    assert fs_from_tar(out.getvalue()) == sc.expected


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_export_then_unpack_equals_unpack(name: str, tmp_path: Path) -> None:
    sc = SCENARIOS[name]
    out = io.BytesIO()
    export(layers(*sc.layers), out)
    unpack(openers(out.getvalue()), tmp_path / "a")
    assert fs_from_dir(tmp_path / "a") == sc.expected


def test_flatten_entry_metadata() -> None:
    entries = flatten(
        layers(
            [
                D("usr", mode=0o755),
                D("usr/bin"),
                E("usr/bin/su", data=b"su", mode=0o4755, uid=0, gid=0, mtime=1_700_000_000.5),
                D("tmp", mode=0o1777),
                D("srv", mode=0o2775, uid=33, gid=33, uname="www-data", gname="www-data"),
                E("bin/ping", data=b"p", mode=0o755, xattrs={"security.capability": b"\x01\x02"}),
                E("dev/null", "char", mode=0o666, devmajor=1, devminor=3),
                E("run/fifo", "fifo", mode=0o600),
            ]
        )
    )
    by = {e.path: e for e in entries}
    assert [e.path for e in entries] == [
        "bin",
        "bin/ping",
        "dev",
        "dev/null",
        "run",
        "run/fifo",
        "srv",
        "tmp",
        "usr",
        "usr/bin",
        "usr/bin/su",
    ]
    su = by["usr/bin/su"]
    assert (su.kind, su.mode, su.size, su.mtime_ns, su.layer) == ("file", 0o4755, 2, 1_700_000_000_500_000_000, 0)
    assert by["tmp"].mode == 0o1777
    srv = by["srv"]
    assert (srv.mode, srv.uid, srv.gid, srv.uname) == (0o2775, 33, 33, "www-data")
    assert by["bin/ping"].xattr_dict == {"security.capability": b"\x01\x02"}
    assert (by["dev/null"].kind, by["dev/null"].devmajor, by["dev/null"].devminor) == ("char", 1, 3)
    assert by["run/fifo"].kind == "fifo"
    assert (by["bin"].layer, by["bin"].mode, by["bin"].mtime_ns) == (0, 0o755, 0)  # implied directory


def test_flatten_hardlink_entries() -> None:
    entries = flatten(layers([F("z", b"data"), H("a", "z"), H("m", "z")], [WH("z")]))
    assert [(e.path, e.kind, e.linkname) for e in entries] == [("a", "file", ""), ("m", "hardlink", "a")]
    assert entries[0].size == 4


def test_flatten_layer_index() -> None:
    entries = flatten(layers([D("a"), F("a/x"), F("a/y")], [D("a", mode=0o700), F("a/x", b"new")]))
    by = {e.path: e for e in entries}
    assert (by["a"].layer, by["a"].mode) == (1, 0o700)
    assert by["a/x"].layer == 1
    assert by["a/y"].layer == 0


def _members(blob: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        return tar.getmembers()


def test_export_tar_format() -> None:
    out = io.BytesIO()
    export(
        layers(
            [
                D("./"),
                D("etc"),
                F("etc/passwd", b"root:x:0:0\n", mtime=1_650_000_000),
                E("usr/bin/sudo", data=b"s", mode=0o4711, uid=0, gid=0),
                D("var/mail", mode=0o2775, gid=8),
                E("bin/ping", data=b"p", mode=0o755, xattrs={"security.capability": b"\x01\x00\xff"}),
                S("etc/localtime", "/usr/share/zoneinfo/UTC"),
                F("etc/gone", b"bye"),
                F("etc/shadow", b"secret", mode=0o640, gid=42),
                H("etc/shadow-", "etc/shadow"),
                E("dev/null", "char", mode=0o666, devmajor=1, devminor=3),
            ],
            [WH("etc/gone"), OPQ("var"), D("var/mail", mode=0o2775, gid=8)],
        ),
        out,
    )
    blob = out.getvalue()
    assert len(blob) % 10240 == 0
    ms = {m.name.rstrip("/"): m for m in _members(blob)}
    assert not any(".wh." in n for n in ms)
    assert "etc/gone" not in ms and "." not in ms and "" not in ms
    assert ms["usr/bin/sudo"].mode == 0o4711
    assert ms["var/mail"].mode == 0o2775 and ms["var/mail"].gid == 8
    assert ms["etc/passwd"].mtime == 1_650_000_000
    assert ms["etc/localtime"].issym() and ms["etc/localtime"].linkname == "/usr/share/zoneinfo/UTC"
    assert ms["etc/shadow-"].islnk() and ms["etc/shadow-"].linkname == "etc/shadow"
    assert ms["dev/null"].ischr() and (ms["dev/null"].devmajor, ms["dev/null"].devminor) == (1, 3)
    cap = ms["bin/ping"].pax_headers["SCHILY.xattr.security.capability"]
    assert cap.encode("utf-8", "surrogateescape") == b"\x01\x00\xff"
    # Parents come before children; hard links after their targets.
    order = [m.name.rstrip("/") for m in _members(blob)]
    for i, name in enumerate(order):
        parent = name.rpartition("/")[0]
        if parent:
            assert parent in order[:i], name
    assert order.index("etc/shadow-") > order.index("etc/shadow")


def test_export_to_non_seekable_stream() -> None:
    class WriteOnly(io.RawIOBase):
        def __init__(self) -> None:
            self.buf = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b: object) -> int:
            data = bytes(b)  # type: ignore[call-overload]
            self.buf += data
            return len(data)

    out = WriteOnly()
    export(layers([F("a", b"x" * 100_000), D("d")]), out)  # type: ignore[arg-type]
    assert fs_from_tar(bytes(out.buf)) == {"a": ("file", b"x" * 100_000), "d": "dir"}


def test_export_reads_only_layers_with_surviving_files() -> None:
    opened: list[int] = []
    ops = layers([F("a", b"1")], [D("d")], [F("a", b"3")])

    def opener(i: int):  # type: ignore[no-untyped-def]
        def op():  # type: ignore[no-untyped-def]
            opened.append(i)
            return ops[i]()

        return op

    out = io.BytesIO()
    export([opener(i) for i in range(3)], out)
    assert opened == [0, 1, 2, 2]  # one pass each, then only layer 3 again for the content of "a"
    assert fs_from_tar(out.getvalue()) == {"a": ("file", b"3"), "d": "dir"}


def test_export_big_file_streams(tmp_path: Path) -> None:
    big = bytes(range(256)) * 40_000  # 10 MB
    out = io.BytesIO()
    export(layers([F("big", big)], compression="gzip"), out)
    assert fs_from_tar(out.getvalue())["big"] == ("file", big)


def test_flatten_entry_is_hashable() -> None:
    (e,) = flatten(layers([F("a")]))
    assert isinstance(e, Entry)
    assert {e: 1}[e] == 1
