from __future__ import annotations

from dockyard.errors import InvalidInput


class InvalidVersion(InvalidInput):
    """A version string that the ecosystem's version order cannot parse."""
