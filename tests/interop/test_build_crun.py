"""Builds with crun as the OCI runtime (``--runtime crun``, ``$DOCKYARD_RUNTIME``): the same image as with runc,
byte for byte; an unknown runtime is refused in one line. On this hybrid cgroup host crun only runs in a mount
namespace without the cgroup2 mount, which dockyard makes for it."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

import pytest
from build_util import clone_store, dockyard
from fixtures_util import require_tool

pytestmark = [
    pytest.mark.interop,
    # before the shared prepared store is made (it runs a build): CI runs as root, so this never hides a failure
    pytest.mark.skipif(os.geteuid() != 0, reason="RUN steps need root (an OCI runtime, overlayfs)"),
]

DOCKERFILE = """\
FROM debian:bookworm
ARG SOURCE_DATE_EPOCH
RUN useradd -u 1234 app && mkdir /data && chown app /data && rm -r /usr/share/doc/bash
USER app
WORKDIR /data
RUN --mount=type=cache,target=/tmp/cache,uid=1234 echo "$SOURCE_DATE_EPOCH $(id -u)" > stamp && ls -ld . > perms
RUN --mount=type=tmpfs,target=/scratch --network=none sh -c 'test -d /scratch && cat /etc/hostname > host'
"""


@pytest.fixture(autouse=True)
def _runtimes() -> None:
    require_tool("runc")
    require_tool("crun")


def _layers(root: Path, ref: str) -> tuple[str, list[str]]:
    info = json.loads(dockyard(root, "inspect", ref).stdout)[0]
    return info["Id"], info["RootFS"]["Layers"]


def test_crun_builds_the_image_runc_builds(prepared: Path, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    results = {}
    for runtime in ("runc", "crun"):
        root = clone_store(prepared, tmp_path / runtime)
        dockyard(root, "build", "-q", "--runtime", runtime, "-t", "same:1", ctx, env=env)
        results[runtime] = _layers(root, "same:1")
        out = tmp_path / f"{runtime}.tar"
        dockyard(root, "export", "same:1", "-o", out)
        with tarfile.open(out) as tar:
            files = {n: tar.extractfile(n).read().decode() for n in ("data/stamp", "data/host")}  # type: ignore[union-attr]
        assert files == {"data/stamp": "1700000000 1234\n", "data/host": "buildkitsandbox\n"}
    assert results["crun"] == results["runc"]  # same image ID, same layers
    assert len(results["crun"][1]) == 4  # the base, then the three RUNs (WORKDIR found /data: no layer)


def test_an_unknown_runtime_is_refused(prepared: Path, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM debian:bookworm\nRUN true\n")
    root = clone_store(prepared, tmp_path / "store")
    proc = dockyard(root, "build", "-q", ctx, env={"DOCKYARD_RUNTIME": "kata"}, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == "Error: unknown OCI runtime 'kata': use one of runc, crun"
