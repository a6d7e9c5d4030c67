"""Docker's output conventions: tab-aligned tables, human sizes and durations."""

from __future__ import annotations

from collections.abc import Sequence

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
    """Go's ``tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`` as Docker's formatter uses it. A cell's width is its
    number of code points, as Go's tabwriter counts them (a CJK character is one, though terminals draw it two
    columns wide: Docker's tables then look ragged, and so do ours, byte for byte)."""
    if not rows:
        return ""
    ncols = max(len(r) for r in rows)
    widths = [0] * ncols
    for r in rows:
        for i, cell in enumerate(r[:-1]):
            widths[i] = max(widths[i], len(cell) + padding, minwidth)
    lines = []
    for r in rows:
        parts = []
        for i, cell in enumerate(r):
            if i < len(r) - 1:
                parts.append(cell + " " * (widths[i] - len(cell)))
            else:
                parts.append(cell)
        lines.append("".join(parts))
    return "\n".join(lines) + "\n"
