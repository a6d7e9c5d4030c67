"""The SBOM cache under the store's root (``StorePaths.cache``): small JSON files, written atomically.

``sbom/layers/<diff_id hex>/<analyzer>-<version>.json``: one analyzer's results on one layer (and
``changes.json``, what the layer does to the paths below it): the layer walker's cache, so a layer shared by
several images is read once. ``sbom/images/<image id hex>-<catalog version>.json``: a whole image's SBOM.
A cache file that cannot be read is a miss, never an error.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

from dockyard.layers.walk import AnalyzerLayer, Finding, LayerChanges
from dockyard.scan.sbom.found import decode, encode

Key = tuple[str, str, int]
Entry = LayerChanges | AnalyzerLayer


def _write_json(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _hex(digest: str) -> str:
    alg, _, hex_ = digest.partition(":")
    if not hex_ or not hex_.isalnum() or not alg.isalnum():
        raise KeyError(digest)
    return f"{alg}-{hex_}" if alg != "sha256" else hex_


class LayerCache(MutableMapping[Key, Entry]):
    """The walker's :data:`~dockyard.layers.walk.Cache`, kept in files."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: Key) -> Path:
        diff_id, name, version = key
        if name and not name.replace("-", "").isalnum():
            raise KeyError(key)
        leaf = "changes.json" if not name else f"{name}-{version}.json"
        return self.root / "layers" / _hex(diff_id) / leaf

    def __getitem__(self, key: Key) -> Entry:
        doc = _read_json(self._path(key))
        if not isinstance(doc, dict):
            raise KeyError(key)
        try:
            if not key[1]:
                return LayerChanges(
                    tuple(doc["whiteouts"]),
                    tuple(doc["opaque_dirs"]),
                    tuple((str(p), str(k)) for p, k in doc["written"]),
                )
            return AnalyzerLayer(
                doc["name"],
                int(doc["version"]),
                tuple(Finding(str(f["path"]), decode(f["value"])) for f in doc["findings"]),
                tuple((str(a), str(b)) for a, b in doc["links"]),
                tuple(doc["skipped"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyError(key) from exc

    def __setitem__(self, key: Key, value: Entry) -> None:
        if isinstance(value, LayerChanges):
            doc: dict[str, Any] = {
                "whiteouts": list(value.whiteouts),
                "opaque_dirs": list(value.opaque_dirs),
                "written": [list(w) for w in value.written],
            }
        else:
            doc = {
                "name": value.name,
                "version": value.version,
                "findings": [{"path": f.path, "value": encode(f.value)} for f in value.findings],
                "links": [list(link) for link in value.links],
                "skipped": list(value.skipped),
            }
        _write_json(self._path(key), doc)

    def __delitem__(self, key: Key) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            raise KeyError(key) from None

    def __iter__(self) -> Iterator[Key]:
        return iter(())  # not enumerable: the walker only gets and sets

    def __len__(self) -> int:
        return 0


class ImageCache:
    """Whole-image SBOMs by image ID and catalog version, as the JSON documents :mod:`.index` writes."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, image_id: str, version: str) -> Path:
        return self.root / "images" / f"{_hex(image_id)}-{version}.json"

    def get(self, image_id: str, version: str) -> dict[str, Any] | None:
        doc = _read_json(self._path(image_id, version))
        return doc if isinstance(doc, dict) else None

    def put(self, image_id: str, version: str, doc: dict[str, Any]) -> None:
        _write_json(self._path(image_id, version), doc)


__all__ = ["ImageCache", "LayerCache"]
