"""The root file system of one build step: an overlay of read-only layer snapshots with a fresh upper
directory, which becomes the step's layer."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from dockyard.build.runtime.mounts import mount_overlay, unmount_all

#: Prefix of the directory :func:`overlay` makes under its ``work`` directory (:func:`cleanup_stale` looks for it).
OVERLAY_PREFIX: Final = "ovl-"


@dataclass(frozen=True)
class Rootfs:
    """A mounted overlay: ``merged`` is what the step sees, ``upper`` what it changed."""

    merged: Path
    upper: Path
    lowers: tuple[Path, ...] = ()
    """The snapshots below, bottom first (an empty directory when there were none)."""


def remove_tree(path: Path) -> None:
    """Remove ``path`` after unmounting whatever is mounted below it; a missing path is fine."""
    if not os.path.lexists(path):
        return
    unmount_all(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


@contextlib.contextmanager
def overlay(lowers: Sequence[Path], work: Path) -> Iterator[Rootfs]:
    """Mount ``lowers`` (bottom first) with a new upper directory under ``work``; unmount and remove it all
    on exit, exceptions included."""
    work.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix=OVERLAY_PREFIX, dir=work))
    try:
        upper, workdir, merged = base / "upper", base / "work", base / "merged"
        for d in (upper, workdir, merged):
            d.mkdir()
        os.chmod(upper, 0o755)
        layers = [Path(p).resolve() for p in lowers]
        if not layers:
            empty = base / "empty"
            empty.mkdir()
            os.chmod(empty, 0o755)
            layers = [empty]
        mount_overlay(list(reversed(layers)), upper, workdir, merged)
        yield Rootfs(merged=merged, upper=upper, lowers=tuple(layers))
    finally:
        remove_tree(base)


__all__ = ["OVERLAY_PREFIX", "Rootfs", "overlay", "remove_tree"]
