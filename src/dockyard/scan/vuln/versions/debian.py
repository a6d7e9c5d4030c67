"""dpkg's version order (``[epoch:]upstream[-revision]``, ``~`` before everything), by python-debian."""

from __future__ import annotations

from debian.debian_support import Version

from dockyard.scan.vuln.versions._errors import InvalidVersion


def parse(text: str) -> Version:
    try:
        return Version(text)
    except ValueError as exc:
        raise InvalidVersion(f"invalid Debian version {text!r}: {exc}") from None


__all__ = ["parse"]
