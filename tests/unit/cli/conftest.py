"""Fixtures of the CLI tests: the sample images in a docker-archive, a store they are loaded into, and a
runner that gives stdout as bytes (``export`` and ``save`` write binary to stdout)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dockyard.image import sample
from dockyard.transport import docker_archive


@pytest.fixture
def samples_tar(tmp_path: Path) -> Path:
    """``dockyard/sample:1.0`` (two layers) and ``dockyard/app:latest`` (those two and one more)."""
    path = tmp_path / "samples.tar"
    docker_archive.write(
        [(sample.base_image(), ["dockyard/sample:1.0"]), (sample.app_image(), ["dockyard/app:latest"])], path
    )
    return path


@pytest.fixture
def samples(cli: Any, samples_tar: Path) -> Any:
    """The ``cli`` runner on a store holding the two sample images."""
    cli("load", "-q", "-i", samples_tar)
    return cli


@pytest.fixture
def run_bytes(dockyard_root: Path) -> Any:
    """``run_bytes(*args, stdin=...)``: ``python -m dockyard ARGS`` on the test's store, stdout and stderr as bytes."""

    def run(*args: str | os.PathLike[str], stdin: Any = subprocess.DEVNULL) -> subprocess.CompletedProcess[bytes]:
        argv = [sys.executable, "-m", "dockyard", "--root", os.fspath(dockyard_root), *map(os.fspath, args)]
        return subprocess.run(argv, stdin=stdin, capture_output=True, check=False, timeout=300)

    return run
