"""The union view of an image's layers: the final file system, computed in memory, and ``export``.

Semantics (the same as :mod:`dockyard.layers.unpack` applies on disk, which are umoci's):

* Layers apply in order; within a layer, entries apply in tar order and a later
  entry replaces an earlier one at the same path. A directory over a directory
  merges (the new metadata wins); anything else replaces what was there (a
  directory replaced by a file loses its subtree).
* ``DIR/.wh.NAME`` deletes ``DIR/NAME`` as the lower layers left it, and
  ``DIR/.wh..wh..opq`` deletes everything the lower layers have in ``DIR``. Neither
  touches what the same layer writes, whichever order the tar lists them in.
* Parent components are resolved inside the root: a symlink met on the way is
  followed if its target is relative and stays inside the root (``lib -> usr/lib``:
  ``lib/x`` lands in ``usr/lib/x``); absolute targets or ones that climb out are
  refused with :class:`~dockyard.errors.UnsafeLayer`. The last component is never
  followed: an entry replaces a symlink, never writes through it.
* Hard links point at inodes: if their target is later deleted or replaced they
  keep the old content (and ``export`` writes them as a regular file).

Memory holds one small record per surviving entry, never file contents:
:func:`export` reads the layers a second time and streams contents through, or, with ``one_pass=True``,
reads each layer once and keeps file contents in a temporary file meanwhile (``bench/bench_export.py``:
0.81-0.88 of the two-pass time on the Debian image, for temporary disk the size of the layers' file bytes).
"""

from __future__ import annotations

import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, Final

from dockyard.errors import InvalidInput, UnsafeLayer
from dockyard.layers.compression import CHUNK
from dockyard.layers.limits import Limits
from dockyard.layers.tarpath import MAX_DEPTH, Action, Parts, classify, join
from dockyard.layers.tarstream import (
    DIR,
    FILE,
    HARDLINK,
    OTHER,
    SYMLINK,
    LayerOpener,
    TarHeader,
    TarReader,
    end_of_archive,
    header_bytes,
    open_layer,
    padding,
)

#: Symlinks followed while resolving one path before giving up (as the kernel's ELOOP).
MAX_SYMLINK_HOPS: Final = 40
IMPLICIT_DIR_MODE: Final = 0o755

