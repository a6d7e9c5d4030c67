"""Output files that appear whole or not at all: written beside their target, renamed over it when complete."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replaced_atomically(out: Path) -> Iterator[Path]:
    """A temporary path in ``out``'s directory to write; renamed to ``out`` when the block completes, removed
    if it fails. It is created with the mode a plain ``open()`` would give (umask applied), not ``0600``."""
    out = out.resolve()
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".dockyard-tmp", dir=out.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomically(out: Path, data: bytes) -> None:
    """``out`` holds ``data`` whole, or keeps what it held: written beside it and renamed over it."""
    with replaced_atomically(out) as tmp:
        tmp.write_bytes(data)

def owned_prefix(kind: str) -> str:
    """A temporary name's prefix that says which process owns it (``<kind><pid>-``), for :func:`sweep_dead`."""
    return f"{kind}{os.getpid()}-"


def sweep_dead(parent: Path, kind: str) -> int:
    """Remove what processes that no longer run left in ``parent`` under :func:`owned_prefix` names (a SIGKILL
    between creating and removing them); a live owner's files stay. Returns how many entries went."""
    import shutil

    removed = 0
    try:
        entries = list(parent.iterdir())
    except OSError:
        return 0
    for entry in entries:
        pid_text = entry.name[len(kind) :].partition("-")[0] if entry.name.startswith(kind) else ""
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
