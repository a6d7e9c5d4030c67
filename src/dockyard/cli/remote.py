"""Remote inspection commands of the CLI (manifest, imagetools, digest, tags, catalog, delete, login, logout)."""

from __future__ import annotations

from typing import Any


def add_parsers(sub: Any) -> None:
    """Add the remote-inspection commands to the top-level subparsers."""
