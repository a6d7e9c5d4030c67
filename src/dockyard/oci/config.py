"""Image configuration (the blob whose digest is the image ID)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dockyard.errors import InvalidDigest, InvalidManifest
from dockyard.oci import _json
from dockyard.oci.digest import Digest
from dockyard.oci.platform import Platform
from dockyard.oci.timefmt import parse_time


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    created: str | None
    created_by: str
    author: str
    comment: str
    empty_layer: bool

    @classmethod
    def from_json(cls, obj: Any, where: str) -> HistoryEntry:
        if not isinstance(obj, dict):
            raise InvalidManifest(f"{where} must be an object")
        empty = obj.get("empty_layer", False)
        if not isinstance(empty, bool):
            raise InvalidManifest(f"{where}: field 'empty_layer' must be a boolean")
        created = obj.get("created")
        if created is not None and not isinstance(created, str):
            raise InvalidManifest(f"{where}: field 'created' must be a string")
        return cls(
            created=created or None,
            created_by=_json.get_str(obj, "created_by", where, required=False),
            author=_json.get_str(obj, "author", where, required=False),
            comment=_json.get_str(obj, "comment", where, required=False),
            empty_layer=empty,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.created:
            out["created"] = self.created
        if self.created_by:
            out["created_by"] = self.created_by
        if self.author:
            out["author"] = self.author
        if self.comment:
            out["comment"] = self.comment
        if self.empty_layer:
            out["empty_layer"] = True
        return out


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """A parsed image config that keeps its raw bytes; ``digest`` is the image ID."""

    raw: bytes = field(repr=False)
    data: dict[str, Any] = field(repr=False, compare=False, hash=False)
    architecture: str
    os: str
    variant: str | None
    created: str | None
    author: str
    diff_ids: tuple[Digest, ...]
    history: tuple[HistoryEntry, ...]

    @property
    def digest(self) -> Digest:
        return Digest.of(self.raw)

    @property
    def platform(self) -> Platform:
        return Platform(os=self.os, architecture=self.architecture, variant=self.variant or None)

    @property
    def container_config(self) -> dict[str, Any]:
        """The ``config`` object (Env, Cmd, Entrypoint, Labels, ...)."""
        value = self.data.get("config")
        return value if isinstance(value, dict) else {}

    def created_at(self) -> datetime | None:
        return parse_time(self.created)

    @classmethod
    def parse(cls, raw: bytes) -> ImageConfig:
        where = "image config"
        obj = _json.loads_object(raw, where)
        rootfs = _json.get_obj(obj, "rootfs", where, required=True)
        rtype = _json.get_str(rootfs, "type", "image config rootfs")
        if rtype != "layers":
            raise InvalidManifest(f"image config rootfs: field 'type' must be 'layers', not {rtype!r}")
        diff_ids: list[Digest] = []
        for i, item in enumerate(_json.get_list(rootfs, "diff_ids", "image config rootfs", required=False)):
            try:
                diff_ids.append(Digest.parse(item))
            except InvalidDigest as exc:
                raise InvalidManifest(f"image config rootfs: diff_ids[{i}]: {exc}") from None
        history = tuple(
            HistoryEntry.from_json(item, f"image config history[{i}]")
            for i, item in enumerate(_json.get_list(obj, "history", where, required=False))
        )
        created = obj.get("created")
        if created is not None and not isinstance(created, str):
            raise InvalidManifest("image config: field 'created' must be a string")
        if created and parse_time(created) is None:
            raise InvalidManifest(f"image config: field 'created' is not an RFC 3339 time: {created!r}")
        config = obj.get("config")
        if config is not None and not isinstance(config, dict):
            raise InvalidManifest("image config: field 'config' must be an object")
        return cls(
            raw=raw,
            data=obj,
            architecture=_json.get_str(obj, "architecture", where, required=False),
            os=_json.get_str(obj, "os", where, required=False),
            variant=_json.get_str(obj, "variant", where, required=False) or None,
            created=created or None,
            author=_json.get_str(obj, "author", where, required=False),
            diff_ids=tuple(diff_ids),
            history=history,
        )

    @classmethod
    def build(
        cls,
        diff_ids: list[Digest],
        *,
        platform: Platform | None = None,
        created: str | None = None,
        history: list[HistoryEntry] | None = None,
        config: dict[str, Any] | None = None,
        author: str = "",
    ) -> ImageConfig:
        plat = platform or Platform(os="linux", architecture="amd64")
        obj: dict[str, Any] = {}
        if created:
            obj["created"] = created
        if author:
            obj["author"] = author
        obj["architecture"] = plat.architecture
        if plat.variant:
            obj["variant"] = plat.variant
        obj["os"] = plat.os
        obj["config"] = config or {}
        obj["rootfs"] = {"type": "layers", "diff_ids": [str(d) for d in diff_ids]}
        if history:
            obj["history"] = [h.to_json() for h in history]
        return cls.parse(_json.dumps(obj))


def chain_ids(diff_ids: list[Digest] | tuple[Digest, ...]) -> list[Digest]:
    """Chain IDs of a layer stack: ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    out: list[Digest] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            out.append(Digest.of(f"{out[-1]} {diff_id}".encode()))
    return out
