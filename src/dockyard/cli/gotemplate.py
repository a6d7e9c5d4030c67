"""A small subset of Go's text/template, enough for Docker's ``--format`` strings.

Supported: text, ``{{.}}``, ``{{.A.B}}``, functions ``json``, ``join``, ``upper``, ``lower``, ``title``, ``len``,
``index``, ``println``, ``printf`` (with %s %d %v), pipelines ``{{.X | json}}``, ``{{range PIPE}}..{{end}}``,
``{{if PIPE}}..{{else}}..{{end}}``, and ``{{- `` / `` -}}`` trimming.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dockyard.errors import InvalidInput

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)


class TemplateError(InvalidInput):
    """A --format template that does not parse or does not fit the data."""


@dataclass
class _Node:
    kind: str  # text | expr | range | if
    value: str = ""
    body: list[_Node] | None = None
    orelse: list[_Node] | None = None


def _tokens(src: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _ACTION.finditer(src):
        text = src[pos : m.start()]
        if m.group(1):
            text = text.rstrip()
        if out and out[-1][0] == "trim":
            out.pop()
            text = text.lstrip()
        if text:
            out.append(("text", text))
        out.append(("action", m.group(2).strip()))
        if m.group(3):
            out.append(("trim", ""))
        pos = m.end()
    tail = src[pos:]
    if out and out[-1][0] == "trim":
        out.pop()
        tail = tail.lstrip()
    if tail:
        out.append(("text", tail))
    return out


def _parse(tokens: list[tuple[str, str]], i: int, stop: tuple[str, ...]) -> tuple[list[_Node], int, str]:
    nodes: list[_Node] = []
    while i < len(tokens):
        kind, value = tokens[i]
        i += 1
        if kind == "text":
            nodes.append(_Node("text", value))
            continue
        word = value.split(None, 1)[0] if value else ""
        if word in stop:
            return nodes, i, word
        if word in ("range", "if"):
            body, i, ended = _parse(tokens, i, ("end", "else"))
            orelse: list[_Node] = []
            if ended == "else":
                orelse, i, ended = _parse(tokens, i, ("end",))
            if ended != "end":
                raise TemplateError(f"template: unterminated {{{{{word}}}}}")
            nodes.append(_Node(word, value[len(word) :].strip(), body, orelse))
            continue
        if word in ("end", "else"):
            raise TemplateError(f"template: unexpected {{{{{word}}}}}")
        nodes.append(_Node("expr", value))
    if stop:
        raise TemplateError("template: missing {{end}}")
    return nodes, i, ""


def _field(obj: Any, path: str) -> Any:
    value = obj
    for part in [p for p in path.split(".") if p]:
        if isinstance(value, dict):
            if part not in value:
                raise TemplateError(f"template: can't evaluate field {part}")
            value = value[part]
        else:
            raise TemplateError(f"template: can't evaluate field {part} in type {type(value).__name__}")
    return value


def _go_str(value: Any) -> str:
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_go_str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_str(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def _printf(fmt: str, *args: Any) -> str:
    values = iter(args)
    return re.sub(r"%[sdvq%]", lambda m: "%" if m.group() == "%%" else _go_str(next(values, "")), fmt)


_FUNCS: dict[str, Callable[..., Any]] = {
    "json": lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False),
    "join": lambda v, sep: sep.join(_go_str(x) for x in (v or [])),
    "upper": lambda v: _go_str(v).upper(),
    "lower": lambda v: _go_str(v).lower(),
    "title": lambda v: _go_str(v).title(),
    "len": lambda v: len(v or []),
    "index": lambda v, *keys: _index(v, keys),
    "println": lambda *v: " ".join(_go_str(x) for x in v) + "\n",
    "print": lambda *v: "".join(_go_str(x) for x in v),
    "printf": _printf,
    "truncate": lambda v, n: _go_str(v)[: int(n)],
}


def _index(value: Any, keys: tuple[Any, ...]) -> Any:
    for k in keys:
        if isinstance(value, dict):
            value = value.get(k)
        elif isinstance(value, list):
            value = value[int(k)]
        else:
            return None
    return value


def _arg(token: str, dot: Any) -> Any:
    if token.startswith("."):
        return _field(dot, token)
    if token.startswith('"') or token.startswith("'"):
        return token[1:-1]
    if re.fullmatch(r"-?\d+", token):
        return int(token)
    if token in _FUNCS:
        return _FUNCS[token]()
    raise TemplateError(f"template: function {token!r} not defined")


def _eval(expr: str, dot: Any) -> Any:
    value: Any = None
    first = True
    for stage in expr.split("|"):
        try:
            words = shlex.split(stage.strip(), posix=False)
        except ValueError as exc:
            raise TemplateError(f"template: {exc}") from None
        if not words:
            raise TemplateError("template: empty pipeline stage")
        head, rest = words[0], [_arg(w, dot) for w in words[1:]]
        if not first:
            rest.append(value)
        if head in _FUNCS:
            value = _FUNCS[head](*rest)
        elif len(words) == 1:
            value = _arg(head, dot)
        else:
            raise TemplateError(f"template: function {head!r} not defined")
        first = False
    return value


def _truthy(value: Any) -> bool:
    return bool(value)


def _run(nodes: list[_Node], dot: Any, out: list[str]) -> None:
    for node in nodes:
        if node.kind == "text":
            out.append(node.value)
        elif node.kind == "expr":
            value = _eval(node.value, dot)
            out.append(value if isinstance(value, str) else _go_str(value))
        elif node.kind == "range":
            items = _eval(node.value, dot)
            if isinstance(items, dict):
                items = [items[k] for k in sorted(items)]
            if items:
                for item in items:
                    _run(node.body or [], item, out)
            else:
                _run(node.orelse or [], dot, out)
        elif node.kind == "if":
            _run((node.body or []) if _truthy(_eval(node.value, dot)) else (node.orelse or []), dot, out)


class Template:
    def __init__(self, source: str) -> None:
        text = source.replace("\\t", "\t").replace("\\n", "\n")
        self.is_table = text.startswith("table")
        if self.is_table:
            text = text[len("table") :].lstrip()
        self.source = text
        self.nodes, _, _ = _parse(_tokens(text), 0, ())

    def render(self, data: Any) -> str:
        out: list[str] = []
        _run(self.nodes, data, out)
        return "".join(out)

    def header(self, names: dict[str, str]) -> str:
        """The header row of a ``table`` template: each ``{{.Field}}`` replaced by its column title."""
        return _ACTION.sub(
            lambda m: names.get(m.group(2).strip().lstrip("."), m.group(2).strip().lstrip(".").upper()), self.source
        )
