"""Fixtures of the vulnerability-database tests (helpers are in ``vulndata.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.scan.vuln.db import VulnDB


@pytest.fixture
def vdb(tmp_path: Path) -> Iterator[VulnDB]:
    with VulnDB(tmp_path / "vuln.db") as db:
        yield db
