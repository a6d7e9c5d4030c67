"""Paths inside a root directory, resolved as the container would see them: symlinks (absolute or relative) are
followed inside the root and ``..`` never leaves it (what securejoin does for BuildKit and runc)."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from dockyard.errors import BuildError

#: Symlinks followed while resolving one path before giving up (Linux's own limit is 40).
MAX_LINKS = 40


def scoped_path(root: Path, path: str, *, follow_final: bool = True) -> Path:
    """``path`` resolved inside ``root`` like securejoin / containerd's ``fs.RootPath``: ``..`` stops at the root
    and symlinks (absolute or relative) are followed as if ``root`` were ``/``; ``follow_final=False`` leaves a
    final symlink as it is. The result may not exist (missing tails are kept)."""
    pending = [p for p in path.split("/") if p not in ("", ".")]
    done: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        candidate = root.joinpath(*done, part)
        if (follow_final or pending) and os.path.islink(candidate):
            hops += 1
            if hops > MAX_LINKS:
                raise BuildError(f"too many levels of symbolic links resolving {path!r}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                done = []
            pending = [p for p in target.split("/") if p not in ("", ".")] + pending
            continue
        done.append(part)
    return root.joinpath(*done)


def make_dirs(root: Path, path: str, *, uid: int = 0, gid: int = 0, mode: int = 0o755) -> bool:
    """Create ``path`` and its missing parents inside ``root`` (owned by ``uid:gid``); True if any was created."""
    normalized = posixpath.normpath("/" + path)
    created = False
    current = "/"
    for part in [p for p in normalized.split("/") if p]:
        current = posixpath.join(current, part)
        target = scoped_path(root, current)
        if target.is_dir():
            continue
        if target.exists() or target.is_symlink():
            raise BuildError(f"cannot create directory {current}: a file is in the way")
        target.mkdir(mode=mode)
        os.chmod(target, mode)
        os.lchown(target, uid, gid)
        created = True
    return created


__all__ = ["MAX_LINKS", "make_dirs", "scoped_path"]
