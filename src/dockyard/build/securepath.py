"""Paths inside a root directory, resolved as the container would see them: symlinks (absolute or relative) are
followed inside the root and ``..`` never leaves it (what securejoin does for BuildKit and runc)."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from dockyard.errors import BuildError

#: Symlinks followed while resolving one path before giving up (Linux's own limit is 40).
MAX_LINKS = 40


def secure_join(root: Path, path: str) -> Path:
    """``path`` (absolute inside ``root``, or relative to it) resolved inside ``root``; missing tails are kept."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        if not os.path.islink(candidate):  # a directory, a file, or nothing yet: kept as it is
            resolved.append(part)
            continue
        links += 1
        if links > MAX_LINKS:
            raise BuildError(f"too many levels of symbolic links resolving {path!r}")
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved = []
        parts = [p for p in target.split("/") if p not in ("", ".")] + parts
    return root.joinpath(*resolved)


def make_dirs(root: Path, path: str, *, uid: int = 0, gid: int = 0, mode: int = 0o755) -> bool:
    """Create ``path`` and its missing parents inside ``root`` (owned by ``uid:gid``); True if any was created."""
    normalized = posixpath.normpath("/" + path)
    created = False
    current = "/"
    for part in [p for p in normalized.split("/") if p]:
        current = posixpath.join(current, part)
        target = secure_join(root, current)
        if target.is_dir():
            continue
        if target.exists() or target.is_symlink():
            raise BuildError(f"cannot create directory {current}: a file is in the way")
        target.mkdir(mode=mode)
        os.chmod(target, mode)
        os.lchown(target, uid, gid)
        created = True
    return created


__all__ = ["MAX_LINKS", "make_dirs", "secure_join"]
