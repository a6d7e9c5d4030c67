"""The SBOM of one image: each layer walked once by the catalogers (results cached per diff_id), the layers'
results merged by the applier (whiteouts, opaque directories, replaced files), the OS detected, each package
given its ecosystem, purl and the layer that introduced it. Whole-image SBOMs are cached by image ID.

"The layer that introduced it": a package database (dpkg's status, apk's installed) is rewritten whole by every
layer that installs anything, so the applier attributes every package to the top layer that wrote the file.
Like Trivy, dockyard then walks down: a package that the same file held, with the same version, in the layers
below (with no layer between them deleting the file) was introduced by the lowest of those layers.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from dockyard.errors import DockyardError
from dockyard.image.base import Image, image_id
from dockyard.layers.apply import apply
from dockyard.layers.walk import Analyzer, AnalyzerLayer, Cache, LayerChanges, LayerResult, walk_layer
from dockyard.scan.package import OS, Package
from dockyard.scan.sbom.cache import ImageCache, LayerCache
from dockyard.scan.sbom.catalogers import CATALOGERS
from dockyard.scan.sbom.catalogers.dpkg import STATUS_D
from dockyard.scan.sbom.found import Found, Problem, ReleaseFile
from dockyard.scan.sbom.osrelease import ReleaseFiles, detect
from dockyard.scan.sbom.purls import package

#: Bump when the way packages are derived from the catalogers' findings changes (invalidates image caches).
FORMAT_VERSION: Final = 1
_RELEASE = ReleaseFiles()

Progress = Callable[[int, int, str, bool], None]
"""``(layer index, layer count, diff_id, cached)`` after each layer."""


@dataclass(frozen=True, slots=True)
class Sbom:
    """An image's packages and OS. ``warnings`` name what could not be read: a scan with warnings is
    incomplete (``complete`` is False) and says so."""

    image_id: str
    os: OS | None
    packages: tuple[Package, ...]
    layers: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    cached: bool = False

    @property
    def complete(self) -> bool:
        return not self.warnings

    def to_doc(self) -> dict[str, Any]:
        return {
            "image_id": self.image_id,
            "os": asdict(self.os) if self.os is not None else None,
            "layers": list(self.layers),
            "packages": [asdict(p) for p in self.packages],
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any], *, cached: bool = False) -> Sbom:
        os_doc = doc.get("os")
        packages = tuple(Package(**{**p, "licenses": tuple(p.get("licenses", ()))}) for p in doc.get("packages", []))
        return cls(
            str(doc["image_id"]),
            OS(**os_doc) if isinstance(os_doc, dict) else None,
            packages,
            tuple(doc.get("layers", [])),
            tuple(doc.get("warnings", [])),
            cached,
        )


def catalog_version(analyzers: Sequence[Analyzer]) -> str:
    """A short key naming the analyzers and versions an SBOM was made with."""
    names = ",".join(f"{a.name}:{a.version}" for a in [_RELEASE, *analyzers])
    return hashlib.sha256(f"{FORMAT_VERSION}|{names}".encode()).hexdigest()[:12]


def _walk_all(
    image: Image, analyzers: Sequence[Analyzer], cache: Cache | None, progress: Progress | None
) -> tuple[list[LayerResult], list[str]]:
    results: list[LayerResult] = []
    warnings: list[str] = []
    layers = image.layers()
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
            progress(i, len(layers), diff_id, cached)
    return results, warnings


def _removed_between(path: str, layer: LayerResult) -> bool:
    """Whether ``layer`` deletes ``path`` from the layers below it (whiteout or opaque parent)."""
    ch = layer.changes
    if path in ch.whiteouts:
        return True
    parts = path.split("/")
    parents = {"/".join(parts[:n]) for n in range(1, len(parts))} | {"."}
    return bool(parents & (set(ch.whiteouts) | set(ch.opaque_dirs)))


def _introduced(results: Sequence[LayerResult], analyzer: str, path: str, value: Found, top: int) -> int:
    layer = top
    for k in range(top - 1, -1, -1):
        if _removed_between(path, results[k + 1]):
            break
        res = results[k].analyzer(analyzer)
        at_path = [f.value for f in res.findings if f.path == path]
        if value in at_path:
            layer = k
        elif at_path or path in dict(results[k].changes.written):
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
    version = catalog_version(analyzers)
    images = ImageCache(cache_root) if cache_root is not None else None
    if images is not None:
        doc = images.get(ident, version)
        if doc is not None:
            try:
                return Sbom.from_doc(doc, cached=True)
            except (KeyError, TypeError, ValueError):
                pass
    cache = LayerCache(cache_root) if cache_root is not None else None
    results, warnings = _walk_all(image, analyzers, cache, progress)
    view = apply(results)
    release: dict[str, str] = {}
    distroless = False
    found: list[tuple[int, str, str, str, Found]] = []
    order = {a.name: n for n, a in enumerate(analyzers)}
    for loc in view.findings:
        if isinstance(loc.value, ReleaseFile):
            release[loc.path] = loc.value.text
        elif isinstance(loc.value, Problem):
            warnings.append(f"{loc.path} (layer {loc.layer + 1}): {loc.value.message}")
        elif isinstance(loc.value, Found):
            if loc.analyzer == "dpkg" and loc.path.startswith(STATUS_D):
                distroless = True
            layer = _introduced(results, loc.analyzer, loc.path, loc.value, loc.layer)
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
        images.put(ident, version, sbom.to_doc())
    return sbom


__all__ = ["FORMAT_VERSION", "Progress", "Sbom", "build", "catalog_version"]
