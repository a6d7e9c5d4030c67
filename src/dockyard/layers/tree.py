"""Describe a directory tree, entry by entry, to compare unpacked root file systems (tests, umoci)."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from dockyard.layers.compression import CHUNK

#: Host-specific extended attributes left out of snapshots (as the unpacker never restores them).
_HOST_XATTRS: Final = frozenset({"security.selinux", "system.nfs4_acl"})


@dataclass(frozen=True, slots=True)
class EntryInfo:
    """One file system entry. Equality ignores ``mtime_ns`` and ``nlink`` (compare them explicitly)."""

    kind: str
    """``file``, ``dir``, ``symlink``, ``char``, ``block``, ``fifo`` or ``socket``."""
    mode: int
    """Permission bits with setuid, setgid and sticky."""
    uid: int
    gid: int
    target: str | None = None
    """A symlink's target."""
    sha256: str | None = None
    """Hex SHA-256 of a regular file's content."""
    size: int = 0
    rdev: tuple[int, int] | None = None
    """(major, minor) of a device node."""
    xattrs: tuple[tuple[str, bytes], ...] = ()
    mtime_ns: int = field(default=0, compare=False)
    nlink: int = field(default=1, compare=False)


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISCHR(mode):
        return "char"
    if stat.S_ISBLK(mode):
        return "block"
    if stat.S_ISFIFO(mode):
        return "fifo"
    return "socket"


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        while chunk := os.read(fd, CHUNK):
            h.update(chunk)
    finally:
        os.close(fd)
    return h.hexdigest()


def _xattrs(path: str) -> tuple[tuple[str, bytes], ...]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return ()
    out = []
    for name in names:
        if name in _HOST_XATTRS:
            continue
        try:
            out.append((name, os.getxattr(path, name, follow_symlinks=False)))
        except OSError:
            continue
    return tuple(sorted(out))


def describe(path: str | os.PathLike[str], *, xattrs: bool = True) -> EntryInfo:
    """The :class:`EntryInfo` of one path (never following a final symlink)."""
    p = os.fspath(path)
    st = os.lstat(p)
    kind = _kind(st.st_mode)
    return EntryInfo(
        kind=kind,
        mode=stat.S_IMODE(st.st_mode),
        uid=st.st_uid,
        gid=st.st_gid,
        target=os.readlink(p) if kind == "symlink" else None,
        sha256=_sha256(p) if kind == "file" else None,
        size=st.st_size if kind == "file" else 0,
        rdev=(os.major(st.st_rdev), os.minor(st.st_rdev)) if kind in ("char", "block") else None,
        xattrs=_xattrs(p) if xattrs else (),
        mtime_ns=st.st_mtime_ns,
        nlink=st.st_nlink,
    )


def snapshot(root: Path, *, include_root: bool = True, xattrs: bool = True) -> dict[str, EntryInfo]:
    """Every entry under ``root`` by relative path (``"usr/bin/env"``; the root itself is ``"."``).

    Symlinks are described, never followed; hard links show up once per path.
    """
    out: dict[str, EntryInfo] = {}
    base = os.fspath(root)
    if include_root:
        out["."] = describe(base, xattrs=xattrs)
    todo = [""]
    while todo:
        rel = todo.pop()
        with os.scandir(os.path.join(base, rel) if rel else base) as it:
            for de in it:
                r = f"{rel}/{de.name}" if rel else de.name
                info = describe(de.path, xattrs=xattrs)
                out[r] = info
                if info.kind == "dir":
                    todo.append(r)
    return dict(sorted(out.items()))


def diff(a: dict[str, EntryInfo], b: dict[str, EntryInfo]) -> list[str]:
    """Human-readable differences between two snapshots (empty when equal)."""
    lines = []
    for path in sorted(a.keys() | b.keys()):
        x, y = a.get(path), b.get(path)
        if x != y:
            lines.append(f"{path}: {x} != {y}")
    return lines


__all__ = ["EntryInfo", "describe", "diff", "snapshot"]
