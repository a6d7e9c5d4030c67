"""RFC 3339 timestamps as images carry them (nanoseconds, ``Z``)."""

from __future__ import annotations

from datetime import datetime


def parse_time(text: str | None) -> datetime | None:
    """Parse RFC 3339 timestamps as images carry them (nanoseconds, ``Z``); None when unparsable."""
    if not text:
        return None
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    # Trim fractional seconds beyond microseconds, which fromisoformat refuses.
    if "." in value:
        head, _, rest = value.partition(".")
        digits = ""
        for ch in rest:
            if ch.isdigit():
                digits += ch
            else:
                break
        value = head + "." + (digits[:6].ljust(6, "0")) + rest[len(digits) :]
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed
