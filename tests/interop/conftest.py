"""Fixtures the interop modules share.

* ``prepared``  a store holding ``debian:bookworm`` and its unpacked snapshot (``build_util.prepare_store``), made
                once per pytest-xdist worker; tests build in clones of it (``build_util.clone_store``), never in it.
* ``registry``  a CNCF Distribution registry on 127.0.0.1 for one module (``registry/`` has its own, per session).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from build_util import prepare_store
from fixtures_util import require_tool
from registry_util import Registry, start_registry


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare_store(tmp_path_factory.mktemp("prepared") / "root")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_registry(tmp_path_factory.mktemp("registry"), binary=require_tool("docker-registry"))
    yield reg
    reg.stop()
