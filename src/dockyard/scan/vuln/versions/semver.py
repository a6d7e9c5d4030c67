"""Semantic Versioning 2.0.0 order, for npm and Go (and OSV ``SEMVER`` ranges).

``MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]``; a leading ``v`` (Go modules), ``go`` (the Go toolchain's
``go1.21.0``, as SBOMs report ``stdlib``) or ``=`` (npm) is accepted. Build metadata does
not take part in the order (``+incompatible`` in Go). A pre-release is lower than its release; its dot-separated
identifiers compare numerically when numeric, in ASCII order otherwise, numeric lower than alphanumeric, and a
shorter list lower when all its identifiers are equal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.scan.vuln.versions._errors import InvalidVersion

_SEMVER = re.compile(
    r"^(?:v|=|go)?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)

_Ident = tuple[int, int, str]


@dataclass(frozen=True, slots=True, order=True)
class SemVer:
    major: int
    minor: int
    patch: int
    # (1,) for a release; (0, identifiers...) for a pre-release, so that a release sorts after its pre-releases
    pre: tuple[int, tuple[_Ident, ...]]


def _ident(part: str) -> _Ident:
    return (0, int(part), "") if part.isdigit() else (1, 0, part)


def parse(text: str) -> SemVer:
    m = _SEMVER.match(text.strip())
    if m is None:
        raise InvalidVersion(f"invalid semantic version {text!r}")
    major, minor, patch, pre = m.group(1), m.group(2), m.group(3), m.group(4)
    key = (1, ()) if pre is None else (0, tuple(_ident(p) for p in pre.split(".")))
    return SemVer(int(major), int(minor), int(patch), key)


__all__ = ["SemVer", "parse"]
