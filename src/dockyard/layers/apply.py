"""The applier: merge per-layer walk results (:mod:`dockyard.layers.walk`) in layer order into the final view.

The rules are the union view's (:mod:`dockyard.layers.union`), applied to findings instead of files:

* A layer's whiteout of ``P`` removes the lower layers' findings at ``P`` and below it; an opaque marker on
  ``D`` removes the lower layers' findings below ``D``. Neither touches what the same layer writes.
* A layer that writes ``P`` (any kind) replaces the lower findings at ``P`` with its own (none, if the new
  file has none); a layer that writes a non-directory at ``A`` removes the lower findings below ``A``
  (a directory replaced by a file loses its subtree). A directory over a directory merges.
* A hard link gets the findings its target has once the layer's own findings are in (the target's content
  when the link was made), attributed to the link's layer; later changes to the target do not touch it.

Each surviving finding knows the layer (index and diff_id) that introduced it; each removed one knows which
layer removed it and how (``whiteout``, ``opaque`` or ``replaced``).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, replace

from dockyard.layers.tarstream import DIR
from dockyard.layers.walk import LayerResult

WHITEOUT = "whiteout"
OPAQUE = "opaque"
REPLACED = "replaced"


@dataclass(frozen=True, slots=True)
class Located:
    """A finding in the final view, with the layer that introduced it."""

    analyzer: str
    path: str
    value: Hashable
    layer: int
    """Index of the layer, bottom first."""
    diff_id: str


@dataclass(frozen=True, slots=True)
class Removed:
    """A finding that a later layer took away."""

    finding: Located
    layer: int
    diff_id: str
    how: str
    """``whiteout``, ``opaque`` or ``replaced``."""


@dataclass(frozen=True, slots=True)
class AppliedView:
    findings: tuple[Located, ...]
    """What the image holds, in (path, analyzer) order."""
    removed: tuple[Removed, ...]
    """What lower layers held and upper layers removed, in the order it happened."""
    opaque_dirs: tuple[tuple[str, str], ...]
    """``(directory, diff_id)`` for every opaque marker, bottom layer first."""

    def values(self, analyzer: str) -> list[Hashable]:
        return [f.value for f in self.findings if f.analyzer == analyzer]


def _ancestors(path: str) -> Iterator[str]:
    """``a/b/c`` -> ``a/b``, ``a``, ``.`` (the root)."""
    while "/" in path:
        path = path.rsplit("/", 1)[0]
        yield path
    yield "."


def _removal(path: str, written: dict[str, str], whiteouts: frozenset[str], opaque: frozenset[str]) -> str | None:
    """How a layer that writes ``written`` and deletes ``whiteouts`` and ``opaque`` removes a lower finding at
    ``path`` (None: it survives)."""
    if path in whiteouts:
        return WHITEOUT
    if path in written:
        return REPLACED
    for a in _ancestors(path):
        if a in whiteouts:
            return WHITEOUT
        if a in opaque:
            return OPAQUE
        kind = written.get(a)
        if kind is not None and kind != DIR:
            return REPLACED
    return None


def apply(layers: Sequence[LayerResult]) -> AppliedView:
    """Merge ``layers`` (bottom first) into the final view."""
    # path -> analyzer -> findings at that path
    state: dict[str, dict[str, tuple[Located, ...]]] = {}
    removed: list[Removed] = []
    opaque_dirs: list[tuple[str, str]] = []
    for index, layer in enumerate(layers):
        changes = layer.changes
        written = dict(changes.written)
        whiteouts = frozenset(changes.whiteouts)
        opaque = frozenset(changes.opaque_dirs)
        opaque_dirs.extend((d, layer.diff_id) for d in changes.opaque_dirs)
        for path in list(state):
            how = _removal(path, written, whiteouts, opaque)
            if how is not None:
                for found in state.pop(path).values():
                    removed.extend(Removed(f, index, layer.diff_id, how) for f in found)
        for result in layer.analyzers:
            fresh: dict[str, list[Located]] = {}
            for f in result.findings:
                loc = Located(result.name, f.path, f.value, index, layer.diff_id)
                fresh.setdefault(f.path, []).append(loc)
            for path, locs in fresh.items():
                state.setdefault(path, {})[result.name] = tuple(locs)
            for path, target in result.links:
                linked = state.get(target, {}).get(result.name, ())
                moved = tuple(replace(f, path=path, layer=index, diff_id=layer.diff_id) for f in linked)
                if moved:
                    state.setdefault(path, {})[result.name] = moved
    findings = [f for path in sorted(state) for name in sorted(state[path]) for f in state[path][name]]
    return AppliedView(tuple(findings), tuple(removed), tuple(opaque_dirs))


__all__ = ["OPAQUE", "REPLACED", "WHITEOUT", "AppliedView", "Located", "Removed", "apply"]
