"""How many bytes a folder's files take: the one tree walk of the caches' ``df`` and ``prune`` figures."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def tree_bytes(path: Path) -> int:
    """Bytes of the regular files below ``path`` (or of ``path`` itself when it is one), each hard-linked file once;
    files removed while it walks count nothing."""
    seen: set[tuple[int, int]] = set()
    total = 0
    try:
        if not path.is_dir() or path.is_symlink():
            st = path.lstat()
            return st.st_size if stat.S_ISREG(st.st_mode) else 0
    except OSError:
        return 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue
            if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


__all__ = ["tree_bytes"]
