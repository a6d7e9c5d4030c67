"""The layer walker for analyzers (Trivy's shape): each layer read once, each file handed to the analyzers
that asked for it; per-layer results that can be cached by ``(diff_id, analyzer name, analyzer version)``.

An :class:`Analyzer` is small: a ``name``, a ``version``, ``required(path, info)`` (or use
:func:`glob_required` for glob patterns) and ``analyze(path, info, read)``. The caller passes the explicit
list of analyzers to run (the registry is that list; nothing registers itself on import).

What an analyzer sees, entry by entry, in tar order:

* Paths are normalised exactly as ``unpack`` does (:func:`~dockyard.layers.tarpath.classify`): relative,
  ``/``-separated, no ``./``; an absolute name or a ``..`` component makes the whole layer
  :class:`~dockyard.errors.UnsafeLayer`. Paths are the layer's own: a parent that is a symlink in a lower
  layer is not resolved (the walker sees one layer at a time, which is what makes its results cacheable).
* Regular files: ``analyze`` is called with a ``read()`` that returns the file's contents. The contents are
  read from the stream at most once, when the first analyzer calls ``read()``, and shared by the other
  analyzers of the same file; once the walker moves to the next entry ``read()`` raises. Files larger than
  ``max_file_size`` are not handed to ``analyze``: they are listed in :attr:`AnalyzerLayer.skipped`.
* Symlinks: offered with ``info.kind == "symlink"`` and ``info.linkname`` as written; ``read()`` returns
  ``b""``. The walker never follows a link (its target may live in another layer): an analyzer that wants
  the target asks for the target's path too.
* Hard links: offered with ``info.kind == "hardlink"`` and ``info.linkname`` the normalised target path.
  ``analyze`` is not called (the contents are the target's, already analyzed or in a lower layer); when
  ``required`` says yes the link is recorded in :attr:`AnalyzerLayer.links` and the applier
  (:mod:`dockyard.layers.apply`) gives the link the target's results as they stood in that layer.
* Directories, devices and FIFOs are never offered. Whiteouts and opaque markers are not offered either: they
  are in :attr:`LayerChanges.whiteouts` and :attr:`LayerChanges.opaque_dirs`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Hashable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from dockyard.errors import InvalidInput
from dockyard.layers.limits import Limits
from dockyard.layers.tarpath import Action, classify, join
from dockyard.layers.tarstream import FILE, HARDLINK, SYMLINK, LayerOpener, TarHeader, TarReader, open_layer

#: Largest file handed to ``analyze`` (read into memory once); larger ones are listed as skipped.
MAX_FILE_SIZE: Final = 64 << 20

Read = Callable[[], bytes]


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What the tar header says of one entry offered to analyzers."""

    path: str
    kind: str
    """``file``, ``symlink`` or ``hardlink``."""
    size: int
    mode: int
    uid: int = 0
    gid: int = 0
    mtime_ns: int = 0
    linkname: str = ""
    """A symlink's target as written; a hard link's target path, normalised."""


class Analyzer(Protocol):
    """One analyzer: which files it wants and what it finds in them (values must be hashable)."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> int: ...

    def required(self, path: str, info: FileInfo) -> bool: ...

    def analyze(self, path: str, info: FileInfo, read: Read) -> Iterable[Hashable]: ...


def glob_required(*patterns: str) -> Callable[[str, FileInfo], bool]:
    """A ``required`` predicate from glob patterns (``fnmatch`` syntax, ``*`` also crosses ``/``)."""
    compiled = re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns)) if patterns else None

    def required(path: str, _info: FileInfo) -> bool:
        return compiled is not None and compiled.match(path) is not None

    return required


@dataclass(frozen=True, slots=True)
class Finding:
    """One value an analyzer found in the file at ``path``."""

    path: str
    value: Hashable


@dataclass(frozen=True, slots=True)
class AnalyzerLayer:
    """One analyzer's results on one layer: cacheable by ``(diff_id, name, version)``."""

    name: str
    version: int
    findings: tuple[Finding, ...] = ()
    links: tuple[tuple[str, str], ...] = ()
    """Hard links the analyzer asked for: ``(path, target)``; they get the target's findings when applied."""
    skipped: tuple[str, ...] = ()
    """Files it asked for that were larger than the walker's ``max_file_size``."""


@dataclass(frozen=True, slots=True)
class LayerChanges:
    """What a layer does to the paths below it (independent of analyzers): cacheable by diff_id."""

    whiteouts: tuple[str, ...] = ()
    """Paths the layer deletes from the lower layers (``DIR/.wh.NAME`` -> ``DIR/NAME``)."""
    opaque_dirs: tuple[str, ...] = ()
    """Directories whose lower contents the layer hides (``DIR/.wh..wh..opq``); ``.`` is the root."""
    written: tuple[tuple[str, str], ...] = ()
    """Every path the layer writes, with its kind (the last entry of a path wins), in path order."""


@dataclass(frozen=True, slots=True)
class LayerResult:
    """The walk of one layer: its changes and each analyzer's results."""

    diff_id: str
    changes: LayerChanges
    analyzers: tuple[AnalyzerLayer, ...]

    def analyzer(self, name: str) -> AnalyzerLayer:
        for a in self.analyzers:
            if a.name == name:
                return a
        raise KeyError(name)


