"""dockyard's unpack against the real ``umoci unpack``, on an image umoci itself built layer by layer."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest
from fixtures_util import require_tool
from layertar_helpers import OPQ, WH, D, F, H, make_tar

from dockyard.layers.tree import EntryInfo, diff, snapshot
from dockyard.layers.union import export, flatten
from dockyard.layers.unpack import unpack

pytestmark = [pytest.mark.interop]


@pytest.fixture(autouse=True)
def _umoci_present() -> None:
    require_tool("umoci")  # skips on a developer machine without it; fails in CI, where make deps installs it


ROOT = os.geteuid() == 0
ROOTLESS = [] if ROOT else ["--rootless"]
T0 = 1_600_000_000


def umoci(*args: object) -> None:
    proc = subprocess.run(["umoci", *map(str, args)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"umoci {' '.join(map(str, args))} failed:\n{proc.stderr}"


def _write(path: Path, data: bytes, mode: int = 0o644, mtime: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chmod(path, mode)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def _chown(path: Path, uid: int, gid: int) -> None:
    if ROOT:
        os.lchown(path, uid, gid)


def _try_xattr(path: Path, name: str, value: bytes) -> bool:
    try:
        os.setxattr(path, name, value)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
            return False
        raise
    return True


def _layer1(r: Path) -> None:
    for d in ("etc", "usr/bin", "usr/lib", "usr/share/doc/pkg", "home/user", "run", "etc/alternatives"):
        (r / d).mkdir(parents=True, exist_ok=True)
    (r / "tmp").mkdir()
    os.chmod(r / "tmp", 0o1777)
    (r / "var/mail").mkdir(parents=True)
    _chown(r / "var/mail", 0, 8)
    os.chmod(r / "var/mail", 0o2775)
    os.chmod(r / "home/user", 0o750)
    _chown(r / "home/user", 1000, 1000)
    _write(r / "etc/hostname", b"box\n", mtime=T0)
    _try_xattr(r / "etc/hostname", "user.dockyard", b"\x00xattr\xff")
    _write(r / "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    _write(r / "etc/motd", b"welcome\n")
    _write(r / "usr/bin/tool", b"#!/bin/sh\necho tool\n", 0o755, mtime=T0 + 1)
    os.link(r / "usr/bin/tool", r / "usr/bin/tool-hl")
    _write(r / "usr/bin/sudo", b"sudo binary", 0o4755)
    _write(r / "usr/bin/wall", b"wall binary")
    _chown(r / "usr/bin/wall", 0, 5)
    os.chmod(r / "usr/bin/wall", 0o2755)  # after chown, which clears setgid
    _write(r / "usr/lib/libfoo.so.1", b"\x7fELF libfoo")
    os.symlink("libfoo.so.1", r / "usr/lib/libfoo.so")
    _write(r / "usr/share/doc/pkg/README", b"read me")
    _write(r / "home/user/.profile", b"PS1=$\n")
    _chown(r / "home/user/.profile", 1000, 1000)
    os.symlink("usr/lib", r / "lib")
    os.symlink("usr/bin", r / "bin")
    os.symlink("/proc", r / "proc")
    os.symlink("/usr/bin/tool", r / "etc/alternatives/editor")
    os.symlink("/usr/share/zoneinfo/UTC", r / "etc/localtime")
    os.symlink("../../etc/hostname", r / "usr/share/hostname-link")
    os.mkfifo(r / "run/fifo", 0o600)
    os.utime(r / "usr/share/doc/pkg", (T0 + 5, T0 + 5))


def _layer2(r: Path) -> None:
    (r / "etc/hostname").unlink()
    shutil.rmtree(r / "usr/share/doc/pkg")
    shutil.rmtree(r / "var/mail")
    _write(r / "var/mail", b"now a file")
    (r / "etc/motd").unlink()
    _write(r / "etc/motd/inside", b"motd is a directory now")
    (r / "etc/alternatives/editor").unlink()
    _write(r / "etc/alternatives/editor", b"a plain file")
    (r / "usr/bin/tool").unlink()  # a new inode: tool-hl keeps the old content
    _write(r / "usr/bin/tool", b"#!/bin/sh\necho tool v2\n", 0o755)
    os.chmod(r / "usr/bin/sudo", 0o4711)
    _chown(r / "home/user/.profile", 1001, 1001)
    _write(r / "usr/lib/libbar.so.2", b"\x7fELF libbar", mtime=T0 + 2)
    _write(r / "usr/share/new/file", b"new in layer 2")
    (r / "run/fifo").unlink()


def _layer3_tar() -> bytes:
    """A hand-made layer (``umoci raw add-layer``): opaque marker after same-layer entries, entries
    through the merged-usr symlink, a whiteout after a re-add, a hard link to a lower file."""
    return make_tar(
        [
            D("./", mode=0o755, mtime=T0 + 10),
            D("usr/lib", mode=0o755, mtime=T0 + 11),
            F("usr/lib/libnew.so.3", b"\x7fELF libnew", mtime=T0 + 12),
            F("lib/via-link", b"written through lib -> usr/lib", mtime=T0 + 13),
            OPQ("usr/lib"),
            F("home/user/.profile", b"replaced", mtime=T0 + 14, uid=1000, gid=1000),
            WH("home/user/.profile"),
            H("usr/bin/tool-hl2", "usr/bin/tool-hl"),
            WH("usr/share/new"),
            D("srv", mode=0o2750, uid=33, gid=33, mtime=T0 + 15),
            F("srv/index.html", b"<html/>", mode=0o640, uid=33, gid=33, mtime=T0 + 16),
        ]
    )


def _layer_openers(layout: Path, tag: str) -> list[Callable[[], BinaryIO]]:
    index = json.loads((layout / "index.json").read_text())
    (desc,) = [m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == tag]

    def blob(digest: str) -> Path:
        alg, _, hex_ = digest.partition(":")
        return layout / "blobs" / alg / hex_

    manifest = json.loads(blob(desc["digest"]).read_text())
    paths = [blob(layer["digest"]) for layer in manifest["layers"]]
    return [(lambda p=p: open(p, "rb")) for p in paths]


@pytest.fixture(scope="module")
def umoci_image(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An OCI layout with three layers made by umoci, and umoci's own unpacking of it."""
    tmp = tmp_path_factory.mktemp("umoci")
    layout, bundle = tmp / "L", tmp / "B"
    umoci("init", "--layout", layout)
    umoci("new", "--image", f"{layout}:t")
    umoci("unpack", *ROOTLESS, "--image", f"{layout}:t", bundle)
    rootfs = bundle / "rootfs"
    _layer1(rootfs)
    umoci("repack", "--refresh-bundle", "--image", f"{layout}:t", bundle)
    _layer2(rootfs)
    umoci("repack", "--refresh-bundle", "--image", f"{layout}:t", bundle)
    layer3 = tmp / "layer3.tar"
    layer3.write_bytes(_layer3_tar())
    umoci("raw", "add-layer", "--image", f"{layout}:t", layer3)
    unpacked = tmp / "U"
    umoci("unpack", *ROOTLESS, "--image", f"{layout}:t", unpacked)
    return layout, unpacked / "rootfs"


