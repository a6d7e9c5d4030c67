"""Layers unpacked one by one in overlayfs form, for use as lower directories.

Each layer is unpacked alone, with :mod:`dockyard.layers.unpack`'s safe walker, into an empty directory:
a whiteout ``.wh.name`` becomes a 0/0 character device ``name``, an opaque marker ``.wh..wh..opq`` the
extended attribute ``trusted.overlay.opaque=y`` on its directory (what overlayfs reads in a lower layer).
Extended attributes ``trusted.overlay.*`` that a layer itself carries are dropped.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Collection
from pathlib import Path
from typing import BinaryIO, Final

from dockyard.errors import InvalidInput
from dockyard.fsusage import tree_bytes
from dockyard.layers import tarstream
from dockyard.layers.limits import Limits
from dockyard.layers.tarpath import Parts
from dockyard.layers.tarstream import TarHeader, TarReader
from dockyard.layers.unpack import _Unpacker

OPAQUE_XATTR: Final = "trusted.overlay.opaque"
OVERLAY_XATTR_PREFIX: Final = "trusted.overlay."
_TMP_PREFIX: Final = "tmp-"


def _drop_overlay_xattrs(h: TarHeader) -> None:
    if h.xattrs:
        h.xattrs = {k: v for k, v in h.xattrs.items() if not k.startswith(OVERLAY_XATTR_PREFIX)}


class _OverlayFormUnpacker(_Unpacker):
    """Applies ONE layer into an empty directory, keeping whiteouts as overlayfs markers."""

    def __init__(self, dest: Path) -> None:
        super().__init__(dest, devices=True, warn=lambda _msg: None)
        self.opaque_dirs: list[Parts] = []

    def add(self, parts: Parts, h: TarHeader, link: Parts, reader: TarReader) -> None:
        _drop_overlay_xattrs(h)
        super().add(parts, h, link, reader)

    def root_entry(self, h: TarHeader) -> None:
        _drop_overlay_xattrs(h)
        super().root_entry(h)

    def whiteout(self, parts: Parts) -> None:
        self.report.whiteouts += 1
        pfd, path, existing = self._prepare(parts)
        if existing is not None:
            return  # the layer writes this path itself: what it writes wins (as when applying it)
        os.mknod(parts[-1], stat.S_IFCHR | 0, os.makedev(0, 0), dir_fd=pfd)
        self.mark_upper(path)

    def opaque(self, parts: Parts) -> None:
        self.report.whiteouts += 1
        resolved = self.resolve(parts, create=True)
        assert resolved is not None
        fd, rdir = resolved
        os.setxattr(fd, OPAQUE_XATTR, b"y")
        self.opaque_dirs.append(rdir)

    def finish_dirs(self) -> None:
        super().finish_dirs()  # restores each directory's own xattrs, clearing the others: set the marks again
        for path in self.opaque_dirs:
            fd = self._open_exact(path)
            if fd is None:
                continue
            try:
                os.setxattr(fd, OPAQUE_XATTR, b"y")
            finally:
                os.close(fd)


def _key(diff_id: str) -> str:
    algo, _, hexdigest = diff_id.partition(":")
    if algo != "sha256" or len(hexdigest) != 64 or not all(c in "0123456789abcdef" for c in hexdigest):
        raise InvalidInput(f"not a sha256 diff ID: {diff_id!r}")
    return hexdigest


class Snapshots:
    """Unpacked layers under ``root``, one directory per diff ID."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, diff_id: str) -> Path:
        """Where the snapshot of ``diff_id`` is (whether or not it exists)."""
        return self.root / _key(diff_id)

    def layer(self, diff_id: str, open_layer: Callable[[], BinaryIO]) -> Path:
        """The snapshot of ``diff_id``, unpacked from the blob ``open_layer`` opens (plain, gzip or zstd) when
        missing."""
        dest = self.path(diff_id)
        if dest.is_dir():
            return dest
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f"{_TMP_PREFIX}{dest.name}-{secrets.token_hex(4)}"
        tmp.mkdir(mode=0o755)
        try:
            u = _OverlayFormUnpacker(tmp)
            try:
                with tarstream.open_layer(open_layer, Limits.from_env()) as reader:
                    u.apply_layer(reader)
                u.finish_dirs()
            finally:
                u.close()
            try:
                os.rename(tmp, dest)
            except OSError:
                if not dest.is_dir():  # not another builder's rename of the same layer
                    raise
                shutil.rmtree(tmp)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(tmp)
            raise
        return dest

    def prune(self, keep: Collection[str]) -> int:
        """Remove the snapshots (and unpacks left half-done) whose diff IDs are not in ``keep``; bytes freed."""
        if not self.root.is_dir():
            return 0
        kept = {_key(d) for d in keep}
        freed = 0
        for entry in sorted(self.root.iterdir()):
            if entry.name in kept:
                continue
            freed += tree_bytes(entry)
            shutil.rmtree(entry)
        return freed


__all__ = ["OPAQUE_XATTR", "Snapshots"]