#: A cache of walk results: ``(diff_id, "", 0)`` holds a layer's :class:`LayerChanges`,
#: ``(diff_id, name, version)`` one analyzer's :class:`AnalyzerLayer`. A dict will do.
Cache = MutableMapping[tuple[str, str, int], "LayerChanges | AnalyzerLayer"]


class _Contents:
    """The current file's contents, read from the tar at most once and only if asked for."""

    def __init__(self, reader: TarReader) -> None:
        self._reader = reader
        self._data: bytes | None = None
        self.valid = True

    def read(self) -> bytes:
        if not self.valid:
            raise InvalidInput("a file's contents can only be read while the walker is on it")
        if self._data is None:
            self._data = self._reader.read_rest()
        return self._data


def _empty() -> bytes:
    return b""


def _info(path: str, h: TarHeader, linkname: str) -> FileInfo:
    return FileInfo(path, h.kind, h.size, h.mode, h.uid, h.gid, h.mtime_ns, linkname)


def _walk(
    reader: TarReader, analyzers: Sequence[Analyzer], max_file_size: int
) -> tuple[LayerChanges, dict[str, AnalyzerLayer]]:
    whiteouts: list[str] = []
    opaque: list[str] = []
    written: dict[str, str] = {}
    findings: dict[str, list[Finding]] = {a.name: [] for a in analyzers}
    links: dict[str, list[tuple[str, str]]] = {a.name: [] for a in analyzers}
    skipped: dict[str, list[str]] = {a.name: [] for a in analyzers}
    for h in reader:
        op = classify(h)
        if op.action is Action.WHITEOUT:
            whiteouts.append(join(op.parts))
            continue
        if op.action is Action.OPAQUE:
            opaque.append(join(op.parts))
            continue
        if op.action is not Action.ADD:
            continue
        path = join(op.parts)
        written[path] = h.kind
        if h.kind not in (FILE, SYMLINK, HARDLINK) or not analyzers:
            continue
        info = _info(path, h, join(op.link) if h.kind == HARDLINK else h.linkname)
        wanted = [a for a in analyzers if a.required(path, info)]
        if not wanted:
            continue
        if h.kind == HARDLINK:
            for a in wanted:
                links[a.name].append((path, info.linkname))
            continue
        if h.kind == FILE and h.size > max_file_size:
            for a in wanted:
                skipped[a.name].append(path)
            continue
        contents = _Contents(reader) if h.kind == FILE else None
        read = contents.read if contents is not None else _empty
        try:
            for a in wanted:
                findings[a.name].extend(Finding(path, v) for v in a.analyze(path, info, read))
        finally:
            if contents is not None:
                contents.valid = False
    changes = LayerChanges(tuple(whiteouts), tuple(opaque), tuple(sorted(written.items())))
    results = {
        a.name: AnalyzerLayer(a.name, a.version, tuple(findings[a.name]), tuple(links[a.name]), tuple(skipped[a.name]))
        for a in analyzers
    }
    return changes, results


def walk_layer(
    opener: LayerOpener,
    diff_id: str,
    analyzers: Sequence[Analyzer],
    *,
    limits: Limits | None = None,
    max_file_size: int = MAX_FILE_SIZE,
    cache: Cache | None = None,
) -> LayerResult:
    """Walk one layer once (decompressed once, streamed) and run ``analyzers`` on the files they ask for.

    With ``cache``, analyzers whose ``(diff_id, name, version)`` is cached are not run again, and a layer whose
    every result is cached is not read at all.
    """
    names = [a.name for a in analyzers]
    if len(set(names)) != len(names):
        raise ValueError(f"analyzer names must be unique: {names}")
    changes: LayerChanges | None = None
    done: dict[str, AnalyzerLayer] = {}
    if cache is not None:
        cached = cache.get((diff_id, "", 0))
        changes = cached if isinstance(cached, LayerChanges) else None
        for a in analyzers:
            hit = cache.get((diff_id, a.name, a.version))
            if isinstance(hit, AnalyzerLayer):
                done[a.name] = hit
    todo = [a for a in analyzers if a.name not in done]
    if changes is None or todo:
        with open_layer(opener, limits or Limits.from_env()) as reader:
            changes, fresh = _walk(reader, todo, max_file_size)
        done.update(fresh)
        if cache is not None:
            cache[(diff_id, "", 0)] = changes
            for a in todo:
                cache[(diff_id, a.name, a.version)] = fresh[a.name]
    return LayerResult(diff_id, changes, tuple(done[n] for n in names))


def walk(
    layers: Sequence[tuple[str, LayerOpener]],
    analyzers: Sequence[Analyzer],
    *,
    limits: Limits | None = None,
    max_file_size: int = MAX_FILE_SIZE,
    cache: Cache | None = None,
) -> list[LayerResult]:
    """:func:`walk_layer` on each ``(diff_id, opener)``, bottom layer first."""
    return [
        walk_layer(opener, diff_id, analyzers, limits=limits, max_file_size=max_file_size, cache=cache)
        for diff_id, opener in layers
    ]


__all__ = [
    "MAX_FILE_SIZE",
    "Analyzer",
    "AnalyzerLayer",
    "Cache",
    "FileInfo",
    "Finding",
    "LayerChanges",
    "LayerResult",
    "Read",
    "glob_required",
    "walk",
    "walk_layer",
]
