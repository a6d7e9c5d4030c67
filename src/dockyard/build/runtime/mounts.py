"""Mounting and unmounting through libc: overlayfs with the new mount API (``fsopen``/``fsconfig``, one
``lowerdir+`` per layer, so the count of layers is not bounded by the mount option page), ``mount(2)`` as a
fallback on older kernels, and reading ``/proc/self/mountinfo``."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from dockyard.errors import BuildError, BuildUnavailable

# The syscall numbers of the mount API are the same on every architecture but alpha (asm-generic table).
_SYS_MOVE_MOUNT: Final = 429
_SYS_FSOPEN: Final = 430
_SYS_FSCONFIG: Final = 431
_SYS_FSMOUNT: Final = 432
_FSOPEN_CLOEXEC: Final = 1
_FSCONFIG_SET_STRING: Final = 1
_FSCONFIG_CMD_CREATE: Final = 6
_FSMOUNT_CLOEXEC: Final = 1
_MOVE_MOUNT_F_EMPTY_PATH: Final = 4
_AT_FDCWD: Final = -100
MNT_DETACH: Final = 2
#: Page size minus one: the longest option string ``mount(2)`` takes.
_MAX_OPTIONS: Final = 4095
#: Options that keep the upper directory self-contained (no redirects, no metadata-only copy-ups), so
#: that it alone is the layer; set when the kernel knows them.
_OVERLAY_FLAGS: Final = (("index", "off"), ("redirect_dir", "off"), ("metacopy", "off"))

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def _check(ret: int, what: str) -> int:
    if ret < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")
    return ret


def _fs_log(fd: int) -> str:
    """The messages the kernel left in an fs context (``e overlay: ...``)."""
    lines = []
    for _ in range(16):
        try:
            msg = os.read(fd, 1024)
        except OSError:
            break
        if not msg:
            break
        lines.append(msg.decode(errors="replace").strip())
    return "; ".join(lines)


def _fsconfig(fd: int, key: str, value: str) -> None:
    ret = _libc.syscall(
        _SYS_FSCONFIG, ctypes.c_int(fd), ctypes.c_uint(_FSCONFIG_SET_STRING), key.encode(), os.fsencode(value), 0
    )
    _check(ret, f"fsconfig {key}")


def _mount_api(lowers_top_first: Sequence[Path], upper: Path, work: Path, target: Path) -> None:
    fd = _check(_libc.syscall(_SYS_FSOPEN, b"overlay", ctypes.c_uint(_FSOPEN_CLOEXEC)), "fsopen overlay")
    try:
        try:
            for lower in lowers_top_first:
                _fsconfig(fd, "lowerdir+", os.fspath(lower))
            _fsconfig(fd, "upperdir", os.fspath(upper))
            _fsconfig(fd, "workdir", os.fspath(work))
            for key, value in _OVERLAY_FLAGS:
                try:
                    _fsconfig(fd, key, value)
                except OSError as e:
                    if e.errno != errno.EINVAL:
                        raise
                    _fs_log(fd)  # drop the message about an option this kernel does not know
            ret = _libc.syscall(_SYS_FSCONFIG, ctypes.c_int(fd), ctypes.c_uint(_FSCONFIG_CMD_CREATE), None, None, 0)
            _check(ret, "creating the overlay")
        except OSError as e:
            log = _fs_log(fd)
            raise OSError(e.errno, f"{e.strerror}{' (' + log + ')' if log else ''}") from None
        mfd = _check(_libc.syscall(_SYS_FSMOUNT, ctypes.c_int(fd), ctypes.c_uint(_FSMOUNT_CLOEXEC), 0), "fsmount")
    finally:
        os.close(fd)
    try:
        ret = _libc.syscall(
            _SYS_MOVE_MOUNT,
            ctypes.c_int(mfd),
            b"",
            ctypes.c_int(_AT_FDCWD),
            os.fsencode(target),
            ctypes.c_uint(_MOVE_MOUNT_F_EMPTY_PATH),
        )
        _check(ret, "move_mount")
    finally:
        os.close(mfd)


def _legacy_mount(lowers_top_first: Sequence[Path], upper: Path, work: Path, target: Path) -> None:
    def options(lower: str, up: str, wk: str) -> str:
        return ",".join([f"lowerdir={lower}", f"upperdir={up}", f"workdir={wk}", "index=off", "redirect_dir=off"])

    opts = options(":".join(os.fspath(p) for p in lowers_top_first), os.fspath(upper), os.fspath(work))
    if len(opts) <= _MAX_OPTIONS:
        ret = _libc.mount(b"overlay", os.fsencode(target), b"overlay", 0, opts.encode())
        _check(ret, f"mounting overlayfs on {target}")
        return
    # Too long: short symbolic links to the layers (as Docker's overlay2 driver makes), named relative to
    # their directory in a child whose working directory it is; the mount keeps the layers, not the links.
    links = Path(tempfile.mkdtemp(prefix="l-", dir=upper.parent))
    try:
        for i, p in enumerate(lowers_top_first):
            os.symlink(os.path.abspath(p), links / f"{i:x}")
        opts = options(
            ":".join(f"{i:x}" for i in range(len(lowers_top_first))),
            os.path.abspath(upper),
            os.path.abspath(work),
        )
        if len(opts) > _MAX_OPTIONS:
            raise BuildError(f"{len(lowers_top_first)} layers do not fit in one overlay mount on this kernel")
        proc = subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", opts, os.path.abspath(target)],
            cwd=links,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode:
            raise OSError(errno.EINVAL, f"mount overlay: {proc.stderr.strip()}")
    finally:
        shutil.rmtree(links)


def mount_overlay(lowers_top_first: Sequence[Path], upper: Path, work: Path, target: Path) -> None:
    """Mount an overlay of ``lowers_top_first`` (the first is the top one) with ``upper`` on ``target``."""
    try:
        _mount_api(lowers_top_first, upper, work, target)
        return
    except OSError as e:
        if e.errno == errno.ENODEV:
            raise BuildUnavailable("the kernel has no overlayfs (CONFIG_OVERLAY_FS, modprobe overlay)") from e
        # ENOSYS: no mount API; EINVAL from lowerdir+: a kernel older than 6.8.
        if e.errno not in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
    _legacy_mount(lowers_top_first, upper, work, target)


def umount(target: Path, *, detach: bool = False) -> None:
    """Unmount ``target``; EINVAL (not a mount point) and ENOENT are ignored."""
    ret = _libc.umount2(os.fsencode(target), MNT_DETACH if detach else 0)
    if ret < 0:
        e = ctypes.get_errno()
        if e in (errno.EINVAL, errno.ENOENT):
            return
        raise OSError(e, f"umount {target}: {os.strerror(e)}")


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal ``\\040``."""
    out = []
    i = 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounts_under(path: Path) -> list[Path]:
    """Mount points at or below ``path`` (from this process's mountinfo), deepest first."""
    base = os.path.realpath(path)
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split(" ")
            if len(fields) < 5:
                continue
            point = _unescape(fields[4])
            if point == base or point.startswith(base.rstrip("/") + "/"):
                found.append(Path(point))
    return sorted(set(found), key=lambda p: len(p.parts), reverse=True)


def unmount_all(path: Path) -> None:
    """Unmount everything at or below ``path``, deepest first (lazily when busy)."""
    for point in mounts_under(path):
        try:
            umount(point)
        except OSError as e:
            if e.errno != errno.EBUSY:
                raise
            umount(point, detach=True)


__all__ = ["mount_overlay", "mounts_under", "umount", "unmount_all"]
