"""Docker's human units: go-units sizes and durations, display-width ellipsis (Go's own formats are in
:mod:`dockyard.compat`)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from dockyard.compat.runewidth import string_width as display_width

_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(size: float, precision: int = 3) -> str:
    """go-units ``HumanSizeWithPrecision``: decimal units, ``%.{precision}g``."""
    i = 0
    while size >= 1000.0 and i < len(_DECIMAL) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.{precision}g}{_DECIMAL[i]}"


def humanize_bytes(size: int) -> str:
    """go-humanize ``Bytes`` (Docker Scout's sizes): decimal units, one decimal below 10, a space before the unit."""
    if size < 10:
        return f"{size} B"
    e = min(math.floor(math.log(size, 1000)), len(_DECIMAL) - 1)
    val = math.floor(size / 1000**e * 10 + 0.5) / 10
    return f"{val:.1f} {_DECIMAL[e]}" if val < 10 else f"{val:.0f} {_DECIMAL[e]}"


def human_duration(seconds: float) -> str:
    """go-units ``HumanDuration``."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def since(when: datetime | None, now: datetime | None = None) -> str:
    if when is None:
        return "N/A"
    current = now or datetime.now(UTC)
    return human_duration((current - when).total_seconds()) + " ago"


#: ``docker history`` shows no human age for layers created before this (docker/cli's ``epoch``).
_HISTORY_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def history_since(when: datetime | None, now: datetime | None = None) -> str:
    """``docker history``'s CREATED: ``N/A`` for times at or before 2000-01-01 (reproducible builds use 0)."""
    if when is None or when <= _HISTORY_EPOCH:
        return "N/A"
    return since(when, now)


def ellipsis(text: str, max_width: int) -> str:
    """Docker's ``formatter.Ellipsis``: cut to ``max_width`` display columns ending in an ellipsis."""
    if display_width(text) <= max_width:
        return text
    out = ""
    width = 0
    for ch in text:
        w = display_width(ch)
        if width + w > max_width - 1:
            break
        out += ch
        width += w
    return out + "…"
