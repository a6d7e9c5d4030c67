"""Docker's layer SIZE, counted from a layer's tar headers as the one tar reader walks them.

Docker prints a layer's size as what its files take once unpacked (``directory.Size`` of the layer's diff
directory): the bytes of regular files plus the length of each symlink's target, a hard-linked inode once,
directories and whiteouts nothing. That is smaller than the tar stream (headers, padding, the end blocks), so
the tar's length would overstate it. The headers come from :class:`~dockyard.layers.tarstream.TarReader`, the
reader that ``unpack`` and ``export`` use, so a layer that loads is a layer that unpacks.
"""

from __future__ import annotations

from collections.abc import Iterable

from dockyard.layers.tarstream import FILE, SYMLINK, TarHeader


def content_size(headers: Iterable[TarHeader]) -> int:
    """Docker's SIZE of the layer whose members are ``headers`` (a :class:`TarReader`, usually)."""
    total = 0
    for h in headers:
        if h.kind == FILE:
            total += h.size
        elif h.kind == SYMLINK:
            total += len(h.linkname.encode("utf-8", "surrogateescape"))
    return total


__all__ = ["content_size"]
