"""The image a build stage is making: its config (``Env``, ``Cmd``, ``WorkingDir`` ...), layers and history, changed
instruction by instruction as BuildKit's dockerfile2llb does, and written out as the config blob BuildKit exports.

History lines follow BuildKit: ``comment: buildkit.dockerfile.v0``; RUN/COPY/ADD/WORKDIR lines made by a step that
ran end in `` # buildkit``; metadata-only instructions and steps whose diff is empty are ``empty_layer``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

from dockyard.compat.gojson import marshal_ordered
from dockyard.compat.gostrconv import go_quote
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.platform import Platform

HISTORY_COMMENT = "buildkit.dockerfile.v0"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ("/bin/sh", "-c")

#: Config fields BuildKit's image config carries, in Go's field order (dockerspec.DockerOCIImageConfig).
_CONFIG_ORDER = (
    "User",
    "ExposedPorts",
    "Env",
    "Entrypoint",
    "Cmd",
    "Volumes",
    "WorkingDir",
    "Labels",
    "StopSignal",
    "ArgsEscaped",
    "Healthcheck",
    "OnBuild",
    "Shell",
)


@dataclass(frozen=True, slots=True)
class LayerRef:
    """A layer of the image: its blob (kept in the store) and content hash."""

    descriptor: Descriptor
    diff_id: Digest
    open: Callable[[], BinaryIO] = field(compare=False, repr=False)


def format_time(epoch: int | None) -> str:
    """RFC 3339 in UTC as Go writes it (``2024-01-02T03:04:05Z``, nanoseconds when there are any)."""
    if epoch is not None:
        return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}000Z"


def go_list(values: Sequence[str]) -> str:
    """Go's ``%q`` of a ``[]string``: ``["a" "b"]``."""
    return "[" + " ".join(go_quote(v) for v in values) + "]"


def go_plain_list(values: Sequence[str]) -> str:
    """Go's ``%v`` of a ``[]string``: ``[a b]``."""
    return "[" + " ".join(values) + "]"


@dataclass
class ImageState:
    """A stage's image as it is being built."""

    platform: Platform
    config: dict[str, Any] = field(default_factory=dict)  # the ``config`` object
    layers: list[LayerRef] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    author: str = ""
    base_name: str = ""  # the FROM image's name ('' for scratch or a stage)
    base_digest: str = ""
    clock: str | None = None  # when the newest step of this image was made (a cached step: when it first was)

    @classmethod
    def scratch(cls, platform: Platform) -> ImageState:
        return cls(platform, {"Env": [f"PATH={DEFAULT_PATH}"]})

    @classmethod
    def from_image(cls, platform: Platform, data: Mapping[str, Any], layers: Sequence[LayerRef]) -> ImageState:
        config = copy.deepcopy(data.get("config")) if isinstance(data.get("config"), dict) else {}
        assert isinstance(config, dict)
        env = config.get("Env") or []
        if not any(str(e).startswith("PATH=") for e in env):
            config["Env"] = [*env, f"PATH={DEFAULT_PATH}"]
        history = [dict(h) for h in data.get("history", []) if isinstance(h, dict)]
        created = data.get("created")
        clock = created if isinstance(created, str) and created else None
        return cls(platform, config, list(layers), history, str(data.get("author", "")), clock=clock)

    def clone(self) -> ImageState:
        out = copy.deepcopy(ImageState(self.platform, self.config, [], self.history, self.author, clock=self.clock))
        out.layers = list(self.layers)
        out.config.pop("OnBuild", None)  # triggers do not carry over from a base stage
        return out

    # --- values ---------------------------------------------------------------------------------------------

    @property
    def env(self) -> list[str]:
        return list(self.config.get("Env") or [])

    def env_map(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in self.env:
            key, _, value = item.partition("=")
            out[key] = value
        return out

    @property
    def workdir(self) -> str:
        return str(self.config.get("WorkingDir") or "/")

    @property
    def user(self) -> str:
        return str(self.config.get("User") or "")

    @property
    def shell(self) -> tuple[str, ...]:
        value = self.config.get("Shell")
        return tuple(value) if value else DEFAULT_SHELL

    # --- changes --------------------------------------------------------------------------------------------

    def add_env(self, key: str, value: str) -> None:
        env = self.env
        for i, item in enumerate(env):
            if item.partition("=")[0] == key:
                env[i] = f"{key}={value}"
                break
        else:
            env.append(f"{key}={value}")
        self.config["Env"] = env

    def commit(self, created_by: str, *, epoch: int | None, layer: LayerRef | None = None, ran: bool = False) -> None:
        """A history line; with ``layer``, the layer too. ``ran``: a step that ran (`` # buildkit``).

        Its time is ``epoch`` (SOURCE_DATE_EPOCH) when given, else the image's clock: so an unchanged rebuild, every
        step from the cache, makes the very same config (the same image ID), as Docker's cache does."""
        entry: dict[str, Any] = {
            "created": self.time(epoch),
            "created_by": created_by + (" # buildkit" if ran else ""),
        }
        entry["comment"] = HISTORY_COMMENT
        if layer is None:
            entry["empty_layer"] = True
        else:
            self.layers.append(layer)
        self.history.append(entry)

    def time(self, epoch: int | None) -> str:
        return format_time(epoch) if epoch is not None or self.clock is None else self.clock

    # --- output ---------------------------------------------------------------------------------------------

    def config_blob(self, *, epoch: int | None, labels: Mapping[str, str] = {}) -> bytes:
        """The image config as BuildKit writes it (Go's JSON: field order, ``\\u003c`` escapes)."""
        config = dict(self.config)
        if labels:
            config["Labels"] = {**(config.get("Labels") or {}), **labels}
        ordered = {k: config[k] for k in _CONFIG_ORDER if config.get(k) not in (None, [], {}, "", False)}
        for k, v in config.items():
            if k not in ordered and v not in (None, [], {}, "", False):
                ordered[k] = v
        obj: dict[str, Any] = {}
        obj["architecture"] = self.platform.architecture
        if self.author:
            obj["author"] = self.author
        obj["config"] = ordered
        obj["created"] = self.time(epoch)
        obj["history"] = [
            {k: h[k] for k in ("created", "created_by", "author", "comment", "empty_layer") if h.get(k)}
            for h in self.history
        ]
        obj["os"] = self.platform.os
        obj["rootfs"] = {"type": "layers", "diff_ids": [str(layer.diff_id) for layer in self.layers]}
        if self.platform.variant:
            obj["variant"] = self.platform.variant
        return marshal_ordered(obj).encode()


__all__ = [
    "DEFAULT_PATH",
    "DEFAULT_SHELL",
    "HISTORY_COMMENT",
    "ImageState",
    "LayerRef",
    "format_time",
    "go_list",
    "go_plain_list",
]
