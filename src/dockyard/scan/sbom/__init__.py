"""The SBOM of an image: catalogers (``catalogers/``, one module per ecosystem) run by the layer walker, OS
detection (:mod:`.osrelease`), packages with purls (:mod:`.purls`), a cache per layer and per image
(:mod:`.cache`), and the output formats (:mod:`.formats`). :func:`sbom` is the one call."""

from __future__ import annotations

from pathlib import Path

from dockyard.image.base import Image
from dockyard.scan.sbom.index import Progress, Sbom, build


def sbom(image: Image, *, cache_root: Path | None = None, progress: Progress | None = None) -> Sbom:
    """The SBOM of ``image``; ``cache_root`` (the store's ``paths.cache / "sbom"``) keeps layers and images."""
    return build(image, cache_root=cache_root, progress=progress)


__all__ = ["Progress", "Sbom", "build", "sbom"]
