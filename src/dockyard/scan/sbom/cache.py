"""The layer cache under the store's root (``StorePaths.cache / "sbom"``): small JSON files, written atomically
(the whole-image cache is :class:`~dockyard.scan.sbom.result.ImageCache`).

``sbom/layers/<diff_id hex>/<analyzer>-<version>.json``: one analyzer's results on one layer (and
``changes.json``, what the layer does to the paths below it): the layer walker's cache, so a layer shared by
several images is read once. ``sbom/images/<image id hex>-<catalog version>.json``: a whole image's SBOM.
A cache file that cannot be read is a miss, never an error.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

from dockyard.layers.walk import AnalyzerLayer, Finding, LayerChanges
from dockyard.scan.sbom.found import decode, encode
from dockyard.scan.sbom.result import digest_name, read_json, write_json

Key = tuple[str, str, int]
Entry = LayerChanges | AnalyzerLayer


class LayerCache(MutableMapping[Key, Entry]):
    """The walker's :data:`~dockyard.layers.walk.Cache`, kept in files."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: Key) -> Path:
        diff_id, name, version = key
        if name and not name.replace("-", "").isalnum():
            raise KeyError(key)
        leaf = "changes.json" if not name else f"{name}-{version}.json"
        return self.root / "layers" / digest_name(diff_id) / leaf

    def __getitem__(self, key: Key) -> Entry:
        doc = read_json(self._path(key))
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
        write_json(self._path(key), doc)

    def __delitem__(self, key: Key) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        try:
            return self._path(key).is_file()  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError):
            return False

    def __iter__(self) -> Iterator[Key]:
        return iter(())  # not enumerable: the walker only gets and sets

    def __len__(self) -> int:
        return 0


__all__ = ["LayerCache"]
