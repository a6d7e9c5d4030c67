"""The builtin functions of Go's ``text/template`` (funcs.go, Go 1.19) and docker/cli's ``templates`` ones."""

from __future__ import annotations

from typing import Any

from dockyard.compat import gofmt, gojson
from dockyard.compat.gostrconv import is_graphic
from dockyard.compat.gotemplate._exec import Boxed, CallError, Func
from dockyard.compat.gotypes import NOVALUE, Byte, Struct, type_name


def _b(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _s(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _nil(v: Any) -> bool:
    return v is None or v is NOVALUE


def _index_arg(index: Any, cap: int) -> int:
    if isinstance(index, Boxed):
        raise CallError("cannot index slice/array with type interface {}")
    if _nil(index):
        raise CallError("cannot index slice/array with nil")
    if isinstance(index, bool) or not isinstance(index, int):
        raise CallError(f"cannot index slice/array with type {type_name(index)}")
    if index < 0 or index > cap:
        raise CallError(f"index out of range: {index}")
    return index


def _index(item: Any, *indexes: Any) -> Any:
    if _nil(item):
        raise CallError("index of untyped nil")
    for index in indexes:
        if item is None:
            raise CallError("index of nil pointer")
        if isinstance(item, (list, tuple, str)):
            seq: Any = _b(item) if isinstance(item, str) else item
            x = _index_arg(index, len(seq))
            if x == len(seq):
                raise CallError(f"reflect: {'string' if isinstance(item, str) else 'slice'} index out of range")
            item = Byte(seq[x]) if isinstance(item, str) else seq[x]
        elif isinstance(item, dict):
            if _nil(index):
                raise CallError("value is nil; should be of type string")
            if not isinstance(index, str):
                raise CallError(f"value has type {type_name(index)}; should be string")
            item = item.get(index)
        else:
            raise CallError(f"can't index item of type {type_name(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    if _nil(item):
        raise CallError("slice of untyped nil")
    if len(indexes) > 3:
        raise CallError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise CallError("cannot 3-index slice a string")
        seq: Any = _b(item)
    elif isinstance(item, (list, tuple)):
        seq = item
    else:
        raise CallError(f"can't slice item of type {type_name(item)}")
    idx = [0, len(seq), 0]
    for i, index in enumerate(indexes):
        idx[i] = _index_arg(index, len(seq))
    if idx[0] > idx[1]:
        raise CallError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise CallError(f"invalid slice index: {idx[1]} > {idx[2]}")
    part = seq[idx[0] : idx[1]]
    return _s(part) if isinstance(item, str) else part


def _len(item: Any) -> int:
    if item is None:
        raise CallError("len of nil pointer")
    if item is NOVALUE:
        raise CallError("reflect: call of reflect.Value.Type on zero Value")
    if isinstance(item, str):
        return len(_b(item))
    if isinstance(item, (list, tuple, dict)):
        return len(item)
    raise CallError(f"len of type {type_name(item)}")


_BOOL, _INT, _FLOAT, _STRING, _COMPLEX, _INVALID = range(6)


def _kind(v: Any) -> int:
    if isinstance(v, bool):
        return _BOOL
    if isinstance(v, int):
        return _INT
    if isinstance(v, float):
        return _FLOAT
    if isinstance(v, str):
        return _STRING
    if isinstance(v, complex):
        return _COMPLEX
    return _INVALID


def _reflect_kind(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "slice"
    if isinstance(v, dict):
        return "map"
    if isinstance(v, Struct):
        return "struct"
    return "invalid" if _nil(v) else "func"


def _eq(arg1: Any, *arg2: Any) -> bool:
    if not arg2:
        raise CallError("missing argument for comparison")
    k1 = _kind(arg1)
    for arg in arg2:
        k2 = _kind(arg)
        if k1 != k2:
            if not _nil(arg1) and not _nil(arg):
                raise CallError("incompatible types for comparison")
            truth = False
        elif k1 != _INVALID:
            truth = arg1 == arg
        else:
            r1, r2 = _reflect_kind(arg1), _reflect_kind(arg)
            if r1 != r2 and "invalid" not in (r1, r2):
                left = f"{gofmt.sprintf('%s', arg1)}: {type_name(arg1)}"
                raise CallError(f"non-comparable types {left}, {type_name(arg)}: {gofmt.sprint(arg)}")
            if _nil(arg1) or _nil(arg):
                truth = _nil(arg1) == _nil(arg)
            else:
                if r2 in ("slice", "map", "func"):
                    raise CallError(f"non-comparable type {gofmt.sprintf('%s', arg)}: {type_name(arg)}")
                truth = arg1 == arg
        if truth:
            return True
    return False


def _ne(a: Any, b: Any) -> bool:
    return not _eq(a, b)


def _lt(a: Any, b: Any) -> bool:
    k1, k2 = _kind(a), _kind(b)
    if k1 == _INVALID or k2 == _INVALID:
        raise CallError("invalid type for comparison")
    if k1 != k2:
        raise CallError("incompatible types for comparison")
    if k1 in (_BOOL, _COMPLEX):
        raise CallError("invalid type for comparison")
    if k1 == _STRING:
        return bool(_b(a) < _b(b))
    return bool(a < b)


def _le(a: Any, b: Any) -> bool:
    return _lt(a, b) or _eq(a, b)


def _gt(a: Any, b: Any) -> bool:
    return not _le(a, b)


def _ge(a: Any, b: Any) -> bool:
    return not _lt(a, b)


def _eval_args(args: tuple[Any, ...]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return gofmt.sprint(*("<no value>" if _nil(a) else a for a in args))


def html_escape(*args: Any) -> str:
    text = _eval_args(args)
    for ch, rep in (("&", "&amp;"), ("\0", "\ufffd"), ('"', "&#34;"), ("'", "&#39;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(ch, rep)
    return text


_JS = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "=": "\\u003D"}


def js_escape(*args: Any) -> str:
    out = []
    for ch in _eval_args(args):
        code = ord(ch)
        if ch in _JS:
            out.append(_JS[ch])
        elif code < 0x20:
            out.append(f"\\u00{code:02X}")
        elif code < 0x80 or 0xDC80 <= code <= 0xDCFF or is_graphic(ch):
            out.append(ch)
        else:
            out.append(f"\\u{code:04X}")
    return "".join(out)


def urlquery_escape(*args: Any) -> str:
    from urllib.parse import quote_plus

    return quote_plus(_b(_eval_args(args)), safe="-_.~")


def _call(fn: Any, *args: Any) -> Any:
    if _nil(fn):
        raise CallError("call of nil")
    if not callable(fn) or isinstance(fn, Struct):
        raise CallError(f"non-function of type {type_name(fn)}")
    try:
        return fn(*args)
    except CallError:
        raise
    except Exception as exc:  # a function's error, as Go's call reports it
        raise CallError(str(exc)) from None


def _not(v: Any) -> bool:
    from dockyard.compat.gotemplate._exec import is_true

    return not is_true(v)


BUILTINS: dict[str, Func] = {
    "and": Func(lambda *a: a[-1], ("value",), "value", True),
    "or": Func(lambda *a: a[-1], ("value",), "value", True),
    "call": Func(_call, ("value",), "value", True),
    "html": Func(html_escape, (), "any", True),
    "index": Func(_index, ("value",), "value", True),
    "slice": Func(_slice, ("value",), "value", True),
    "js": Func(js_escape, (), "any", True),
    "len": Func(_len, ("value",), None, True),
    "not": Func(_not, ("value",), None, True),
    "print": Func(gofmt.sprint, (), "any", True),
    "printf": Func(gofmt.sprintf, ("string",), "any", True),
    "println": Func(gofmt.sprintln, (), "any", True),
    "urlquery": Func(urlquery_escape, (), "any", True),
    "eq": Func(_eq, ("value",), "value", True),
    "ge": Func(_ge, ("value", "value"), None, True),
    "gt": Func(_gt, ("value", "value"), None, True),
    "le": Func(_le, ("value", "value"), None, True),
    "lt": Func(_lt, ("value", "value"), None, True),
    "ne": Func(_ne, ("value", "value"), None, True),
}


# --- docker/cli templates/templates.go ---------------------------------------------------------------------


def _split(s: str, sep: str) -> tuple[str, ...]:
    if sep == "":
        return tuple(s)
    return tuple(s.split(sep))


def _join(items: tuple[str, ...] | None, sep: str) -> str:
    return sep.join(items or ())


def _is_separator(ch: str) -> bool:
    if ch <= "\x7f":
        return not (ch.isalnum() or ch == "_")
    if ch.isalpha() or ch.isdigit():
        return False
    return ch.isspace()


def _title(s: str) -> str:
    out = []
    prev = " "
    for ch in s:
        mapped = ch.title() if _is_separator(prev) else ch
        out.append(mapped if len(mapped) == 1 else ch)
        prev = ch
    return "".join(out)


def _case(s: str, upper: bool) -> str:
    out = []
    for ch in s:
        mapped = ch.upper() if upper else ch.lower()
        out.append(mapped if len(mapped) == 1 else ch)
    return "".join(out)


def _pad(source: str, prefix: int, suffix: int) -> str:
    if source == "":
        return source
    return " " * max(prefix, 0) + source + " " * max(suffix, 0)


def _truncate(source: str, length: int) -> str:
    data = _b(source)
    if len(data) < length:
        return source
    if length < 0:
        raise CallError(f"runtime error: slice bounds out of range [:{length}]")
    return data[:length].decode("utf-8", "surrogateescape")


DOCKER: dict[str, Func] = {
    "json": Func(gojson.docker_json, ("any",)),
    "split": Func(_split, ("string", "string")),
    "join": Func(_join, ("[]string", "string")),
    "title": Func(_title, ("string",)),
    "lower": Func(lambda s: _case(s, False), ("string",)),
    "upper": Func(lambda s: _case(s, True), ("string",)),
    "pad": Func(_pad, ("string", "int", "int")),
    "truncate": Func(_truncate, ("string", "int")),
}

#: docker/cli's ``HeaderFunctions``: a table header keeps its column names (``pad`` is not replaced).
HEADER: dict[str, Func] = {
    "json": Func(lambda v: v, ("string",)),
    "split": Func(lambda v, _: v, ("string", "string")),
    "join": Func(lambda v, _: v, ("string", "string")),
    "title": Func(lambda v: v, ("string",)),
    "lower": Func(lambda v: v, ("string",)),
    "upper": Func(lambda v: v, ("string",)),
    "truncate": Func(lambda v, _: v, ("string", "int")),
}
