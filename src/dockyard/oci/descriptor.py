"""Content descriptors: media type, digest and size of a blob, plus optional platform and annotations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import InvalidDigest, InvalidManifest, InvalidPlatform
from dockyard.oci import _json
from dockyard.oci.digest import Digest
from dockyard.oci.platform import Platform


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    platform: Platform | None = None
    annotations: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    urls: tuple[str, ...] = ()
    artifact_type: str | None = None

    def __post_init__(self) -> None:
        if self.size < 0:
            raise InvalidManifest(f"descriptor {self.digest}: size must not be negative")

    @classmethod
    def from_json(cls, obj: Any, where: str = "descriptor") -> Descriptor:
        if not isinstance(obj, dict):
            raise InvalidManifest(f"{where} must be an object")
        media_type = _json.get_str(obj, "mediaType", where)
        try:
            digest = Digest.parse(_json.get_str(obj, "digest", where))
        except InvalidDigest as exc:
            raise InvalidManifest(f"{where}: field 'digest': {exc}") from None
        size = _json.get_int(obj, "size", where)
        platform = None
        if obj.get("platform") is not None:
            try:
                platform = Platform.from_json(_json.get_obj(obj, "platform", where))
            except InvalidPlatform as exc:
                raise InvalidManifest(f"{where}: field 'platform': {exc}") from None
        urls = _json.get_list(obj, "urls", where, required=False)
        if not all(isinstance(u, str) for u in urls):
            raise InvalidManifest(f"{where}: field 'urls' must be an array of strings")
        artifact = obj.get("artifactType")
        if artifact is not None and not isinstance(artifact, str):
            raise InvalidManifest(f"{where}: field 'artifactType' must be a string")
        if size < 0:
            raise InvalidManifest(f"{where}: field 'size' must not be negative")
        return cls(
            media_type=media_type,
            digest=digest,
            size=size,
            platform=platform,
            annotations=_json.get_str_map(obj, "annotations", where),
            urls=tuple(urls),
            artifact_type=artifact,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out


def descriptor_of(data: bytes, media_type: str) -> Descriptor:
    """A descriptor for bytes held in memory (manifests, configs)."""
    return Descriptor(media_type, Digest.of(data), len(data))
