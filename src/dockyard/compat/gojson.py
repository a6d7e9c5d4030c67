"""Go's ``encoding/json`` as the outputs need it: ``Marshal``/``MarshalIndent`` (maps with sorted keys,
``<``, ``>``, ``&``, U+2028 and U+2029 escaped unless ``escape_html`` is off, floats as Go writes them),
``json.Indent`` and ``json.Compact`` of bytes kept as they are, and Docker's template ``json`` function."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from dockyard.compat.gotypes import NOVALUE, NilMap, NilSlice, Struct

_HTML: Final = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}
_LINE: Final = {"\u2028": "\\u2028", "\u2029": "\\u2029"}
_SHORT: Final = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote(text: str, escape_html: bool = True) -> str:
    """A JSON string as Go's encoder writes it (invalid UTF-8 becomes U+FFFD)."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _SHORT:
            out.append(_SHORT[ch])
        elif code < 0x20:
            out.append(f"\\u{code:04x}")
        elif escape_html and ch in _HTML:
            out.append(_HTML[ch])
        elif ch in _LINE:
            out.append(_LINE[ch])
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def float_text(value: float) -> str:
    """A float64 as Go's encoder writes it (``'f'`` format, ``'e'`` below 1e-6 or from 1e21)."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"json: unsupported value: {value}")
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    text = repr(value)
    if abs(value) < 1e-6 or abs(value) >= 1e21:
        mant, _, exp = text.partition("e")
        if exp.startswith("-0"):
            exp = "-" + exp[2:]
        return f"{mant}e{exp}"
    if "e" in text:
        from decimal import Decimal

        text = format(Decimal(text), "f")
    return text[:-2] if text.endswith(".0") else text


def marshal(value: Any, indent: str | None = None, *, escape_html: bool = True, sort_keys: bool = True) -> str:
    """``json.Marshal`` (or ``MarshalIndent`` with ``indent``) of plain data; a :class:`Struct` keeps its
    field order, maps (dicts) are sorted unless ``sort_keys`` is off (for documents already in Go's order)."""
    out: list[str] = []
    _encode(value, out, indent, 0, escape_html, sort_keys)
    return "".join(out)


def marshal_ordered(value: Any, indent: str | None = None) -> str:
    """``json.MarshalIndent(value, "", indent)`` (``json.Marshal`` when ``indent`` is None) of a document whose
    mappings are already in Go's order (structs' field order): keys kept as they are."""
    return marshal(value, indent, sort_keys=False)


def _encode(value: Any, out: list[str], indent: str | None, depth: int, html: bool, sort: bool) -> None:
    if value is None or value is NOVALUE or isinstance(value, (NilSlice, NilMap)):
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(float_text(value))
    elif isinstance(value, str):
        out.append(quote(value, html))
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _newline(out, indent, depth + 1)
            _encode(item, out, indent, depth + 1, html, sort)
        _newline(out, indent, depth)
        out.append("]")
    elif isinstance(value, (Mapping, Struct)):
        items = list(value.fields.items()) if isinstance(value, Struct) else list(value.items())
        if isinstance(value, Mapping) and sort:
            items.sort(key=lambda kv: str(kv[0]))
        if not items:
            out.append("{}")
            return
        out.append("{")
        for i, (key, item) in enumerate(items):
            if i:
                out.append(",")
            _newline(out, indent, depth + 1)
            out.append(quote(str(key), html))
            out.append(": " if indent is not None else ":")
            _encode(item, out, indent, depth + 1, html, sort)
        _newline(out, indent, depth)
        out.append("}")
    else:
        raise TypeError(f"json: unsupported type: {type(value).__name__}")


def _newline(out: list[str], indent: str | None, depth: int) -> None:
    if indent is not None:
        out.append("\n" + indent * depth)


def docker_json(value: Any) -> str:
    """docker/cli's template ``json``: ``json.NewEncoder`` with ``SetEscapeHTML(false)``, trimmed. A
    :class:`Struct` stands for Docker's formatting contexts, whose ``MarshalJSON`` is ``json.Marshal`` of a
    map: sorted keys, HTML escaped."""
    try:
        if isinstance(value, Struct):
            return marshal(dict(value.fields), escape_html=True)
        return marshal(value, escape_html=False)
    except (TypeError, ValueError):  # Go's encoder writes nothing for an unsupported value
        return ""


_SPACE: Final = frozenset(b" \t\r\n")


def indent(src: bytes, indent: bytes, prefix: bytes = b"") -> bytes:
    """Go's ``json.Indent``: the tokens as they are (strings untouched), one element a line, ``": "`` after
    keys, empty ``{}``/``[]`` kept together; leading whitespace dropped, trailing whitespace kept."""
    out = bytearray()
    depth = 0
    need_indent = in_string = escaped = ended = False

    def newline(level: int) -> None:
        out.extend(b"\n" + prefix + indent * level)

    for byte in src:
        if ended:
            out.append(byte)
            continue
        if in_string:
            out.append(byte)
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
                ended = depth == 0 and not need_indent
            continue
        if byte in _SPACE:
            continue
        if need_indent and byte not in b"}]":
            need_indent = False
            depth += 1
            newline(depth)
        if byte == 0x22:
            in_string = True
            out.append(byte)
        elif byte in b"{[":
            need_indent = True
            out.append(byte)
        elif byte == 0x2C:
            out.append(byte)
            newline(depth)
        elif byte == 0x3A:
            out.extend(b": ")
        elif byte in b"}]":
            if need_indent:
                need_indent = False
            else:
                depth -= 1
                newline(depth)
            out.append(byte)
            ended = depth == 0
        else:
            out.append(byte)
    return bytes(out)


def compact(src: bytes) -> bytes:
    """What ``json.Marshal`` makes of a ``json.Marshaler``'s bytes: insignificant whitespace removed,
    ``<``, ``>``, ``&``, U+2028 and U+2029 escaped (``compact(..., escapeHTML=true)``)."""
    out = bytearray()
    in_string = escaped = False
    for byte in src:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
            out.append(byte)
            continue
        if byte in _SPACE:
            continue
        if byte == 0x22:
            in_string = True
        out.append(byte)
    text = bytes(out).decode("utf-8", "surrogateescape")
    for char, escaped_char in {**_HTML, **_LINE}.items():
        text = text.replace(char, escaped_char)
    return text.encode("utf-8", "surrogateescape")
