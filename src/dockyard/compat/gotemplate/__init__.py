"""Go's ``text/template`` (Go 1.19), complete: actions, variables, pipelines, comments, trim markers, every
builtin function, Go's truthiness and Go's parse and execution errors, word for word.

``Template.parse(text, funcs=...)`` then ``execute(data)`` returns the output or raises
:class:`TemplateError` (nothing is written on error: the output is built in memory). Data is Go-shaped
(see :mod:`dockyard.compat.gotypes`): decode JSON with :func:`~dockyard.compat.gotypes.decode_json` so that
integers stay integers. ``DOCKER_FUNCS`` are docker/cli's ``--format`` functions (``json``, ``split``,
``join``, ``title``, ``lower``, ``upper``, ``pad``, ``truncate``); :mod:`dockyard.compat.dockerformat` adds
Docker's ``table`` prefix and ``json`` format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.compat.gotemplate._errors import TemplateError
from dockyard.compat.gotemplate._exec import CallError, Func, execute, is_true
from dockyard.compat.gotemplate._funcs import BUILTINS, DOCKER, HEADER
from dockyard.compat.gotemplate._parser import Tree, parse
from dockyard.compat.gotypes import NOVALUE

__all__ = [
    "DOCKER_FUNCS",
    "HEADER_FUNCS",
    "CallError",
    "Func",
    "Template",
    "TemplateError",
    "is_true",
]

DOCKER_FUNCS: Mapping[str, Func] = DOCKER
HEADER_FUNCS: Mapping[str, Func] = HEADER


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: its trees by name, and the functions it was parsed with."""

    name: str
    trees: Mapping[str, Tree]
    funcs: Mapping[str, Func]

    @classmethod
    def parse(cls, text: str, *, name: str = "", funcs: Mapping[str, Func] | None = None) -> Template:
        """Parse as ``template.New(name).Funcs(funcs).Parse(text)``; raises :class:`TemplateError`."""
        table = {**BUILTINS, **(funcs or {})}
        return cls(name, parse(name, text, table), table)

    def execute(self, data: Any, *, funcs: Mapping[str, Func] | None = None, missing_key_error: bool = False) -> str:
        """The output of the template on ``data``; ``funcs`` replaces functions by name (as Go's ``Funcs``
        after parsing, used for Docker's table headers); ``missing_key_error`` is ``Option("missingkey=error")``."""
        table = {**self.funcs, **(funcs or {})} if funcs else self.funcs
        value = NOVALUE if data is None else data
        return execute(self.trees, self.name, value, table, missing_error=missing_key_error)
