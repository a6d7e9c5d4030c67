"""What the scanner's cache holds on disk, and its pruning (Docker Scout's ``cache df`` and ``cache prune``).

The cache root is the store's ``cache/sbom`` (layout in :mod:`dockyard.scan.sbom.cache`). Scout's two kinds map onto
it: its *temporary data* (what it keeps to generate SBOMs) is the per-layer analysis (``layers/<diff_id>/``) and
the kept CycloneDX/SPDX documents (``rendered/``); its *cached SBOMs* are the whole-image SBOMs (``images/``).
Everything there is derived and rebuilt on the next scan; a reader that finds an entry gone takes it as a miss,
so pruning while another process scans is safe: a folder is renamed away first, then removed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dockyard.fsusage import tree_bytes

LAYERS, RENDERED, IMAGES = "layers", "rendered", "images"


@dataclass(frozen=True)
class CacheEntry:
    """One layer's analysis (``key`` its diff_id) or one image's SBOM (``key`` its image ID), and its bytes."""

    key: str
    size: int


@dataclass(frozen=True)
class CacheUsage:
    root: Path
    layers: tuple[CacheEntry, ...]
    rendered: int  # bytes of kept CycloneDX/SPDX documents
    images: tuple[CacheEntry, ...]

    @property
    def temporary(self) -> int:
        return sum(e.size for e in self.layers) + self.rendered

    @property
    def sboms(self) -> int:
        return sum(e.size for e in self.images)


def _digest(name: str) -> str:
    """A cache folder or file name back to its digest (``digest_name``'s inverse: bare hex is sha256)."""
    alg, sep, hex_ = name.partition("-")
    return f"{alg}:{hex_}" if sep else f"sha256:{name}"


def _children(path: Path) -> list[Path]:
    try:
        return sorted(path.iterdir())
    except OSError:
        return []


def usage(root: Path) -> CacheUsage:
    """Each layer and image entry with its size (several catalog versions of one image are summed)."""
    layers = tuple(CacheEntry(_digest(p.name), tree_bytes(p)) for p in _children(root / LAYERS) if p.is_dir())
    images: dict[str, int] = {}
    for p in _children(root / IMAGES):
        if p.suffix == ".json" and not p.name.startswith("."):
            key = _digest(p.name.rsplit("-", 1)[0])
            images[key] = images.get(key, 0) + tree_bytes(p)
    return CacheUsage(
        root,
        tuple(sorted(layers, key=lambda e: e.key)),
        tree_bytes(root / RENDERED),
        tuple(CacheEntry(k, v) for k, v in sorted(images.items())),
    )


def _remove(folders: Iterable[Path]) -> int:
    freed = 0
    for folder in folders:
        if not folder.exists():
            continue
        doomed = folder.with_name(f".{folder.name}.prune-{os.getpid()}")
        try:
            folder.rename(doomed)
        except FileNotFoundError:  # another prune took it
            continue
        freed += tree_bytes(doomed)
        shutil.rmtree(doomed, ignore_errors=True)
    return freed


def prune(root: Path, *, sboms: bool = False) -> int:
    """Remove the temporary data, and with ``sboms`` the cached SBOMs too; the bytes freed."""
    folders = [root / LAYERS, root / RENDERED] + ([root / IMAGES] if sboms else [])
    # leftovers of a prune that was killed between its rename and its removal
    folders += [p for p in _children(root) if p.name.startswith(".") and ".prune-" in p.name]
    return _remove(folders)


__all__ = ["CacheEntry", "CacheUsage", "prune", "usage"]
