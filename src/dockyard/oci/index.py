"""Image indexes (OCI) and manifest lists (Docker). The raw bytes are the source of truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import InvalidManifest
from dockyard.oci import _json, mediatype
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Manifest
from dockyard.oci.platform import Platform


@dataclass(frozen=True, slots=True)
class Index:
    raw: bytes = field(repr=False)
    media_type: str
    manifests: tuple[Descriptor, ...]
    annotations: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def digest(self) -> Digest:
        return Digest.of(self.raw)

    @property
    def size(self) -> int:
        return len(self.raw)

    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, self.size)

    @classmethod
    def parse(cls, raw: bytes, media_type: str | None = None) -> Index:
        obj = _json.loads_object(raw, "index")
        declared = obj.get("mediaType")
        if declared is not None and not isinstance(declared, str):
            raise InvalidManifest("index: field 'mediaType' must be a string")
        kind = declared or media_type or mediatype.OCI_INDEX
        if kind not in mediatype.INDEX_TYPES:
            raise InvalidManifest(f"index: unsupported mediaType {kind!r}")
        if _json.get_int(obj, "schemaVersion", "index") != 2:
            raise InvalidManifest("index: field 'schemaVersion' must be 2")
        manifests = tuple(
            Descriptor.from_json(item, f"index manifests[{i}]")
            for i, item in enumerate(_json.get_list(obj, "manifests", "index"))
        )
        return cls(raw, kind, manifests, _json.get_str_map(obj, "annotations", "index"))

    @classmethod
    def build(
        cls,
        manifests: list[Descriptor] | tuple[Descriptor, ...],
        media_type: str = mediatype.OCI_INDEX,
        annotations: dict[str, str] | None = None,
    ) -> Index:
        obj: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type}
        obj["manifests"] = [m.to_json() for m in manifests]
        if annotations:
            obj["annotations"] = annotations
        return cls.parse(_json.dumps(obj), media_type)

    def select(self, platform: Platform) -> Descriptor:
        """The child manifest for ``platform``: an exact match first (in index order), else the best older
        variant it can run (``arm/v7`` takes ``arm/v6`` only when there is no ``arm/v7``)."""
        for candidate in platform.fallbacks():
            for desc in self.manifests:
                if desc.platform is not None and candidate.matches(desc.platform):
                    return desc
        available = ", ".join(str(d.platform) for d in self.manifests if d.platform is not None) or "none"
        raise InvalidManifest(f"no image for platform {platform} in index (available: {available})")


def parse_any(raw: bytes, media_type: str | None = None) -> Index | Manifest:
    """Parse bytes as an index or a manifest, whichever they are."""
    obj = _json.loads_object(raw, "manifest")
    kind = obj.get("mediaType") or media_type
    if kind in mediatype.INDEX_TYPES or (kind is None and "manifests" in obj and "layers" not in obj):
        return Index.parse(raw, media_type if media_type in mediatype.INDEX_TYPES else None)
    return Manifest.parse(raw, media_type if media_type in mediatype.MANIFEST_TYPES else None)
