"""Shared fixtures.

Session-scoped, cached between runs (see ``tests/fixtures_util.py``; built with
real third-party tools, never with dockyard):

* ``debian_rootfs``               Path: Debian bookworm minbase root filesystem (debootstrap)
* ``debian_oci_layout``           Path: OCI image layout, tag ``bookworm``, one gzip layer (umoci)
* ``debian_two_layer_oci_layout`` Path: OCI image layout, tag ``bookworm``, base layer + a layer
                                  with additions, a modification and whiteouts (umoci)
* ``debian_docker_archive``       Path: docker-archive tar of the one-layer image,
                                  ``debian:bookworm`` (skopeo)

Building them needs root and debootstrap/umoci/skopeo (``make deps``); without them
the tests that use them are skipped, except under ``CI`` where that is a failure.

``pytest --update-golden`` rewrites the golden files of CLI output under ``tests/golden/`` (``golden_util``).

Per test:

* ``dockyard_root``  Path: a fresh, empty directory for a dockyard store
* ``cli``            ``cli(*args, input=None, check=True) -> CompletedProcess[str]``: runs
                     ``python -m dockyard *args`` with ``DOCKYARD_ROOT=dockyard_root``
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

sys.path.insert(0, os.fspath(Path(__file__).resolve().parent))

from fixtures_util import (
    ensure_debian_docker_archive,
    ensure_debian_oci_layout,
    ensure_debian_rootfs,
    ensure_debian_two_layer_oci_layout,
    require_tool,
)

__all__ = ["CLI", "require_tool"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="write the golden files under tests/golden/ from the current output instead of comparing with them",
    )


@pytest.fixture(scope="session")
def debian_rootfs() -> Path:
    """Debian bookworm ``debootstrap --variant=minbase`` root filesystem (a directory)."""
    return ensure_debian_rootfs()


@pytest.fixture(scope="session")
def debian_oci_layout() -> Path:
    """OCI image layout directory holding the Debian rootfs as tag ``bookworm``, one gzip layer."""
    return ensure_debian_oci_layout()


@pytest.fixture(scope="session")
def debian_two_layer_oci_layout() -> Path:
    """OCI image layout, tag ``bookworm``: the Debian layer plus a second layer with whiteouts
    (what it changes: ``fixtures_util.LAYER2_*``)."""
    return ensure_debian_two_layer_oci_layout()


@pytest.fixture(scope="session")
def debian_docker_archive() -> Path:
    """docker-archive tarball of the one-layer Debian image, made by ``skopeo copy``."""
    return ensure_debian_docker_archive()


@pytest.fixture
def dockyard_root(tmp_path: Path) -> Path:
    """A fresh, empty directory to hold a dockyard store."""
    root = tmp_path / "dockyard-root"
    root.mkdir()
    return root


class CLI:
    """Runs the dockyard command line in a subprocess against one store."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        # Wide, colourless output so tables and digests don't wrap in captured output.
        env.setdefault("COLUMNS", "200")
        env["NO_COLOR"] = "1"
        env["DOCKYARD_ROOT"] = os.fspath(self.root)
        if extra:
            env.update(extra)
        return env

    def __call__(
        self,
        *args: str | os.PathLike[str],
        input: str | None = None,
        check: bool = True,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "dockyard", *(os.fspath(a) for a in args)]
        proc = subprocess.run(
            argv,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=self.env(env),
            cwd=cwd,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            shown = " ".join(os.fspath(a) for a in args)
            pytest.fail(
                f"`dockyard {shown}` exited with status {proc.returncode}\n"
                f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}",
                pytrace=False,
            )
        return proc


@pytest.fixture
def cli(dockyard_root: Path) -> CLI:
    """``cli(*args, input=None, check=True)``: run ``python -m dockyard`` on ``dockyard_root``."""
    return CLI(dockyard_root)
