"""What the catalogers find in one layer, before the image's OS is known: hashable values the layer walker
caches per diff_id, turned into :class:`~dockyard.scan.package.Package` values once the layers are merged."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from dockyard.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Found:
    """One package as its database or manifest file says (the cataloger's ``kind``; the OS comes later)."""

    kind: str
    name: str
    version: str
    source: str = ""
    source_version: str = ""
    arch: str = ""
    licenses: tuple[str, ...] = ()
    role: str = ""
    """Go: ``main`` (the main module), ``stdlib`` (the toolchain) or ``""`` (a dependency)."""


@dataclass(frozen=True, slots=True)
class ReleaseFile:
    """An OS release file (``etc/os-release``, ``etc/debian_version``, ...) and its text."""

    text: str


@dataclass(frozen=True, slots=True)
class Problem:
    """A file a cataloger wanted but could not read: the scan that meets it is incomplete."""

    message: str


Value = Found | ReleaseFile | Problem
_TYPES: dict[str, type[Found] | type[ReleaseFile] | type[Problem]] = {
    "found": Found,
    "release": ReleaseFile,
    "problem": Problem,
}
_NAMES = {cls: name for name, cls in _TYPES.items()}


def encode(value: object) -> dict[str, Any]:
    """A JSON-able dict for a cached value."""
    name = _NAMES.get(type(value))  # type: ignore[arg-type]
    if name is None:
        raise InvalidInput(f"cannot cache a {type(value).__name__}")
    return {"t": name, **asdict(value)}  # type: ignore[call-overload]


def decode(doc: dict[str, Any]) -> Value:
    cls = _TYPES.get(str(doc.get("t")))
    if cls is None:
        raise InvalidInput(f"unknown cached value type {doc.get('t')!r}")
    kwargs = {f.name: doc[f.name] for f in fields(cls) if f.name in doc}
    if "licenses" in kwargs:
        kwargs["licenses"] = tuple(kwargs["licenses"])
    return cls(**kwargs)


__all__ = ["Found", "Problem", "ReleaseFile", "Value", "decode", "encode"]