def _comparable(snap: dict[str, EntryInfo]) -> dict[str, EntryInfo]:
    if ROOT:
        return snap
    # Rootless umoci keeps owners in a user.rootlesscontainers xattr; compare the rest.
    return {p: EntryInfo(e.kind, e.mode, 0, 0, e.target, e.sha256, e.size, e.rdev, ()) for p, e in snap.items()}


@pytest.mark.skipif(not ROOT, reason="umoci without root maps owners into xattrs")
def test_unpack_matches_umoci(umoci_image: tuple[Path, Path], tmp_path: Path) -> None:
    layout, umoci_rootfs = umoci_image
    dest = tmp_path / "D"
    warnings: list[str] = []
    report = unpack(_layer_openers(layout, "t"), dest, devices=True, on_warning=warnings.append)
    assert report.layers == 3
    ours, theirs = snapshot(dest), snapshot(umoci_rootfs)
    assert diff(theirs, ours) == []
    assert ours == theirs
    # Times too (directories' included: both set them from the last header that named them).
    times = {p: (e.mtime_ns, theirs[p].mtime_ns) for p, e in ours.items() if e.mtime_ns != theirs[p].mtime_ns}
    assert times == {}
    # Hard links: tool-hl, tool-hl2 share the first tool's inode; tool is a new file.
    assert ours["usr/bin/tool-hl"].nlink == 2 == theirs["usr/bin/tool-hl"].nlink
    # Spot checks of what the layers did.
    assert "etc/hostname" not in ours and "usr/share/doc" in ours and "usr/share/doc/pkg" not in ours
    assert ours["var/mail"].kind == "file" and ours["etc/motd"].kind == "dir"
    assert ours["proc"].target == "/proc"
    assert ours["usr/bin/sudo"].mode == 0o4711 and ours["usr/bin/wall"].mode == 0o2755
    assert ours["tmp"].mode == 0o1777
    assert sorted(p for p in ours if p.startswith("usr/lib/")) == ["usr/lib/libnew.so.3", "usr/lib/via-link"]
    assert ours["lib"].kind == "symlink"
    assert "home/user/.profile" in ours and ours["home/user/.profile"].sha256 is not None
    assert "usr/share/new" not in ours


@pytest.mark.skipif(not ROOT, reason="umoci without root maps owners into xattrs")
def test_export_matches_umoci(umoci_image: tuple[Path, Path], tmp_path: Path) -> None:
    layout, umoci_rootfs = umoci_image
    out = io.BytesIO()
    export(_layer_openers(layout, "t"), out)
    blob = out.getvalue()
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        names = [m.name.rstrip("/") for m in tar.getmembers()]
    assert not any(".wh." in n for n in names)
    dest = tmp_path / "E"
    unpack([lambda: io.BytesIO(blob)], dest, devices=True)
    ours = snapshot(dest, include_root=False)
    theirs = snapshot(umoci_rootfs, include_root=False)
    assert diff(theirs, ours) == []
    entries = {e.path: e for e in flatten(_layer_openers(layout, "t"))}
    assert sorted(entries) == sorted(theirs)


def test_unpack_matches_umoci_rootless(umoci_image: tuple[Path, Path], tmp_path: Path) -> None:
    if ROOT:
        pytest.skip("covered exactly by test_unpack_matches_umoci")
    layout, umoci_rootfs = umoci_image
    dest = tmp_path / "D"
    unpack(_layer_openers(layout, "t"), dest)
    assert _comparable(snapshot(dest)) == _comparable(snapshot(umoci_rootfs))
