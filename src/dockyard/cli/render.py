"""Docker's output conventions for the CLI: tab-aligned tables, human sizes and durations, RFC 3339 times."""

from __future__ import annotations

from dockyard.compat.gotime import rfc3339
from dockyard.compat.tabwriter import table
from dockyard.units import ellipsis, history_since, human_duration, human_size, since

__all__ = [
    "ellipsis",
    "history_since",
    "human_duration",
    "human_size",
    "rfc3339",
    "since",
    "table",
]
