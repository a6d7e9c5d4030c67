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

