"""Docker's output conventions for the CLI: tab-aligned tables, human sizes and durations, Go time."""

from __future__ import annotations

from dockyard.compat.gojson import marshal
from dockyard.compat.gotime import rfc3339
from dockyard.compat.gotime import time_string as go_time
from dockyard.compat.tabwriter import table
from dockyard.units import ellipsis, history_since, human_duration, human_size, since

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


def go_json(doc: object) -> str:
    """JSON as Go's ``json.Marshal`` writes a map: sorted keys, compact, ``<>&`` and U+2028/9 escaped."""
    return marshal(doc)
