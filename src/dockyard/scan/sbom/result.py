"""The SBOM value and the whole-image cache: light on imports, so that a cached SBOM is answered without loading
the walker, the catalogers or their parsers.

The image cache is keyed by image ID and a catalog version: a hash of :data:`FORMAT_VERSION` and
:data:`CATALOG` (each analyzer's name and version, which a test checks against the analyzers themselves).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from dockyard.image.base import Image, image_id
from dockyard.scan.package import OS, Package

#: Bump when the way packages are derived from the catalogers' findings changes (invalidates image caches).
FORMAT_VERSION: Final = 1

#: ``(name, version)`` of the OS-release analyzer and of every cataloger, in registry order.
CATALOG: Final = (("os-release", 1), ("dpkg", 2), ("apk", 2), ("python", 2), ("npm", 3), ("go", 2))


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


def catalog_version(catalog: tuple[tuple[str, int], ...] = CATALOG) -> str:
    """A short key naming the analyzers and versions an SBOM was made with."""
    names = ",".join(f"{name}:{version}" for name, version in catalog)
    return hashlib.sha256(f"{FORMAT_VERSION}|{names}".encode()).hexdigest()[:12]


def write_json(path: Path, doc: Any) -> bool:
    """Write ``doc`` as JSON to ``path`` atomically (a temporary file renamed). The cache is an optimisation:
    a store whose cache cannot be written (read-only, full) still gets its SBOM, so this says False instead."""
    from dockyard.atomicfile import write_atomically

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(doc, separators=(",", ":")).encode("utf-8"))
    except OSError:
        return False
    return True


def read_json(path: Path) -> Any:
    """The JSON document at ``path``, or None when it is missing or unreadable (a cache miss)."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def digest_name(digest: str) -> str:
    alg, _, hex_ = digest.partition(":")
    if not hex_ or not hex_.isalnum() or not alg.isalnum():
        raise KeyError(digest)
    return f"{alg}-{hex_}" if alg != "sha256" else hex_


class ImageCache:
    """Whole-image SBOMs by image ID and catalog version (``images/<id>-<version>.json``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, image_id: str, version: str) -> Path:
        return self.root / "images" / f"{digest_name(image_id)}-{version}.json"

    def get(self, image_id: str, version: str) -> Sbom | None:
        doc = read_json(self._path(image_id, version))
        if not isinstance(doc, dict):
            return None
        try:
            return Sbom.from_doc(doc, cached=True)
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, sbom: Sbom, version: str) -> None:
        write_json(self._path(sbom.image_id, version), sbom.to_doc())


def lookup(image: Image, cache_root: Path) -> Sbom | None:
    """The cached SBOM of ``image`` made with the registry's catalogers (:data:`CATALOG`), if there is one."""
    return ImageCache(cache_root).get(str(image_id(image)), catalog_version())


__all__ = ["CATALOG", "FORMAT_VERSION", "ImageCache", "Sbom", "catalog_version", "lookup", "read_json", "write_json"]
