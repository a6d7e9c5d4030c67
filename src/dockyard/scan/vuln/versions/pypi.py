"""PEP 440 order (``2.0 == 2.0.0``, ``5.2b1 < 5.2``), by packaging."""

from __future__ import annotations

from packaging.version import InvalidVersion as _PackagingInvalid
from packaging.version import Version

from dockyard.scan.vuln.versions._errors import InvalidVersion


def parse(text: str) -> Version:
    try:
        return Version(text)
    except _PackagingInvalid:
        raise InvalidVersion(f"invalid PEP 440 version {text!r}") from None


__all__ = ["parse"]
