"""Docker's ``--format`` on top of the Go template engine, as docker/cli's ``formatter`` does it.

``json`` is ``{{json .}}``; a ``table`` prefix is cut, spaces trimmed, the two-character sequences ``\\t``
and ``\\n`` become a tab and a newline, and the rows plus a header row (the template run on the column titles
with ``HeaderFunctions``) go through the tabwriter (``10, 1, 3, ' '``). Every row is rendered before anything
is returned, so an error leaves no partial output. A parse error reads ``template parsing error: template:
...`` as Docker's does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dockyard.compat.tabwriter import docker_tabwrite, table

if TYPE_CHECKING:  # the engine is imported when a template is given: the default table does not need it
    from dockyard.compat.gotemplate import Func

__all__ = ["Format", "inspect_format", "inspect_json", "render_rows"]

TABLE_KEY = "table"
JSON_FORMAT = "{{json .}}"

#: The ``[]string`` and map fields of Docker's ``types.ImageInspect``: null there is the typed nil.
_NIL_SLICES = frozenset({"RepoTags", "RepoDigests", "Env", "Cmd", "Entrypoint", "OnBuild", "Shell", "Layers"})
_NIL_MAPS = frozenset({"Labels", "Volumes", "ExposedPorts"})


class Format:
    """A ``--format`` value of a listing command (``images``, ``history``, ...), parsed."""

    def __init__(self, text: str, *, funcs: Mapping[str, Func] | None = None) -> None:
        from dockyard.compat.gotemplate import DOCKER_FUNCS, Template, TemplateError

        if text == "json":
            text = JSON_FORMAT
        self.is_table = text.startswith(TABLE_KEY)
        body = text[len(TABLE_KEY) :] if self.is_table else text
        body = body.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
        try:
            self.template = Template.parse(body, funcs={**DOCKER_FUNCS, **(funcs or {})})
        except TemplateError as exc:
            raise TemplateError(f"template parsing error: {exc}") from None

    def render(self, data: Any) -> str:
        """One element, as the template writes it."""
        return self.template.execute(data)

    def render_all(self, items: Sequence[Any], header: Mapping[str, str] | None = None) -> str:
        """Every element, one a line; with ``table``, a header row and the columns aligned. An execution
        error reads ``template parsing error: ...`` too (docker/cli wraps both alike)."""
        from dockyard.compat.gotemplate import HEADER_FUNCS, TemplateError

        try:
            body = "".join(self.render(item) + "\n" for item in items)
        except TemplateError as exc:
            raise TemplateError(f"template parsing error: {exc}") from None
        if not self.is_table:
            return body
        try:
            head = self.template.execute(dict(header or {}), funcs=HEADER_FUNCS)
        except TemplateError as exc:  # docker/cli ignores the header's error and keeps what was written
            head = exc.partial
        return docker_tabwrite(head + "\n" + body)


def render_rows(
    fmt: str | None,
    rows: Sequence[Mapping[str, str]],
    headers: Mapping[str, str],
    columns: Sequence[str],
    type_name: str,
) -> str:
    """A listing as Docker prints it: the default table of ``columns``, ``--format json`` or a template. Each
    row is a Docker formatting context (a struct named ``type_name``: an unknown field is an error)."""
    if not fmt:
        return table([[headers[c] for c in columns]] + [[row[c] for c in columns] for row in rows])
    from dockyard.compat.gotypes import Struct

    return Format(fmt).render_all([Struct(type_name, row) for row in rows], headers)


def _inspect_json(value: Any) -> str:
    from dockyard.compat import gojson

    return gojson.marshal(value, escape_html=False, sort_keys=False)


def inspect_json(docs: Sequence[Mapping[str, Any]]) -> str:
    """``docker inspect`` without ``--format``: the documents as the daemon's JSON (``<``, ``>``, ``&``
    escaped), indented with four spaces (``json.Indent``) in one array."""
    from dockyard.compat import gojson

    return gojson.marshal_ordered(list(docs), "    ") + "\n"


def inspect_format(fmt: str, docs: Sequence[Mapping[str, Any]]) -> str:
    """``docker inspect --format``: the template as given (no ``table``, no ``\\t`` replacement), one line
    per object; ``json`` alone is one compact array. Docker runs a template on its typed struct and, when
    that fails, on the raw JSON with ``missingkey=error``; here the document is read as the typed struct
    would show it where the two differ (lists of strings are ``[]string``, null list and map fields are
    typed nils) with ``missingkey=error``, and ``json`` keeps the document's order (Docker's struct order)."""
    from dockyard.compat.gotemplate import DOCKER_FUNCS, Func, Template, TemplateError
    from dockyard.compat.gotypes import string_lists

    if fmt == "json":  # docker/cli's JSON inspector: the daemon's documents compacted into one array
        from dockyard.compat import gojson

        return gojson.marshal_ordered(list(docs)) + "\n"
    try:
        template = Template.parse(fmt, funcs={**DOCKER_FUNCS, "json": Func(_inspect_json, ("any",))})
    except TemplateError as exc:
        raise TemplateError(f"template parsing error: {exc}") from None
    out = []
    for doc in docs:
        typed = string_lists(dict(doc), _NIL_SLICES, _NIL_MAPS)
        try:
            out.append(template.execute(typed, missing_key_error=True) + "\n")
        except TemplateError as exc:
            raise TemplateError(f"template parsing error: {exc}") from None
    return "".join(out)
