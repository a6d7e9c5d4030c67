"""The one error of the template engine."""

from __future__ import annotations

from dockyard.errors import InvalidInput


class TemplateError(InvalidInput):
    """A template that does not parse or does not execute; the message is Go's, ``template: ...``.
    ``partial`` is the output written before an execution error (Go's writer keeps it)."""

    partial: str = ""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
