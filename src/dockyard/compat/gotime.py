"""Go's ``time`` layouts as Docker prints them: ``Time.String()``, RFC 3339, and a timestamp as
``time.Time`` marshals it after parsing (RFC 3339 with nanoseconds, trailing zeros dropped)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\d)[Tt](\d\d:\d\d:\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:\d\d)")


def time_string(when: datetime | None) -> str:
    """Go's ``time.Time.String()`` in UTC (``docker images --format json``'s CreatedAt); the zero time for None."""
    if when is None:
        return "0001-01-01 00:00:00 +0000 UTC"
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def rfc3339(when: datetime | None) -> str:
    """``time.RFC3339`` in UTC, whole seconds; the zero time for None."""
    if when is None:
        return "0001-01-01T00:00:00Z"
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_nano(value: str) -> str:
    """A timestamp as Go's ``time.Time`` marshals it after parsing it (RFC 3339 with the fraction's trailing
    zeros dropped, ``Z`` for a zero offset); text that is not such a timestamp is returned as it is."""
    match = _RFC3339.fullmatch(value)
    if match is None:
        return value
    day, clock, fraction, zone = match.groups()
    fraction = (fraction or "")[:9].rstrip("0")
    zone = "Z" if zone in ("Z", "z", "+00:00", "-00:00") else zone
    return f"{day}T{clock}{'.' + fraction if fraction else ''}{zone}"