Warn = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of the flattened file system."""

    path: str
    """Relative, ``/``-separated, no leading ``./`` (``usr/bin/env``)."""
    kind: str
    """``file``, ``dir``, ``symlink``, ``hardlink``, ``char``, ``block`` or ``fifo``."""
    mode: int
    """Permission bits with setuid, setgid and sticky (``0o4755``)."""
    uid: int = 0
    gid: int = 0
    uname: str = ""
    gname: str = ""
    mtime_ns: int = 0
    size: int = 0
    """Content length of a ``file`` (0 otherwise)."""
    linkname: str = ""
    """A symlink's target as written, or a hard link's target path (another entry)."""
    devmajor: int = 0
    devminor: int = 0
    xattrs: tuple[tuple[str, bytes], ...] = ()
    layer: int = -1
    """Index of the layer the entry (its content, for files) comes from; for a directory no layer
    lists (implied by its children), the layer that implied it."""

    @property
    def xattr_dict(self) -> dict[str, bytes]:
        return dict(self.xattrs)


@dataclass(slots=True, eq=False)
class _Inode:
    kind: str
    header: TarHeader
    layer: int
    ordinal: int


@dataclass(slots=True, eq=False)
class _Node:
    kind: str
    layer: int
    """The layer that last wrote this path."""
    touched: int
    """The last layer that wrote this path or something below it (umoci's "upper paths")."""
    header: TarHeader | None = None
    """A directory's metadata (None for a directory only implied by its children)."""
    inode: _Inode | None = None
    children: dict[str, _Node] | None = None


def _new_dir(layer: int, header: TarHeader | None) -> _Node:
    return _Node(DIR, layer, layer, header, None, {})


@dataclass(slots=True)
class _Tree:
    root: _Node = field(default_factory=lambda: _new_dir(-1, None))
    cleared: set[tuple[Parts, bool]] = field(default_factory=set)
    """Whiteouts (False) and opaque markers (True) applied in the current layer, by resolved path."""

    def resolve(
        self, parts: Parts, *, layer: int, create: bool, entry: str
    ) -> tuple[list[tuple[str, _Node]], _Node] | None:
        """Walk ``parts`` as directories from the root, following in-root relative symlinks.

        Returns the chain of (name, node) walked and the final directory node, or None
        when something is missing and ``create`` is False. Missing directories are
        created (implied) when ``create`` is True.
        """
        stack: list[tuple[str, _Node]] = []
        pending = deque(parts)
        hops = 0
        while pending:
            c = pending.popleft()
            if c == "..":
                if not stack:
                    raise UnsafeLayer(f"entry {entry!r}: its path climbs out of the root through a symlink")
                stack.pop()
                continue
            cur = stack[-1][1] if stack else self.root
            assert cur.children is not None
            child = cur.children.get(c)
            if child is None:
                if not create:
                    return None
                child = _new_dir(layer, None)
                cur.children[c] = child
            if child.kind == DIR:
                stack.append((c, child))
                if len(stack) > MAX_DEPTH:
                    raise UnsafeLayer(f"entry {entry!r}: its path is more than {MAX_DEPTH} levels deep")
                continue
            if child.kind == SYMLINK:
                assert child.inode is not None
                target = child.inode.header.linkname
                where = join((*[n for n, _ in stack], c))
                if target.startswith("/"):
                    raise UnsafeLayer(
                        f"entry {entry!r}: its path goes through the symlink {where} -> {target}, "
                        "which points outside the image root; refusing to follow it"
                    )
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    raise UnsafeLayer(f"entry {entry!r}: too many levels of symlinks")
                pending.extendleft(reversed([p for p in target.split("/") if p and p != "."]))
                continue
            if not create:
                return None  # nothing below a non-directory (a whiteout there has nothing to do)
            where = join((*[n for n, _ in stack], c))
            raise InvalidInput(f"entry {entry!r}: {where} is not a directory")
        return stack, (stack[-1][1] if stack else self.root)

    # -- applying entries ------------------------------------------------------------------

    def add(self, parts: Parts, header: TarHeader, link: Parts, layer: int, ordinal: int, warn: Warn) -> None:
        resolved = self.resolve(parts[:-1], layer=layer, create=True, entry=header.name)
        assert resolved is not None
        stack, parent = resolved
        assert parent.children is not None
        for _, node in stack:
            node.touched = layer
        name = parts[-1]
        existing = parent.children.get(name)
        kind = header.kind
        if kind == DIR:
            if existing is not None and existing.kind == DIR:
                existing.header = header
                existing.layer = existing.touched = layer
            else:
                parent.children[name] = _new_dir(layer, header)
        elif kind == HARDLINK:
            target = self._hardlink_target(link, header, layer)
            if target is existing:
                existing.layer = existing.touched = layer
                return
            parent.children[name] = _Node(target.kind, layer, layer, None, target.inode)
        elif kind == OTHER:
            warn(f"skipping {header.name!r}: unsupported tar entry type {header.typeflag!r}")
        else:
            parent.children[name] = _Node(kind, layer, layer, None, _Inode(kind, header, layer, ordinal))

    def _hardlink_target(self, link: Parts, header: TarHeader, layer: int) -> _Node:
        resolved = self.resolve(link[:-1], layer=layer, create=False, entry=header.name)
        target = None
        if resolved is not None:
            assert resolved[1].children is not None
            target = resolved[1].children.get(link[-1])
        if target is None:
            raise UnsafeLayer(f"entry {header.name!r}: hard link target {header.linkname!r} does not exist")
        if target.kind == DIR:
            raise UnsafeLayer(f"entry {header.name!r}: hard link target {header.linkname!r} is a directory")
        return target

    def whiteout(self, parts: Parts, header: TarHeader, layer: int) -> None:
        resolved = self.resolve(parts[:-1], layer=layer, create=False, entry=header.name)
        if resolved is None:
            return
        stack, parent = resolved
        assert parent.children is not None
        key = ((*(n for n, _ in stack), parts[-1]), False)
        if key in self.cleared:  # a repeat finds nothing lower left
            return
        self.cleared.add(key)
        node = parent.children.get(parts[-1])
        if node is not None:
            _remove_lower(parent, parts[-1], node, layer)

    def opaque(self, parts: Parts, header: TarHeader, layer: int) -> None:
        resolved = self.resolve(parts, layer=layer, create=False, entry=header.name)
        if resolved is None:
            return
        stack, d = resolved
        key = (tuple(n for n, _ in stack), True)
        if key in self.cleared:
            return
        self.cleared.add(key)
        assert d.children is not None
        for name, child in list(d.children.items()):
            _remove_lower(d, name, child, layer)

    def set_root(self, header: TarHeader) -> None:
        self.root.header = header


def _remove_lower(parent: _Node, name: str, node: _Node, layer: int) -> None:
    """Delete what the lower layers left at ``name``, keeping what ``layer`` itself wrote."""
    assert parent.children is not None
    if node.touched < layer:
        del parent.children[name]
    elif node.children is not None:
        for cname, child in list(node.children.items()):
            _remove_lower(node, cname, child, layer)


def _build(layers: Sequence[LayerOpener], limits: Limits, warn: Warn, spool: _Spool | None = None) -> _Tree:
    tree = _Tree()
    for index, opener in enumerate(layers):
        tree.cleared = set()
        with open_layer(opener, limits) as reader:
            for ordinal, header in enumerate(reader):
                try:
                    op = classify(header)
                    if op.action is Action.ADD:
                        tree.add(op.parts, header, op.link, index, ordinal, warn)
                        if spool is not None and header.kind == FILE and header.size:
                            spool.keep(index, ordinal, reader)
                    elif op.action is Action.WHITEOUT:
                        tree.whiteout(op.parts, header, index)
                    elif op.action is Action.OPAQUE:
                        tree.opaque(op.parts, header, index)
                    elif op.action is Action.ROOT:
                        tree.set_root(header)
                except (UnsafeLayer, InvalidInput) as e:
                    raise type(e)(f"layer {index + 1}: {e}") from None
    return tree


def _entry(path: str, kind: str, h: TarHeader | None, layer: int, *, linkname: str | None = None) -> Entry:
    if h is None:
        return Entry(path, kind, IMPLICIT_DIR_MODE, layer=layer)
    return Entry(
        path=path,
        kind=kind,
        mode=h.mode & 0o7777,
        uid=h.uid,
        gid=h.gid,
        uname=h.uname,
        gname=h.gname,
        mtime_ns=h.mtime_ns,
        size=h.size if kind == FILE else 0,
        linkname=h.linkname if linkname is None else linkname,
        devmajor=h.devmajor,
        devminor=h.devminor,
        xattrs=tuple(sorted(h.xattrs.items())),
        layer=layer,
    )


def _walk(tree: _Tree) -> Iterator[tuple[Entry, _Inode | None]]:
    """Pre-order, names sorted; the first path of an inode is the entry, later ones hard links to it."""
    primary: dict[int, str] = {}
    todo: list[tuple[str, _Node]] = []
    assert tree.root.children is not None
    todo.extend((name, node) for name, node in sorted(tree.root.children.items(), reverse=True))
    while todo:
        path, node = todo.pop()
        if node.kind == DIR:
            yield _entry(path, DIR, node.header, node.layer), None
            assert node.children is not None
            todo.extend((f"{path}/{n}", c) for n, c in sorted(node.children.items(), reverse=True))
            continue
        inode = node.inode
        assert inode is not None
        first = primary.get(id(inode))
        if first is None:
            primary[id(inode)] = path
            yield _entry(path, inode.kind, inode.header, inode.layer), inode
        else:
            yield _entry(path, HARDLINK, inode.header, inode.layer, linkname=first), inode


def _ignore(_: str) -> None:
    pass


def flatten(
    layers: Sequence[LayerOpener], limits: Limits | None = None, *, on_warning: Warn | None = None
) -> list[Entry]:
    """The final file system of ``layers`` (bottom first), pre-order with names sorted.

    The root directory itself is not listed. Of several paths sharing an inode (hard
    links), the first listed is the ``file`` (or symlink, ...) and the others are
    ``hardlink`` entries naming it. Reads each layer once.
    """
    lim = limits if limits is not None else Limits.from_env()
    tree = _build(layers, lim, on_warning or _ignore)
    return [e for e, _ in _walk(tree)]


class _Spool:
    """File contents kept aside during the single read of each layer, for :func:`export` to copy out later."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._end = 0
        self.offsets: dict[tuple[int, int], int] = {}

    def keep(self, layer: int, ordinal: int, reader: TarReader) -> None:
        self.offsets[(layer, ordinal)] = self._end
        for chunk in reader.chunks():
            self._file.write(chunk)
            self._end += len(chunk)

    def copy(self, layer: int, ordinal: int, size: int, write: Callable[[bytes], None]) -> None:
        self._file.seek(self.offsets[(layer, ordinal)])
        left = size
        while left:
            chunk = self._file.read(min(left, CHUNK))
            if not chunk:
                raise InvalidInput("the export spool is truncated")
            write(chunk)
            left -= len(chunk)
        self._file.seek(self._end)


class _TarOut:
    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self.written = 0

    def write(self, b: bytes) -> None:
        if b:
            self._out.write(b)
            self.written += len(b)

    def header(self, e: Entry, kind: str | None = None) -> None:
        self.write(
            header_bytes(
                e.path,
                kind or e.kind,
                size=e.size,
                mode=e.mode,
                uid=e.uid,
                gid=e.gid,
                uname=e.uname,
                gname=e.gname,
                mtime_ns=e.mtime_ns,
                linkname=e.linkname,
                devmajor=e.devmajor,
                devminor=e.devminor,
                xattrs=dict(e.xattrs),
            )
        )


def export(
    layers: Sequence[LayerOpener],
    out: BinaryIO,
    limits: Limits | None = None,
    *,
    on_warning: Warn | None = None,
    one_pass: bool = False,
) -> None:
    """Write the flattened file system of ``layers`` to ``out`` as one PAX tar (like ``docker export``).

    Directories, symlinks and special files come first (parents before children),
    then regular files in the order the layers hold them (their contents streamed
    from a second read of each layer that has any), then hard links. No whiteouts,
    no root entry. ``out`` need not be seekable.
    """
    lim = limits if limits is not None else Limits.from_env()
    if one_pass:
        with tempfile.TemporaryFile(prefix="dockyard-export-") as f:
            _export_spooled(layers, _TarOut(out), lim, on_warning or _ignore, _Spool(f))
        return
    tree = _build(layers, lim, on_warning or _ignore)
    tar = _TarOut(out)
    wanted: dict[int, dict[int, Entry]] = {}
    hardlinks: list[Entry] = []
    for e, inode in _walk(tree):
        if e.kind == HARDLINK:
            hardlinks.append(e)
        elif e.kind == FILE:
            assert inode is not None
            wanted.setdefault(inode.layer, {})[inode.ordinal] = e
        else:
            tar.header(e)
    for index, opener in enumerate(layers):
        want = wanted.get(index)
        if not want:
            continue
        with open_layer(opener, lim) as reader:
            for ordinal, header in enumerate(reader):
                if ordinal not in want:
                    continue
                e = want.pop(ordinal)
                if header.size != e.size:
                    raise InvalidInput(f"layer {index + 1} changed between two reads")
                tar.header(e)
                copied = 0
                for chunk in reader.chunks():
                    tar.write(chunk)
                    copied += len(chunk)
                if copied != e.size:
                    raise InvalidInput(f"layer {index + 1}: {header.name!r}: short content")
                tar.write(padding(copied))
                if not want:
                    break
        if want:
            raise InvalidInput(f"layer {index + 1} changed between two reads")
    for e in hardlinks:
        tar.header(e)
    tar.write(end_of_archive(tar.written))


def _export_spooled(layers: Sequence[LayerOpener], tar: _TarOut, lim: Limits, warn: Warn, spool: _Spool) -> None:
    """:func:`export` reading each layer once: file contents go to ``spool`` as they pass, and are copied out
    from there in the same order (the output is byte for byte the two-pass one)."""
    tree = _build(layers, lim, warn, spool)
    files: list[tuple[int, int, Entry]] = []
    hardlinks: list[Entry] = []
    for e, inode in _walk(tree):
        if e.kind == HARDLINK:
            hardlinks.append(e)
        elif e.kind == FILE:
            assert inode is not None
            files.append((inode.layer, inode.ordinal, e))
        else:
            tar.header(e)
    for layer, ordinal, e in sorted(files, key=lambda t: (t[0], t[1])):
        tar.header(e)
        if e.size:
            spool.copy(layer, ordinal, e.size, tar.write)
        tar.write(padding(e.size))
    for e in hardlinks:
        tar.header(e)
    tar.write(end_of_archive(tar.written))


__all__ = ["Entry", "LayerOpener", "export", "flatten"]
