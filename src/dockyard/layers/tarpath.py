"""Entry names of layer tars: split them safely and tell whiteouts from ordinary entries.

An entry name is a relative, ``/``-separated path. ``.`` components (``./etc``) and
empty ones (``a//b``, a trailing ``/``) are dropped; ``.`` or ``./`` names the root
directory. Absolute names, ``..`` components and NUL bytes are hostile: they raise
:class:`~dockyard.errors.UnsafeLayer`.

Whiteouts (OCI image spec, "Representing Changes"): ``DIR/.wh.NAME`` deletes
``DIR/NAME`` of the lower layers; ``DIR/.wh..wh..opq`` hides everything the lower
layers have in ``DIR``. Other ``.wh..wh.*`` names are AUFS bookkeeping and ignored.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from dockyard.errors import UnsafeLayer
from dockyard.layers.tarstream import DIR, HARDLINK, TarHeader

WHITEOUT_PREFIX: Final = ".wh."
OPAQUE_MARKER: Final = ".wh..wh..opq"
WHITEOUT_META_PREFIX: Final = ".wh..wh."
#: Deepest path accepted (also after following symlinks): far beyond real images, and shallow
#: enough that recursive tree walks (removals, comparisons) stay within Python's stack.
MAX_DEPTH: Final = 256

Parts = tuple[str, ...]


def split_path(name: str, what: str = "entry") -> Parts:
    """``"./usr//lib/"`` -> ``("usr", "lib")``; ``"."`` -> ``()``. Hostile names raise UnsafeLayer."""
    if "\0" in name:
        raise UnsafeLayer(f"{what} {name!r}: name contains a NUL byte")
    if name.startswith("/"):
        raise UnsafeLayer(f"{what} {name!r}: absolute names are not allowed in a layer")
    split = name.split("/")
    if "" in split or "." in split:
        split = [p for p in split if p and p != "."]
    parts = tuple(split)
    if ".." in parts:
        raise UnsafeLayer(f"{what} {name!r}: '..' components are not allowed in a layer")
    if len(parts) > MAX_DEPTH:
        raise UnsafeLayer(f"{what} {name[:200]!r}...: more than {MAX_DEPTH} levels deep")
    return parts


def join(parts: Parts) -> str:
    """``("usr", "lib")`` -> ``"usr/lib"``; the root is ``"."``."""
    return "/".join(parts) if parts else "."


class Action(enum.Enum):
    ROOT = "root"
    """Metadata for the root directory (``./``)."""
    ADD = "add"
    """An ordinary entry: create or replace ``parts``."""
    WHITEOUT = "whiteout"
    """Delete ``parts`` from the lower layers."""
    OPAQUE = "opaque"
    """Hide the lower layers' contents of the directory ``parts``."""
    IGNORE = "ignore"
    """AUFS bookkeeping (``.wh..wh.plnk`` and the like)."""


@dataclass(frozen=True, slots=True)
class Op:
    """What one tar entry does to the file system."""

    action: Action
    parts: Parts
    header: TarHeader
    link: Parts = ()
    """For hard links: the target's path."""


def classify(header: TarHeader) -> Op:
    """Name-check one entry and say what it does. Raises UnsafeLayer on hostile names."""
    parts = split_path(header.name)
    if not parts:
        if header.kind != DIR:
            raise UnsafeLayer(f"entry {header.name!r}: the root of a layer must be a directory")
        return Op(Action.ROOT, parts, header)
    if parts[0].startswith(WHITEOUT_META_PREFIX) and parts != (OPAQUE_MARKER,):
        return Op(Action.IGNORE, parts, header)  # AUFS's /.wh..wh.plnk and the like, with contents
    base = parts[-1]
    if base.startswith(WHITEOUT_PREFIX):
        if base == OPAQUE_MARKER:
            return Op(Action.OPAQUE, parts[:-1], header)
        if base.startswith(WHITEOUT_META_PREFIX):
            return Op(Action.IGNORE, parts, header)
        target = base[len(WHITEOUT_PREFIX) :]
        if target in ("", ".", ".."):
            raise UnsafeLayer(f"entry {header.name!r}: invalid whiteout name")
        return Op(Action.WHITEOUT, (*parts[:-1], target), header)
    if header.kind == HARDLINK:
        link = split_path(header.linkname, f"hard link {header.name!r} -> target")
        if not link:
            raise UnsafeLayer(f"entry {header.name!r}: hard link to the root directory")
        return Op(Action.ADD, parts, header, link)
    if "\0" in header.linkname:
        raise UnsafeLayer(f"entry {header.name!r}: link target contains a NUL byte")
    return Op(Action.ADD, parts, header)


__all__ = [
    "MAX_DEPTH",
    "OPAQUE_MARKER",
    "WHITEOUT_META_PREFIX",
    "WHITEOUT_PREFIX",
    "Action",
    "Op",
    "Parts",
    "classify",
    "join",
    "split_path",
]
