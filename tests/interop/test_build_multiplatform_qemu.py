"""Two platforms in one build, the foreign one under QEMU: ``RUN uname -m`` says ``aarch64`` in the arm64 image (its
config says arm64, its ELF files are ``e_machine`` 183), a ``FROM --platform=$BUILDPLATFORM`` stage runs natively,
and the index pushed to a real Distribution registry shows both platforms to skopeo, which copies each one out.

The arm64 base is the first stage of ``debootstrap --arch=arm64 --foreign`` (fixtures_util). Registering QEMU changes
the host: what this module registered is removed again at its end.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from build_util import dockyard
from fixtures_util import (
    ensure_debian_arm64_oci_layout,
    ensure_debian_docker_archive,
    require_root,
    require_tool,
)
from registry_util import Registry

from dockyard.build import emulation

# binfmt_misc is one for the whole host: every module that registers or removes QEMU runs in one xdist worker
pytestmark = pytest.mark.xdist_group("binfmt")

DOCKERFILE = """\
FROM --platform=$BUILDPLATFORM debian:bookworm-amd64 AS tools
RUN uname -m > /build-arch

ARG TARGETARCH
FROM debian:bookworm-${TARGETARCH}
ARG TARGETPLATFORM
ARG TARGETVARIANT
COPY --from=tools /build-arch /build-arch
RUN uname -m > /arch && echo "$TARGETPLATFORM [$TARGETVARIANT]" > /platform
"""



@pytest.fixture(scope="module")
def emulated() -> Iterator[None]:
    """arm64 emulation for the module; undone at its end when this module is what installed it."""
    require_root("binfmt_misc registration")
    require_tool("qemu-aarch64-static")
    before = emulation.status("arm64").ready
    yield
    if not before:
        emulation.uninstall("arm64")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("multiplatform") / "store"
    dockyard(root, "load", "-i", ensure_debian_docker_archive())
    dockyard(root, "tag", "debian:bookworm", "debian:bookworm-amd64")
    dockyard(root, "copy", f"oci:{ensure_debian_arm64_oci_layout()}:bookworm", "debian:bookworm-arm64")
    return root


def _elf_machine(path: Path) -> int:
    return int.from_bytes(path.read_bytes()[18:20], "little")


def test_two_platforms_locally_and_through_a_registry(
    emulated: None, store: Path, registry: Registry, tmp_path: Path
) -> None:
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    out = tmp_path / "out"
    proc = dockyard(
        store, "build", "--progress", "plain", "--platform", "linux/amd64,linux/arm64", "-o", f"type=local,dest={out}",
        context,
    )  # fmt: skip
    log = proc.stderr
    assert "[linux/arm64 stage-1 3/5] RUN uname -m" in log and "[linux/amd64 stage-1 3/5] RUN uname -m" in log
    assert sorted(p.name for p in out.iterdir()) == ["linux_amd64", "linux_arm64"]
    arm, amd = out / "linux_arm64", out / "linux_amd64"
    assert (arm / "arch").read_text() == "aarch64\n" and (amd / "arch").read_text() == "x86_64\n"
    assert (arm / "platform").read_text() == "linux/arm64 []\n"  # TARGETVARIANT is empty for arm64
    assert (arm / "build-arch").read_text() == "x86_64\n"  # the $BUILDPLATFORM stage ran natively
    assert _elf_machine(arm / "bin" / "dash") == 183 and _elf_machine(amd / "bin" / "dash") == 62

    name = f"{registry.host}/multi:1"
    dockyard(store, "build", "--platform", "linux/amd64,linux/arm64", "-t", name, "--push", context)
    skopeo = require_tool("skopeo")
    raw = subprocess.run(
        [skopeo, "inspect", "--tls-verify=false", "--raw", f"docker://{name}"], capture_output=True, check=True
    ).stdout
    index = json.loads(raw)
    platforms = sorted((m["platform"]["os"], m["platform"]["architecture"]) for m in index["manifests"])
    # the two images and, as buildx pushes them by default, a provenance attestation for each
    assert platforms == [("linux", "amd64"), ("linux", "arm64"), ("unknown", "unknown"), ("unknown", "unknown")]
    for arch, machine in (("arm64", "aarch64"), ("amd64", "x86_64")):
        layout = tmp_path / f"copy-{arch}"
        subprocess.run(
            [skopeo, "copy", "--src-tls-verify=false", "--override-arch", arch, f"docker://{name}", f"oci:{layout}:x"],
            capture_output=True, check=True,
        )  # fmt: skip
        config = _oci_config(layout)
        assert config["architecture"] == arch and config["os"] == "linux"
        files = tmp_path / f"files-{arch}"
        dockyard(store, "copy", f"oci:{layout}:x", f"copied:{arch}")
        dockyard(store, "unpack", f"copied:{arch}", files)
        assert (files / "arch").read_text() == f"{machine}\n"
    # the build recorded the index in the store too only when asked: --push alone leaves no tag there
    assert name not in dockyard(store, "images").stdout


def _oci_config(layout: Path) -> dict[str, object]:
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"].split(":", 1)[1]
    manifest = json.loads((layout / "blobs" / "sha256" / manifest_digest).read_text())
    config_digest = manifest["config"]["digest"].split(":", 1)[1]
    config: dict[str, object] = json.loads((layout / "blobs" / "sha256" / config_digest).read_text())
    return config
