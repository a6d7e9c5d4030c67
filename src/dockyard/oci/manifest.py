"""Image manifests (OCI and Docker schema 2). The raw bytes are the source of truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import InvalidManifest
from dockyard.oci import _json, mediatype
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest


@dataclass(frozen=True, slots=True)
class Manifest:
    """A parsed image manifest that keeps the exact bytes it was read from."""

    raw: bytes = field(repr=False)
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    subject: Descriptor | None = None

    @property
    def digest(self) -> Digest:
        """The image digest: the hash of the raw manifest bytes."""
        return Digest.of(self.raw)

    @property
    def size(self) -> int:
        return len(self.raw)

    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, self.size)

    @classmethod
    def parse(cls, raw: bytes, media_type: str | None = None) -> Manifest:
        """Parse manifest bytes; ``media_type`` is the transport's Content-Type when known.

        Manifests written without a top-level ``mediaType`` (umoci) are OCI manifests.
        """
        obj = _json.loads_object(raw, "manifest")
        declared = obj.get("mediaType")
        if declared is not None and not isinstance(declared, str):
            raise InvalidManifest("manifest: field 'mediaType' must be a string")
        if declared and media_type and declared != media_type and media_type in mediatype.MANIFEST_TYPES:
            raise InvalidManifest(f"manifest: mediaType {declared!r} does not match {media_type!r}")
        kind = declared or media_type or mediatype.OCI_MANIFEST
        if kind in mediatype.INDEX_TYPES or ("manifests" in obj and "layers" not in obj):
            raise InvalidManifest(f"manifest: is an index ({kind}), not an image manifest")
        if (
            kind in (mediatype.DOCKER_SCHEMA1_MANIFEST, mediatype.DOCKER_SCHEMA1_SIGNED)
            or obj.get("schemaVersion") == 1
        ):
            raise InvalidManifest("manifest: Docker schema 1 manifests are not supported")
        if kind not in mediatype.MANIFEST_TYPES:
            raise InvalidManifest(f"manifest: unsupported mediaType {kind!r}")
        if _json.get_int(obj, "schemaVersion", "manifest") != 2:
            raise InvalidManifest("manifest: field 'schemaVersion' must be 2")
        config = Descriptor.from_json(_json.get_obj(obj, "config", "manifest", required=True), "manifest config")
        layers = tuple(
            Descriptor.from_json(item, f"manifest layers[{i}]")
            for i, item in enumerate(_json.get_list(obj, "layers", "manifest"))
        )
        subject = None
        if obj.get("subject") is not None:
            subject = Descriptor.from_json(obj["subject"], "manifest subject")
        return cls(
            raw=raw,
            media_type=kind,
            config=config,
            layers=layers,
            annotations=_json.get_str_map(obj, "annotations", "manifest"),
            subject=subject,
        )

    @classmethod
    def build(
        cls,
        config: Descriptor,
        layers: list[Descriptor] | tuple[Descriptor, ...],
        media_type: str = mediatype.OCI_MANIFEST,
        annotations: dict[str, str] | None = None,
    ) -> Manifest:
        """Create a new manifest (and its bytes)."""
        obj: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type, "config": config.to_json()}
        obj["layers"] = [layer.to_json() for layer in layers]
        if annotations:
            obj["annotations"] = annotations
        return cls.parse(_json.dumps(obj), media_type)
