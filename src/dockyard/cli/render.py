"""Docker's output conventions: tab-aligned tables, human sizes and durations."""

from __future__ import annotations

from collections.abc import Sequence

from dockyard.units import display_width as _width
from dockyard.units import ellipsis, go_json, go_time, history_since, human_duration, human_size, rfc3339, since

__all__ = [
    "ellipsis",
    "go_json",
    "go_time",
    "history_since",
    "human_duration",
    "human_size",
    "rfc3339",
    "since",
    "table",
]


def table(rows: Sequence[Sequence[str]], *, minwidth: int = 10, padding: int = 3) -> str:
    """Go's ``tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`` as Docker's formatter uses it."""
    if not rows:
        return ""
    ncols = max(len(r) for r in rows)
    widths = [0] * ncols
    for r in rows:
        for i, cell in enumerate(r[:-1]):
            widths[i] = max(widths[i], _width(cell) + padding, minwidth)
    lines = []
    for r in rows:
        parts = []
        for i, cell in enumerate(r):
            if i < len(r) - 1:
                parts.append(cell + " " * (widths[i] - _width(cell)))
            else:
                parts.append(cell)
        lines.append("".join(parts))
    return "\n".join(lines) + "\n"
