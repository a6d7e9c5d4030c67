"""go-runewidth's ``StringWidth`` as Docker uses it: East Asian wide and fullwidth characters take two
columns, everything else one (Docker's tables and ``formatter.Ellipsis`` measure with it)."""

from __future__ import annotations

import unicodedata


def string_width(text: str) -> int:
    """The columns ``text`` takes on a terminal."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
