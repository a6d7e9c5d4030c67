"""Go's data model as Python values, for the template engine and ``fmt``.

``str`` string, ``bool`` bool, ``int`` int, ``float`` float64, ``None`` nil, ``list`` []interface {},
``tuple`` []string, ``dict`` map[string]interface {}, :class:`Struct` a struct (a missing field is an error,
where a missing map key is ``<no value>``). :func:`decode_json` reads JSON as Go's ``UseNumber`` decoder does
followed by the conversion to int (when the number is an integer that fits in int64) or float64.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final


class _NoValue:
    """Go's invalid ``reflect.Value``: a missing map key; printed ``<no value>``."""

    _instance: _NoValue | None = None

    def __new__(cls) -> _NoValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOVALUE"


NOVALUE: Final = _NoValue()


class NilSlice(tuple[str, ...]):
    """A nil ``[]string`` of a typed struct: empty, but ``null`` in JSON."""

    __slots__ = ()


class NilMap(dict[str, Any]):
    """A nil map of a typed struct: empty (``map[]``), but ``null`` in JSON."""


class Byte(int):
    """Go's ``uint8``: what indexing a string gives."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Struct:
    """A Go struct value: named fields in order, and the type name Go's errors show (``*formatter.imageContext``)."""

    type_name: str
    fields: Mapping[str, Any] = field(default_factory=dict)


_TYPE_NAMES: Final = (
    (bool, "bool"),
    (Byte, "uint8"),
    (int, "int"),
    (float, "float64"),
    (complex, "complex128"),
    (str, "string"),
    (tuple, "[]string"),
    (list, "[]interface {}"),
    (dict, "map[string]interface {}"),
)


def type_name(value: Any) -> str:
    """The Go type a value stands for, as Go's messages name it."""
    if isinstance(value, Struct):
        return value.type_name
    for python_type, name in _TYPE_NAMES:
        if isinstance(value, python_type):
            return name
    return "func" if callable(value) else "interface {}"


def _number(text: str) -> int | float:
    try:
        value = int(text)
    except ValueError:
        return float(text)
    if -(1 << 63) <= value < (1 << 63):
        return value
    return float(text)


def decode_json(text: str | bytes) -> Any:
    """JSON as Go decodes it into ``interface{}`` with ``UseNumber``, integers kept as int (when they fit)."""
    import json

    return json.loads(text, parse_int=_number, parse_float=float)


def string_lists(value: Any, nil_slices: frozenset[str] = frozenset(), nil_maps: frozenset[str] = frozenset()) -> Any:
    """Lists whose items are all strings as Go's ``[]string`` (tuples), as Docker's typed structs have them;
    a null under a key of ``nil_slices`` or ``nil_maps`` is that field's typed nil."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if v is None and k in nil_slices:
                out[k] = NilSlice()
            elif v is None and k in nil_maps:
                out[k] = NilMap()
            else:
                out[k] = string_lists(v, nil_slices, nil_maps)
        return out
    if isinstance(value, list):
        if value and all(isinstance(v, str) for v in value):
            return tuple(value)
        return [string_lists(v, nil_slices, nil_maps) for v in value]
    return value
