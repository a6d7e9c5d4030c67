"""An overlay upper directory as a layer tar, with the header rules of containerd's archive writer
(what BuildKit writes): entries depth first in byte order of names, PAX where needed, empty user and group
names, modification times truncated to seconds (clamped to ``epoch`` when given), whiteouts as empty
``.wh.<name>`` files, an opaque directory followed by its ``.wh..wh..opq`` marker, hard links within the
layer as tar links, sockets skipped, extended attributes kept but ``trusted.overlay.*``."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from dockyard.build.runtime.snapshots import OPAQUE_XATTR, OVERLAY_XATTR_PREFIX
from dockyard.layers.tarpath import OPAQUE_MARKER, WHITEOUT_PREFIX, Parts, split_path
from dockyard.layers.tarstream import BLOCKDEV, CHAR, DIR, FIFO, FILE, HARDLINK, SYMLINK, header_bytes, padding

_CHUNK: Final = 1 << 20
_NS: Final = 1_000_000_000
#: What Go's tar.Writer.Close writes: two zero blocks, no record padding.
_END: Final = bytes(1024)


@dataclass(frozen=True)
class DiffResult:
    """The layer written: its digest (``sha256:...``), its size in bytes, its count of tar entries."""

    diff_id: str
    size: int
    entries: int


class _Out:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.hash = hashlib.sha256()
        self.size = 0
        self.entries = 0

    def write(self, data: bytes | memoryview) -> None:
        self.out.write(data)
        self.hash.update(data)
        self.size += len(data)


def _xattrs(path: str) -> dict[str, bytes]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return {}
        raise
    out = {}
    for name in names:
        if name.startswith(OVERLAY_XATTR_PREFIX):
            continue
        try:
            out[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError as e:
            if e.errno != errno.ENODATA:
                raise
    return out


def _dir_meta(path: str) -> tuple[int, int, int, int, dict[str, bytes]] | None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(st.st_mode):
        return None
    return st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns // _NS, _xattrs(path)


class _Writer:
    def __init__(self, upper: Path, out: BinaryIO, exclude: Collection[str], epoch: int | None,
                 lowers: Sequence[Path]) -> None:  # fmt: skip
        self.upper = os.fspath(upper)
        self.o = _Out(out)
        self.exclude = {split_path(p.lstrip("/")) for p in exclude}
        self.epoch_ns = None if epoch is None else epoch * _NS
        self.lowers_top_first = [os.fspath(p) for p in reversed(lowers)]
        self.links: dict[tuple[int, int], str] = {}

    def mtime(self, st: os.stat_result) -> int:
        ns = (st.st_mtime_ns // _NS) * _NS
        if self.epoch_ns is not None and ns > self.epoch_ns:
            ns = self.epoch_ns
        return ns

    def header(self, name: str, kind: str, **kw: object) -> None:
        self.o.write(header_bytes(name, kind, **kw))  # type: ignore[arg-type]
        self.o.entries += 1

    def unchanged_dir(self, rel: str, st: os.stat_result, path: str) -> bool:
        """A directory only copied up (BuildKit's overlay differ leaves those out): same metadata below."""
        for lower in self.lowers_top_first:
            meta = _dir_meta(os.path.join(lower, rel))
            if meta is None:
                if os.path.lexists(os.path.join(lower, rel)):
                    return False
                continue
            return meta == (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns // _NS, _xattrs(path))
        return False

    def walk(self, parts: Parts) -> bool:
        """Write the entries below the directory ``parts``; whether any was written."""
        dirpath = os.path.join(self.upper, *parts)
        wrote = False
        for name in sorted(os.listdir(dirpath), key=os.fsencode):
            child = (*parts, name)
            if child in self.exclude:
                continue
            wrote |= self.entry(child)
        return wrote

    def entry(self, parts: Parts) -> bool:
        path = os.path.join(self.upper, *parts)
        rel = "/".join(parts)
        st = os.lstat(path)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            return self.directory(parts, rel, path, st)
        if stat.S_ISCHR(mode) and st.st_rdev == 0:
            whiteout = "/".join((*parts[:-1], WHITEOUT_PREFIX + parts[-1]))
            # containerd writes one time for all whiteouts: the epoch when given (here: else the device's).
            wh_time = self.epoch_ns if self.epoch_ns is not None else self.mtime(st)
            self.header(whiteout, FILE, mode=0, mtime_ns=wh_time)
            return True
        if stat.S_ISSOCK(mode):
            return False
        xattrs = _xattrs(path)
        common: dict[str, object] = {
            "mode": mode & 0o7777, "uid": st.st_uid, "gid": st.st_gid, "mtime_ns": self.mtime(st), "xattrs": xattrs,
        }  # fmt: skip
        if st.st_nlink > 1:
            first = self.links.get((st.st_dev, st.st_ino))
            if first is not None:
                self.header(rel, HARDLINK, linkname=first, **common)
                return True
            self.links[(st.st_dev, st.st_ino)] = rel
        if stat.S_ISREG(mode):
            self.file(rel, path, st, common)
        elif stat.S_ISLNK(mode):
            self.header(rel, SYMLINK, linkname=os.readlink(path), **common)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            kind = CHAR if stat.S_ISCHR(mode) else BLOCKDEV
            dev = st.st_rdev
            self.header(rel, kind, devmajor=os.major(dev), devminor=os.minor(dev), **common)
        elif stat.S_ISFIFO(mode):
            self.header(rel, FIFO, **common)
        return True

    def directory(self, parts: Parts, rel: str, path: str, st: os.stat_result) -> bool:
        opaque = False
        try:
            opaque = os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
        except OSError as e:
            if e.errno not in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
        # The directory's header goes first; left out at the end if nothing under it was written and it is
        # unchanged from the lowers: write the children to a buffer-free marker position by rewinding.
        head = header_bytes(rel, DIR, mode=st.st_mode & 0o7777, uid=st.st_uid, gid=st.st_gid,
                            mtime_ns=self.mtime(st), xattrs=_xattrs(path))  # fmt: skip
        if not opaque and self.lowers_top_first and self.unchanged_dir(rel, st, path):
            return self.deferred(parts, head)
        self.o.write(head)
        self.o.entries += 1
        if opaque:
            self.header(f"{rel}/{OPAQUE_MARKER}", FILE, mode=st.st_mode & 0o777, uid=st.st_uid, gid=st.st_gid)
        self.walk(parts)
        return True

    def deferred(self, parts: Parts, head: bytes) -> bool:
        """Walk an unchanged directory; its header is written before its first written child, if any."""
        pending = self.o
        buffered = _Deferred(pending, head)
        self.o = buffered
        try:
            wrote = self.walk(parts)
        finally:
            self.o = pending
        return wrote

    def file(self, rel: str, path: str, st: os.stat_result, common: dict[str, object]) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            size = os.fstat(fd).st_size
            self.header(rel, FILE, size=size, **common)
            left = size
            while left > 0:
                chunk = os.read(fd, min(_CHUNK, left))
                if not chunk:
                    raise OSError(errno.EIO, f"{rel}: the file shrank while it was written into the layer")
                self.o.write(chunk)
                left -= len(chunk)
            self.o.write(padding(size))
        finally:
            os.close(fd)


class _Deferred(_Out):
    """Passes writes through to ``target`` once a header ``head`` has been written in front of them."""

    def __init__(self, target: _Out, head: bytes) -> None:
        self.target = target
        self.head: bytes | None = head

    def write(self, data: bytes | memoryview) -> None:
        if self.head is not None:
            head, self.head = self.head, None
            self.target.write(head)
            self.target.entries += 1
        self.target.write(data)

    @property
    def entries(self) -> int:
        return self.target.entries

    @entries.setter
    def entries(self, value: int) -> None:
        self.target.entries = value


def diff(
    upper: Path,
    out: BinaryIO,
    *,
    exclude: Collection[str] = (),
    epoch: int | None = None,
    lowers: Sequence[Path] = (),
) -> DiffResult:
    """Write the upper directory ``upper`` to ``out`` as an uncompressed layer tar.

    ``exclude``: paths (``/etc/hosts``) left out with all below them. ``lowers`` (bottom first, optional): the
    overlay's lower directories; directories that were only copied up, unchanged, are then left out.
    """
    w = _Writer(upper, out, exclude, epoch, lowers)
    w.walk(())
    w.o.write(_END)
    return DiffResult(diff_id=f"sha256:{w.o.hash.hexdigest()}", size=w.o.size, entries=w.o.entries)


__all__ = ["DiffResult", "diff"]
