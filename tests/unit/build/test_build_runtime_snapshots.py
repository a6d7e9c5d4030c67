"""Layer snapshots in overlayfs form: whiteouts as 0/0 character devices, opaque markers as the
trusted.overlay.opaque xattr, cached by diff ID, atomic, safe against hostile layers, pruned."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path
from typing import BinaryIO

import pytest

from dockyard.build.runtime import Snapshots
from dockyard.build.runtime.snapshots import OPAQUE_XATTR
from dockyard.errors import InvalidInput, UnsafeLayer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="whiteout devices and trusted.* xattrs need root")


def _tar(entries: list[tuple[str, bytes | None, dict[str, str]]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, pax in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_600_000_000
            info.pax_headers = pax
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _diff_id(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


LAYER = _tar(
    [
        ("etc/", None, {}),
        ("etc/.wh.issue", b"", {}),
        ("etc/.wh..wh..opq", b"", {}),  # before its directory's other entries
        ("etc/new.conf", b"new\n", {}),
        ("var/", None, {"SCHILY.xattr.trusted.overlay.redirect": "/x", "SCHILY.xattr.user.kept": "1"}),
        ("var/lib/.wh..wh..opq", b"", {}),  # an opaque marker whose directory has no entry of its own
        ("usr/.wh.share", b"", {}),
        ("usr/share", b"replaced", {}),  # the same layer writes the path it whites out: the file wins
    ]
)


def test_overlayfs_form(tmp_path: Path) -> None:
    raw = gzip.compress(LAYER)
    snaps = Snapshots(tmp_path / "snaps")
    path = snaps.layer(_diff_id(LAYER), lambda: io.BytesIO(raw))
    issue = os.lstat(path / "etc/issue")
    assert stat.S_ISCHR(issue.st_mode) and issue.st_rdev == 0
    assert os.getxattr(path / "etc", OPAQUE_XATTR) == b"y"
    assert os.getxattr(path / "var/lib", OPAQUE_XATTR) == b"y"
    assert (path / "etc/new.conf").read_bytes() == b"new\n"
    assert (path / "usr/share").read_bytes() == b"replaced"
    assert os.stat(path / "etc").st_mtime == 1_600_000_000  # directory times set after their children
    assert "trusted.overlay.redirect" not in os.listxattr(path / "var")
    assert os.getxattr(path / "var", "user.kept") == b"1"
    assert sorted(os.listdir(tmp_path / "snaps")) == [path.name]


def test_cached_by_diff_id(tmp_path: Path) -> None:
    snaps = Snapshots(tmp_path)
    calls = []

    def opener() -> BinaryIO:
        calls.append(1)
        return io.BytesIO(LAYER)

    first = snaps.layer(_diff_id(LAYER), opener)
    assert snaps.layer(_diff_id(LAYER), opener) == first
    assert len(calls) == 1


def test_hostile_layer_leaves_nothing(tmp_path: Path) -> None:
    bad = _tar([("ok", b"1", {}), ("../escape", b"x", {})])
    snaps = Snapshots(tmp_path / "snaps")
    with pytest.raises(UnsafeLayer):
        snaps.layer(_diff_id(bad), lambda: io.BytesIO(bad))
    assert os.listdir(tmp_path / "snaps") == []
    assert not (tmp_path / "escape").exists()
    with pytest.raises(InvalidInput):
        snaps.layer("sha256:nothex", lambda: io.BytesIO(bad))


def test_prune_keeps_what_is_asked(tmp_path: Path) -> None:
    other = _tar([("big", b"z" * 5000, {})])
    snaps = Snapshots(tmp_path)
    keep = snaps.layer(_diff_id(LAYER), lambda: io.BytesIO(LAYER))
    gone = snaps.layer(_diff_id(other), lambda: io.BytesIO(other))
    (tmp_path / "tmp-leftover").mkdir()
    assert snaps.prune([_diff_id(LAYER)]) == 5000
    assert keep.is_dir() and not gone.exists() and not (tmp_path / "tmp-leftover").exists()
    assert Snapshots(tmp_path / "missing").prune([]) == 0
