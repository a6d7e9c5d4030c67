"""Go's ``text/tabwriter`` (padchar ``' '``, no flags): the column layout of Docker's tables and buildx's text.

A column block is a run of consecutive lines that all have a tab-terminated cell in that column; each cell of
it is padded to the widest one plus ``padding``, at least ``minwidth`` (empty cells too, so a ``"\\t\\n"``
line becomes spaces). The last cell of a line is not part of any column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dockyard.compat.runewidth import string_width


def tabwrite(text: str, *, minwidth: int = 0, padding: int = 1, width: Callable[[str], int] = len) -> str:
    """``tabwriter.NewWriter(out, minwidth, tabwidth, padding, ' ', 0)`` over ``text``, flushed. Go's
    ``text/tabwriter`` counts runes (``width=len``); docker/cli's fork measures display columns."""
    cells = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []
    widths: list[int] = []

    def write_lines(start: int, stop: int) -> None:
        for i in range(start, stop):
            for j, cell in enumerate(cells[i]):
                out.append(cell)
                if j < len(widths):
                    out.append(" " * (widths[j] - width(cell)))
            if i + 1 < len(cells):
                out.append("\n")

    def format_block(start: int, stop: int) -> None:
        column = len(widths)
        this = start
        while this < stop:
            if column >= len(cells[this]) - 1:
                this += 1
                continue
            write_lines(start, this)
            start = this
            column_width = minwidth
            while this < stop and column < len(cells[this]) - 1:
                column_width = max(column_width, width(cells[this][column]) + padding)
                this += 1
            widths.append(column_width)
            format_block(start, this)
            widths.pop()
            start = this
        write_lines(start, stop)

    format_block(0, len(cells))
    return "".join(out)


def docker_tabwrite(text: str) -> str:
    """docker/cli's table writer: its tabwriter fork (display columns) as ``NewWriter(out, 10, 1, 3, ' ', 0)``."""
    return tabwrite(text, minwidth=10, padding=3, width=string_width)


def table(rows: Sequence[Sequence[str]]) -> str:
    """Docker's default table layout over rows of cells."""
    if not rows:
        return ""
    return docker_tabwrite("".join("\t".join(row) + "\n" for row in rows))
