"""The SBOM of one image: each layer walked once by the catalogers (results cached per diff_id), the layers'
results merged by the applier (whiteouts, opaque directories, replaced files), the OS detected, each package
given its ecosystem, purl and the layer that introduced it. Whole-image SBOMs are cached by image ID.

"The layer that introduced it": a package database (dpkg's status, apk's installed) is rewritten whole by every
layer that installs anything, so the applier attributes every package to the top layer that wrote the file.
Like Trivy, dockyard then walks down: a package that the same file held, with the same version, in the layers
below (with no layer between them deleting the file) was introduced by the lowest of those layers.
"""

from __future__ import annotations

import zlib
from collections.abc import Hashable, Sequence
from pathlib import Path

from dockyard.errors import DockyardError
from dockyard.image.base import Image, image_id
from dockyard.layers.apply import apply
from dockyard.layers.walk import Analyzer, AnalyzerLayer, Cache, LayerChanges, LayerResult, walk_layer
from dockyard.scan.sbom import Progress
from dockyard.scan.sbom.cache import LayerCache
from dockyard.scan.sbom.catalogers import CATALOGERS
from dockyard.scan.sbom.catalogers.dpkg import STATUS_D
from dockyard.scan.sbom.found import Found, Problem, ReleaseFile
from dockyard.scan.sbom.osrelease import ReleaseFiles, detect
from dockyard.scan.sbom.purls import package
from dockyard.scan.sbom.result import ImageCache, Sbom, catalog_version

_RELEASE = ReleaseFiles()


def _walk_all(
    image: Image, analyzers: Sequence[Analyzer], cache: Cache | None, progress: Progress | None
) -> tuple[list[LayerResult], list[str]]:
    results: list[LayerResult] = []
    warnings: list[str] = []
    layers = image.layers()
    found = 0
    for i, layer in enumerate(layers):
        diff_id = str(layer.diff_id())
        cached = (
            cache is not None
            and all((diff_id, a.name, a.version) in cache for a in [_RELEASE, *analyzers])
            and (diff_id, "", 0) in cache
        )
        try:
            results.append(walk_layer(layer.open, diff_id, [_RELEASE, *analyzers], cache=cache))
        except (DockyardError, OSError, EOFError, zlib.error) as exc:
            warnings.append(f"layer {i + 1} ({diff_id[:19]}) could not be read: {exc}")
            empty = tuple(AnalyzerLayer(a.name, a.version) for a in [_RELEASE, *analyzers])
            results.append(LayerResult(diff_id, LayerChanges(), empty))
        if progress is not None:
            found += sum(isinstance(f.value, Found) for a in results[-1].analyzers for f in a.findings)
            progress(i, len(layers), diff_id, cached, found)
    return results, warnings


class _History:
    """Per-layer indexes for :func:`introduced`, built once per layer when first asked for."""

    def __init__(self, results: Sequence[LayerResult]) -> None:
        self.results = results
        self._found: dict[tuple[int, str], dict[str, set[Hashable]]] = {}
        self._written: dict[int, frozenset[str]] = {}
        self._removed: dict[int, frozenset[str]] = {}

    def found(self, k: int, analyzer: str) -> dict[str, set[Hashable]]:
        key = (k, analyzer)
        if key not in self._found:
            index: dict[str, set[Hashable]] = {}
            for f in self.results[k].analyzer(analyzer).findings:
                index.setdefault(f.path, set()).add(f.value)
            self._found[key] = index
        return self._found[key]

    def written(self, k: int) -> frozenset[str]:
        if k not in self._written:
            self._written[k] = frozenset(p for p, _ in self.results[k].changes.written)
        return self._written[k]

    def removes(self, k: int, path: str) -> bool:
        """Whether layer ``k`` deletes ``path`` from the layers below it (a whiteout, an opaque parent)."""
        if k not in self._removed:
            ch = self.results[k].changes
            self._removed[k] = frozenset(ch.whiteouts) | frozenset(ch.opaque_dirs)
        gone = self._removed[k]
        if not gone:
            return False
        parts = path.split("/")
        return "." in gone or any("/".join(parts[:n]) in gone for n in range(1, len(parts) + 1))

    def introduced(self, analyzer: str, path: str, value: Found, top: int) -> int:
        """The lowest layer from which ``path`` held ``value`` without interruption up to layer ``top``."""
        layer = top
        for k in range(top - 1, -1, -1):
            if self.removes(k + 1, path):
                break
            at_path = self.found(k, analyzer).get(path)
            if at_path is not None and value in at_path:
                layer = k
            elif at_path is not None or path in self.written(k):
                break
        return layer


def build(
    image: Image,
    *,
    analyzers: Sequence[Analyzer] = CATALOGERS,
    cache_root: Path | None = None,
    progress: Progress | None = None,
) -> Sbom:
    """The SBOM of ``image``: from the image cache when it holds it, else walked (layers from the layer cache)."""
    ident = str(image_id(image))
    version = catalog_version(tuple((a.name, a.version) for a in [_RELEASE, *analyzers]))
    images = ImageCache(cache_root) if cache_root is not None else None
    if images is not None:
        hit = images.get(ident, version)
        if hit is not None:
            return hit
    cache = LayerCache(cache_root) if cache_root is not None else None
    results, warnings = _walk_all(image, analyzers, cache, progress)
    view = apply(results)
    release: dict[str, str] = {}
    distroless = False
    found: list[tuple[int, str, str, str, Found]] = []
    order = {a.name: n for n, a in enumerate(analyzers)}
    history = _History(results)
    for loc in view.findings:
        if isinstance(loc.value, ReleaseFile):
            release[loc.path] = loc.value.text
        elif isinstance(loc.value, Problem):
            warnings.append(f"{loc.path} (layer {loc.layer + 1}): {loc.value.message}")
        elif isinstance(loc.value, Found):
            if loc.analyzer == "dpkg" and loc.path.startswith(STATUS_D):
                distroless = True
            layer = history.introduced(loc.analyzer, loc.path, loc.value, loc.layer)
            rank = order.get(loc.analyzer, len(order))
            found.append((rank, loc.path, results[layer].diff_id, loc.analyzer, loc.value))
    for res in results:
        for a in res.analyzers:
            if a.skipped and a.name in ("dpkg", "apk"):
                warnings.append(f"{', '.join(a.skipped)}: larger than the walker reads (layer {res.diff_id[:19]})")
    os = detect(release, distroless_dpkg=distroless)
    packages = [package(f, os, layer=diff_id, path=path) for _, path, diff_id, _, f in found]
    ranked = zip([k for k, *_ in found], packages, strict=True)
    keyed = sorted(ranked, key=lambda t: (t[0], t[1].name, t[1].version, t[1].path))
    sbom = Sbom(ident, os, tuple(p for _, p in keyed), tuple(r.diff_id for r in results), tuple(warnings))
    if images is not None and sbom.complete:
        images.put(sbom, version)
    return sbom


__all__ = ["Sbom", "build"]
