"""The SBOM of an image: catalogers (``catalogers/``, one module per ecosystem) run by the layer walker, OS
detection (:mod:`.osrelease`), packages with purls (:mod:`.purls`), a cache per layer (:mod:`.cache`) and per
image (:mod:`.result`), and the output formats (:mod:`.formats`). :func:`sbom` is the one call; it answers a
cached image without importing the walker and the catalogers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dockyard.image.base import Image
from dockyard.scan.sbom.result import Sbom, lookup

Progress = Callable[[int, int, str, bool, int], None]
"""``(layer index, layer count, diff_id, cached, package records found so far)`` after each layer."""


def sbom(image: Image, *, cache_root: Path | None = None, progress: Progress | None = None) -> Sbom:
    """The SBOM of ``image``; ``cache_root`` (the store's ``paths.cache / "sbom"``) keeps layers and images."""
    if cache_root is not None:
        hit = lookup(image, cache_root)
        if hit is not None:
            return hit
    from dockyard.scan.sbom.index import build

    return build(image, cache_root=cache_root, progress=progress)


__all__ = ["Progress", "Sbom", "sbom"]
