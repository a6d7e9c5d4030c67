"""Docker's human units: go-units sizes and durations, Go time formats, display-width ellipsis."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def human_size(size: float, precision: int = 3) -> str:
    """go-units ``HumanSizeWithPrecision``: decimal units, ``%.{precision}g``."""
    i = 0
    while size >= 1000.0 and i < len(_DECIMAL) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.{precision}g}{_DECIMAL[i]}"


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


_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_escape(text: str) -> str:
    """Escape what Go's JSON encoder escapes that Python's ``ensure_ascii=False`` does not (``<``, ``>``, ``&``,
    U+2028, U+2029); these characters only ever occur inside JSON strings, so a plain replace is safe."""
    for char, escaped in _GO_ESCAPES.items():
        text = text.replace(char, escaped)
    return text


def go_json(doc: object) -> str:
    """JSON as Go's ``json.Marshal`` writes a map: sorted keys, compact, UTF-8, ``<>&`` and U+2028/9 escaped."""
    import json

    return go_escape(json.dumps(doc, separators=(",", ":"), ensure_ascii=False, sort_keys=True))


def go_time(when: datetime | None) -> str:
    """Go's ``time.Time.String()`` in UTC, as ``docker images --format json`` prints CreatedAt."""
    if when is None:
        return "0001-01-01 00:00:00 +0000 UTC"
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def rfc3339(when: datetime | None) -> str:
    if when is None:
        return "0001-01-01T00:00:00Z"
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
