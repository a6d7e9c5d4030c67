"""The catalogers, one module per ecosystem, in one explicit registry list (nothing registers itself)."""

from __future__ import annotations

from typing import Final

from dockyard.layers.walk import Analyzer
from dockyard.scan.sbom.catalogers.apk import Apk
from dockyard.scan.sbom.catalogers.dpkg import Dpkg
from dockyard.scan.sbom.catalogers.golang import GoBinaries
from dockyard.scan.sbom.catalogers.npm import Npm
from dockyard.scan.sbom.catalogers.python import Python

#: Every cataloger, in the order their packages are listed.
CATALOGERS: Final[tuple[Analyzer, ...]] = (
    Dpkg(),
    Apk(),
    Python(),
    Npm(),
    GoBinaries(),
)

__all__ = ["CATALOGERS"]
