"""Small typed accessors for parsed JSON: every failure names the bad field."""

from __future__ import annotations

import json
from typing import Any

from dockyard.errors import InvalidManifest

JSONObject = dict[str, Any]


def loads_object(raw: bytes, what: str) -> JSONObject:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidManifest(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidManifest(f"{what} must be a JSON object, not {type(value).__name__}")
    return value


def get_str(obj: JSONObject, key: str, where: str, *, required: bool = True, default: str = "") -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise InvalidManifest(f"{where}: missing field {key!r}")
        return default
    if not isinstance(value, str):
        raise InvalidManifest(f"{where}: field {key!r} must be a string")
    return value


def get_int(obj: JSONObject, key: str, where: str, *, required: bool = True) -> int:
    value = obj.get(key)
    if value is None:
        if required:
            raise InvalidManifest(f"{where}: missing field {key!r}")
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidManifest(f"{where}: field {key!r} must be an integer")
    return value


def get_list(obj: JSONObject, key: str, where: str, *, required: bool = True) -> list[Any]:
    value = obj.get(key)
    if value is None:
        if required:
            raise InvalidManifest(f"{where}: missing field {key!r}")
        return []
    if not isinstance(value, list):
        raise InvalidManifest(f"{where}: field {key!r} must be an array")
    return value


def get_obj(obj: JSONObject, key: str, where: str, *, required: bool = False) -> JSONObject:
    value = obj.get(key)
    if value is None:
        if required:
            raise InvalidManifest(f"{where}: missing field {key!r}")
        return {}
    if not isinstance(value, dict):
        raise InvalidManifest(f"{where}: field {key!r} must be an object")
    return value


def get_str_map(obj: JSONObject, key: str, where: str) -> dict[str, str]:
    value = get_obj(obj, key, where)
    for k, v in value.items():
        if not isinstance(v, str):
            raise InvalidManifest(f"{where}: {key}[{k!r}] must be a string")
    return dict(value)


def dumps(obj: object) -> bytes:
    """Canonical-enough JSON for bytes we create: compact, key order as given, UTF-8."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
