"""Version orders, one module per ecosystem, behind one registry dict.

Each order is a ``parse(text) -> key`` function: the keys of one ecosystem compare with ``<`` and ``==`` as that
ecosystem's package manager sorts versions. A version that does not parse raises :class:`InvalidVersion`.

    Debian, Ubuntu   dpkg order (python-debian)            :mod:`.debian`
    Alpine           apk-tools' apk_version_compare        :mod:`.alpine`
    PyPI             PEP 440 (packaging)                   :mod:`.pypi`
    npm, Go          Semantic Versioning 2.0.0             :mod:`.semver`
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dockyard.scan.vuln.versions import alpine, debian, pypi, semver
from dockyard.scan.vuln.versions._errors import InvalidVersion

Parse = Callable[[str], Any]

#: ecosystem base name (the part of an OSV ecosystem before the first ``:``) -> its order
ORDERS: dict[str, Parse] = {
    "Debian": debian.parse,
    "Ubuntu": debian.parse,
    "Alpine": alpine.parse,
    "PyPI": pypi.parse,
    "npm": semver.parse,
    "Go": semver.parse,
}

#: the order of an OSV ``SEMVER`` range, whatever the ecosystem
SEMVER: Parse = semver.parse


def order_for(ecosystem: str) -> Parse | None:
    """The version order of an OSV ecosystem (``Debian:12`` -> dpkg's), or None when dockyard has none."""
    return ORDERS.get(ecosystem.split(":", 1)[0])


__all__ = ["ORDERS", "SEMVER", "InvalidVersion", "Parse", "order_for"]
