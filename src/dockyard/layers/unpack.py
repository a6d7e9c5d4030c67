"""Safe extraction of an image's layers into a directory (what ``umoci unpack`` makes of a rootfs).

Every path is walked from an open descriptor of ``dest``, one component at a time,
with ``O_NOFOLLOW``: nothing is ever written through a symlink, and nothing is
ever written outside ``dest``.

* A symlink met as a *parent* component is followed inside the root when its
  target is relative and stays inside (Debian's merged ``/usr``: ``lib -> usr/lib``);
  an absolute target, or one that climbs above the root, is refused with
  :class:`~dockyard.errors.UnsafeLayer`. The *last* component is never followed:
  an entry replaces whatever is there (a directory over a directory merges).
* Symlinks are created exactly as written (``proc -> /proc`` stays absolute).
* Absolute names and ``..`` components are refused; hard links must point to an
  existing non-directory inside the root.
* Whiteouts and opaque directories apply with umoci's semantics (what the same
  layer writes survives, whichever order the tar lists it in).
* Ownership is restored when running as root; permission bits (setuid, setgid,
  sticky too) always, after the owner (chown clears setuid); modification times
  after contents, directories' at the very end, deepest first; ``SCHILY.xattr``
  extended attributes where the file system takes them.
* Device nodes and FIFOs are skipped (one warning) unless ``devices=True``.

On refusal the exception propagates and ``dest`` holds a partial tree: the caller
removes it.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from dockyard.errors import InvalidInput, UnsafeLayer
from dockyard.layers.limits import Limits
from dockyard.layers.tarpath import MAX_DEPTH, Action, Parts, classify, join
from dockyard.layers.tarstream import (
    CHAR,
    DIR,
    FIFO,
    FILE,
    HARDLINK,
    OTHER,
    SYMLINK,
    LayerOpener,
    TarHeader,
    TarReader,
    open_layer,
)

MAX_SYMLINK_HOPS: Final = 40
IMPLICIT_DIR_MODE: Final = 0o755
#: Extended attributes that are host-specific and never restored (as umoci).
FORBIDDEN_XATTRS: Final = frozenset({"security.selinux", "system.nfs4_acl"})

_DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_O_PATH: Final = getattr(os, "O_PATH", 0)

Warn = Callable[[str], None]


@dataclass(slots=True)
class UnpackReport:
    """What :func:`unpack` did. Counts are of entries applied, over all layers."""

    layers: int = 0
    entries: int = 0
    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    hardlinks: int = 0
    devices: int = 0
    """Device nodes and FIFOs created (``devices=True``)."""
    skipped_devices: int = 0
    """Device nodes and FIFOs not created (``devices=False``)."""
    whiteouts: int = 0
    """Whiteout and opaque-directory markers applied."""
    bytes: int = 0
    """Bytes of regular-file content written."""
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _PendingDir:
    header: TarHeader
    dev: int
    ino: int


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class _Unpacker:
    def __init__(self, dest: Path, *, devices: bool, warn: Warn) -> None:
        self.root_fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.devices = devices
        self.warn_cb = warn
        self.is_root = os.geteuid() == 0
        self.report = UnpackReport()
        self.upper: set[Parts] = set()
        self.cleared: set[tuple[Parts, bool]] = set()
        self.pending: dict[Parts, _PendingDir] = {}
        self.layer = 0
        self.entry = ""
        self._cache_key: Parts | None = None
        self._cache_fd = -1
        self._cache_resolved: Parts = ()
        self._warned: set[str] = set()

    def close(self) -> None:
        self._clear_cache()
        os.close(self.root_fd)

    def warn(self, msg: str) -> None:
        self.report.warnings.append(msg)
        self.warn_cb(msg)

    def warn_once(self, key: str, msg: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.warn(msg)

    # -- resolving ------------------------------------------------------------------------------

    def _clear_cache(self) -> None:
        if self._cache_fd >= 0:
            os.close(self._cache_fd)
        self._cache_key, self._cache_fd, self._cache_resolved = None, -1, ()

    def _invalidate(self) -> None:
        """Forget the cached resolution (the tree changed); its fd stays open until the next resolve."""
        self._cache_key = None

    def resolve(self, parts: Parts, *, create: bool) -> tuple[int, Parts] | None:
        """An fd of the directory ``parts`` names and its resolved path.

        The fd is borrowed: do not close it; it stays valid until the next ``resolve``.

        Components are opened with ``O_NOFOLLOW``; a symlink met on the way is followed
        by hand, inside the root, if its target is relative and does not climb out.
        Missing directories are created when ``create`` (else None is returned).
        """
        if not parts:
            return self.root_fd, ()
        if parts == self._cache_key:
            return self._cache_fd, self._cache_resolved
        fds: list[int] = []
        names: list[str] = []
        pending = deque(parts)
        hops = 0
        ok = False
        try:
            while pending:
                c = pending.popleft()
                if c == "..":
                    if not names:
                        raise UnsafeLayer(f"entry {self.entry!r}: its path climbs out of the root through a symlink")
                    os.close(fds.pop())
                    names.pop()
                    continue
                cur = fds[-1] if fds else self.root_fd
                try:
                    fd = os.open(c, _DIR_FLAGS, dir_fd=cur)
                except FileNotFoundError:
                    if not create:
                        return None
                    os.mkdir(c, IMPLICIT_DIR_MODE, dir_fd=cur)
                    fd = os.open(c, _DIR_FLAGS, dir_fd=cur)
                    os.fchmod(fd, IMPLICIT_DIR_MODE)
                except OSError as e:
                    if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    st = os.stat(c, dir_fd=cur, follow_symlinks=False)
                    where = join((*names, c))
                    if not stat.S_ISLNK(st.st_mode):
                        if not create:
                            return None  # nothing below a non-directory
                        raise InvalidInput(f"entry {self.entry!r}: {where} is not a directory") from None
                    target = os.readlink(c, dir_fd=cur)
                    if target.startswith("/"):
                        raise UnsafeLayer(
                            f"entry {self.entry!r}: its path goes through the symlink {where} -> {target}, "
                            "which points outside the image root; refusing to follow it"
                        ) from None
                    hops += 1
                    if hops > MAX_SYMLINK_HOPS:
                        raise UnsafeLayer(f"entry {self.entry!r}: too many levels of symlinks") from None
                    pending.extendleft(reversed([p for p in target.split("/") if p and p != "."]))
                    continue
                fds.append(fd)
                names.append(c)
                if len(names) > MAX_DEPTH:
                    raise UnsafeLayer(f"entry {self.entry!r}: its path is more than {MAX_DEPTH} levels deep")
            ok = True
        finally:
            keep = fds.pop() if ok and fds else -1
            for fd in fds:
                os.close(fd)
        if keep < 0:
            return self.root_fd, ()  # everything resolved back to the root
        self._clear_cache()
        self._cache_key, self._cache_fd, self._cache_resolved = parts, keep, tuple(names)
        return keep, self._cache_resolved

    def mark_upper(self, path: Parts) -> None:
        """Record ``path`` and its ancestors as written by the current layer."""
        upper = self.upper
        while path and path not in upper:
            upper.add(path)
            path = path[:-1]

    # -- removing -------------------------------------------------------------------------------

    def remove(self, dirfd: int, name: str, st: os.stat_result, path: Parts) -> None:
        if stat.S_ISDIR(st.st_mode):
            self._invalidate()
            shutil.rmtree(name, dir_fd=dirfd)
            self.pending.pop(path, None)
        else:
            if stat.S_ISLNK(st.st_mode):
                self._invalidate()
            os.unlink(name, dir_fd=dirfd)

    def remove_lower(self, dirfd: int, name: str, path: Parts) -> None:
        """Delete what the lower layers left at ``path``, keeping what this layer wrote (umoci)."""
        try:
            st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if path not in self.upper:
            self.remove(dirfd, name, st, path)
        elif stat.S_ISDIR(st.st_mode):
            fd = os.open(name, _DIR_FLAGS, dir_fd=dirfd)
            try:
                for child in os.listdir(fd):
                    self.remove_lower(fd, child, (*path, child))
            finally:
                os.close(fd)

    # -- applying entries -----------------------------------------------------------------------

    def whiteout(self, parts: Parts) -> None:
        self.report.whiteouts += 1
        resolved = self.resolve(parts[:-1], create=False)
        if resolved is None:
            return
        fd, rparent = resolved
        path = (*rparent, parts[-1])
        # A second whiteout of the same path in a layer finds nothing lower left: skip its walk.
        if (path, False) not in self.cleared:
            self.cleared.add((path, False))
            self.remove_lower(fd, parts[-1], path)

    def opaque(self, parts: Parts) -> None:
        self.report.whiteouts += 1
        resolved = self.resolve(parts, create=False)
        if resolved is None:
            return
        fd, rdir = resolved
        if (rdir, True) in self.cleared:
            return
        self.cleared.add((rdir, True))
        for child in os.listdir(fd):
            self.remove_lower(fd, child, (*rdir, child))

    def root_entry(self, h: TarHeader) -> None:
        st = os.fstat(self.root_fd)
        self.pending[()] = _PendingDir(h, st.st_dev, st.st_ino)

    def add(self, parts: Parts, h: TarHeader, link: Parts, reader: TarReader) -> None:
        kind = h.kind
        if kind == OTHER:
            self.warn(f"skipping {h.name!r}: unsupported tar entry type {h.typeflag!r}")
            return
        if kind == HARDLINK:
            # Resolve the target first: resolving the entry's parent may reuse the cached fd.
            tfd, tname, tst = self._hardlink_target(link, h)
            try:
                pfd, path, existing = self._prepare(parts)
                self._hardlink(pfd, parts[-1], existing, path, tfd, tname, tst, h)
            finally:
                os.close(tfd)
            self.mark_upper(path)
            return
        pfd, path, existing = self._prepare(parts)
        name = parts[-1]
        if kind == DIR:
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                if existing is not None:
                    self.remove(pfd, name, existing, path)
                os.mkdir(name, 0o700, dir_fd=pfd)
            st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
            self.pending[path] = _PendingDir(h, st.st_dev, st.st_ino)
            self.report.dirs += 1
        else:
            if existing is not None:
                self.remove(pfd, name, existing, path)
            if kind == FILE:
                self._file(pfd, name, h, reader)
            elif kind == SYMLINK:
                self._symlink(pfd, name, h)
            elif not self.devices:  # char, block, fifo: the entry still replaced what was there
                self.report.skipped_devices += 1
                return
            else:
                self._special(pfd, name, h)
        self.mark_upper(path)

    def _prepare(self, parts: Parts) -> tuple[int, Parts, os.stat_result | None]:
        """Resolve (creating) the parent of ``parts``: its fd, the entry's resolved path, what is there."""
        resolved = self.resolve(parts[:-1], create=True)
        assert resolved is not None
        pfd, rparent = resolved
        try:
            existing: os.stat_result | None = os.stat(parts[-1], dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            existing = None
        return pfd, (*rparent, parts[-1]), existing

    def _hardlink(
        self,
        pfd: int,
        name: str,
        existing: os.stat_result | None,
        path: Parts,
        tfd: int,
        tname: str,
        tst: os.stat_result,
        h: TarHeader,
    ) -> None:
        if existing is not None and (existing.st_dev, existing.st_ino) == (tst.st_dev, tst.st_ino):
            pass  # already that inode (a link to itself, or a repeated link)
        else:
            if existing is not None:
                self.remove(pfd, name, existing, path)
            try:
                os.link(tname, name, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
            except FileNotFoundError:
                raise InvalidInput(
                    f"entry {h.name!r}: hard link target {h.linkname!r} vanished while replacing the entry"
                ) from None
        self.report.hardlinks += 1

    def _hardlink_target(self, link: Parts, h: TarHeader) -> tuple[int, str, os.stat_result]:
        resolved = self.resolve(link[:-1], create=False)
        st = None
        if resolved is not None:
            try:
                st = os.stat(link[-1], dir_fd=resolved[0], follow_symlinks=False)
            except FileNotFoundError:
                st = None
        if resolved is None or st is None:
            raise UnsafeLayer(f"entry {h.name!r}: hard link target {h.linkname!r} does not exist")
        if stat.S_ISDIR(st.st_mode):
            raise UnsafeLayer(f"entry {h.name!r}: hard link target {h.linkname!r} is a directory")
        # The resolved fd is the cache's; keep our own while the entry's parent is resolved.
        return os.dup(resolved[0]), link[-1], st

    def _file(self, pfd: int, name: str, h: TarHeader, reader: TarReader) -> None:
        fd = os.open(name, _FILE_FLAGS, 0o600, dir_fd=pfd)
        try:
            written = 0
            for chunk in reader.chunks():
                _write_all(fd, chunk)
                written += len(chunk)
            self.report.bytes += written
            if self.is_root:
                os.fchown(fd, h.uid, h.gid)
            os.fchmod(fd, h.mode & 0o7777)
            self._xattrs(fd, h)
            os.utime(fd, ns=(h.mtime_ns, h.mtime_ns))
        finally:
            os.close(fd)
        self.report.files += 1

    def _symlink(self, pfd: int, name: str, h: TarHeader) -> None:
        os.symlink(h.linkname, name, dir_fd=pfd)
        if self.is_root:
            os.chown(name, h.uid, h.gid, dir_fd=pfd, follow_symlinks=False)
        if h.xattrs:
            self._xattrs(f"/proc/self/fd/{pfd}/{name}", h, follow=False)
        os.utime(name, ns=(h.mtime_ns, h.mtime_ns), dir_fd=pfd, follow_symlinks=False)
        self.report.symlinks += 1

    def _special(self, pfd: int, name: str, h: TarHeader) -> None:
        mode = h.mode & 0o7777
        if h.kind == FIFO:
            os.mkfifo(name, mode, dir_fd=pfd)
        else:
            fmt = stat.S_IFCHR if h.kind == CHAR else stat.S_IFBLK
            os.mknod(name, mode | fmt, os.makedev(h.devmajor, h.devminor), dir_fd=pfd)
        if self.is_root:
            os.chown(name, h.uid, h.gid, dir_fd=pfd, follow_symlinks=False)
        # chmod without following and without opening the node (a FIFO would block): O_PATH + /proc.
        fd = os.open(name, _O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
        try:
            os.chmod(f"/proc/self/fd/{fd}", mode)
            if h.xattrs:
                self._xattrs(f"/proc/self/fd/{fd}", h)
        finally:
            os.close(fd)
        os.utime(name, ns=(h.mtime_ns, h.mtime_ns), dir_fd=pfd, follow_symlinks=False)
        self.report.devices += 1

    def _xattrs(self, target: int | str, h: TarHeader, *, follow: bool = True, clear: bool = False) -> None:
        if clear:
            try:
                for name in os.listxattr(target, follow_symlinks=follow):
                    if name not in h.xattrs and name not in FORBIDDEN_XATTRS:
                        os.removexattr(target, name, follow_symlinks=follow)
            except OSError as e:
                self._xattr_error(e, h, "")
        for name, value in h.xattrs.items():
            if name in FORBIDDEN_XATTRS:
                continue
            try:
                os.setxattr(target, name, value, follow_symlinks=follow)
            except OSError as e:
                self._xattr_error(e, h, name)

    def _xattr_error(self, e: OSError, h: TarHeader, name: str) -> None:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            self.warn_once(
                "xattr-enotsup",
                f"the destination file system does not support extended attributes; "
                f"not restoring them (first: {h.name!r} {name})",
            )
        elif e.errno == errno.EPERM and not self.is_root:
            self.warn_once(
                "xattr-eperm",
                f"not permitted to set some extended attributes without root (first: {h.name!r} {name})",
            )
        else:
            raise e

    # -- finishing -------------------------------------------------------------------------------

    def _open_exact(self, path: Parts) -> int | None:
        """An fd of the directory at ``path``, following no symlink at all; None if it is gone."""
        fd = os.dup(self.root_fd)
        for c in path:
            try:
                nfd = os.open(c, _DIR_FLAGS, dir_fd=fd)
            except OSError:
                os.close(fd)
                return None
            os.close(fd)
            fd = nfd
        return fd

    def finish_dirs(self) -> None:
        """Directory metadata last, deepest first, so creating children did not disturb it."""
        self._clear_cache()
        for path in sorted(self.pending, key=len, reverse=True):
            p = self.pending[path]
            fd = self._open_exact(path)
            if fd is None:
                continue
            try:
                st = os.fstat(fd)
                if (st.st_dev, st.st_ino) != (p.dev, p.ino):
                    continue
                h = p.header
                if self.is_root:
                    os.fchown(fd, h.uid, h.gid)
                os.fchmod(fd, h.mode & 0o7777)
                self._xattrs(fd, h, clear=True)
                os.utime(fd, ns=(h.mtime_ns, h.mtime_ns))
            finally:
                os.close(fd)

    def apply_layer(self, reader: TarReader) -> None:
        self.upper = set()
        self.cleared = set()
        report = self.report
        for h in reader:
            report.entries += 1
            self.entry = h.name
            try:
                op = classify(h)
                if op.action is Action.ADD:
                    self.add(op.parts, h, op.link, reader)
                elif op.action is Action.WHITEOUT:
                    self.whiteout(op.parts)
                elif op.action is Action.OPAQUE:
                    self.opaque(op.parts)
                elif op.action is Action.ROOT:
                    self.root_entry(h)
            except (UnsafeLayer, InvalidInput) as e:
                raise type(e)(f"layer {self.layer + 1}: {e}") from None
            except (OverflowError, ValueError) as e:  # ids or times out of range, NULs, ...
                raise InvalidInput(f"layer {self.layer + 1}: entry {h.name!r}: {e}") from None


def _ignore(_: str) -> None:
    pass


def unpack(
    layers: Sequence[LayerOpener],
    dest: Path,
    *,
    devices: bool = False,
    limits: Limits | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> UnpackReport:
    """Apply ``layers`` (bottom first) into the existing directory ``dest``; see the module docstring.

    Raises :class:`~dockyard.errors.UnsafeLayer` for hostile content (escapes, bombs),
    :class:`~dockyard.errors.InvalidInput` for malformed layers; ``dest`` is then
    partial and the caller removes it.
    """
    if devices and os.geteuid() != 0:
        raise InvalidInput("creating device nodes needs root")
    lim = limits if limits is not None else Limits.from_env()
    dest = Path(dest)
    dest.mkdir(exist_ok=True)
    u = _Unpacker(dest, devices=devices, warn=on_warning or _ignore)
    try:
        for index, opener in enumerate(layers):
            u.layer = index
            with open_layer(opener, lim) as reader:
                u.apply_layer(reader)
            u.report.layers += 1
        u.finish_dirs()
    finally:
        u.close()
    if u.report.skipped_devices:
        n = u.report.skipped_devices
        u.warn(
            f"skipped {n} device node{'s' if n != 1 else ''} / FIFO{'s' if n != 1 else ''}: "
            "unpack as root with devices enabled (--devices) to create them"
        )
    return u.report


__all__ = ["FORBIDDEN_XATTRS", "LayerOpener", "UnpackReport", "unpack"]
