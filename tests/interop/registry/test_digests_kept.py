"""Manifests kept byte for byte: what is pulled is pushed back with the same digest (checked with skopeo), and
the tag of a multi-platform image is the index (issue: "manifests kept byte for byte")."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from registry_util import Registry, push_image, push_index, skopeo_inspect, unique_image

from dockyard.image.base import StaticImage
from dockyard.image.synth import synthesize_manifest
from dockyard.oci import mediatype
from dockyard.transport.registry.client import RegistryClient

pytestmark = pytest.mark.interop


def _docker_twin(image: StaticImage) -> StaticImage:
    """The same image (same config bytes, same blobs) described by a Docker schema 2 manifest."""
    layers = list(image.manifest().layers)
    twin = synthesize_manifest(image.config(), layers, mediatype.DOCKER_MANIFEST)
    return StaticImage(twin, image.config(), tuple(image.layers()))


def _digest_at(ref: str) -> str:
    """The digest of what the registry serves for ``ref``, by skopeo (sha256 of the raw bytes)."""
    import shutil
    import subprocess

    skopeo = shutil.which("skopeo")
    assert skopeo is not None
    raw = subprocess.run(
        [skopeo, "--insecure-policy", "inspect", "--tls-verify=false", "--raw", ref],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def test_four_kinds_keep_their_digests(cli: Any, registry: Registry) -> None:
    host = registry.host
    oci = unique_image("kept-oci")
    docker = _docker_twin(oci)
    zstd = unique_image("kept-zstd", compression="zstd")
    assert oci.config().digest == docker.config().digest and oci.manifest().digest != docker.manifest().digest
    with RegistryClient(host) as client:
        pushed = {
            "oci": push_image(client, "kept/src", oci, "oci").digest,
            "docker": push_image(client, "kept/src", docker, "docker").digest,
            "zstd": push_image(client, "kept/src", zstd, "zstd").digest,
        }
        index, _images = push_index(client, "kept/src", "multi", ["linux/amd64", "linux/arm64"], "kept-multi")
    for digest in pushed.values():
        cli("pull", f"{host}/kept/src@{digest}")
    cli("pull", "--platform", "linux/amd64", f"{host}/kept/src:multi")
    cli("pull", "--platform", "linux/arm64", f"{host}/kept/src:multi")
    # OCI and schema 2 are one image in the store (one ID), with both manifests kept
    ids = {json.loads(cli("inspect", f"{host}/kept/src@{pushed[k]}").stdout)[0]["Id"] for k in ("oci", "docker")}
    assert ids == {str(oci.config().digest)}
    for kind, digest in pushed.items():
        cli("tag", f"{host}/kept/src@{digest}", f"{host}/kept/dst:{kind}")
        cli("push", f"{host}/kept/dst:{kind}")
        assert _digest_at(f"docker://{host}/kept/dst:{kind}") == str(digest), kind
    cli("tag", f"{host}/kept/src:multi", f"{host}/kept/dst:multi")
    res = cli("push", f"{host}/kept/dst:multi")
    assert f"digest: {index.digest}" in res.stdout + res.stderr
    assert _digest_at(f"docker://{host}/kept/dst:multi") == str(index.digest)
    # the children went up too: skopeo reads each platform from the destination
    for arch in ("amd64", "arm64"):
        info = skopeo_inspect(f"docker://{host}/kept/dst:multi", "--override-arch", arch)
        assert info["Architecture"] == arch
    assert "store OK" in cli("system", "check").stdout


def test_index_with_a_platform_missing(cli: Any, registry: Registry) -> None:
    host = registry.host
    with RegistryClient(host) as client:
        _index, images = push_index(client, "kept/partial", "v1", ["linux/amd64", "linux/arm64"], "kept-partial")
    cli("pull", "--platform", "linux/amd64", f"{host}/kept/partial:v1")
    cli("tag", f"{host}/kept/partial:v1", f"{host}/kept/partial-dst:v1")
    res = cli("push", f"{host}/kept/partial-dst:v1", check=False)
    assert res.returncode == 1
    assert "linux/arm64" in res.stderr and "--platform" in res.stderr and res.stderr.count("\n") == 1
    cli("push", "--platform", "linux/amd64", f"{host}/kept/partial-dst:v1")
    amd = images["linux/amd64"]
    assert _digest_at(f"docker://{host}/kept/partial-dst:v1") == str(amd.manifest().digest)


def test_copy_all_into_an_oci_layout_and_load_a_platform(cli: Any, registry: Registry, tmp_path: Path) -> None:
    host = registry.host
    with RegistryClient(host) as client:
        index, images = push_index(client, "kept/layout", "v1", ["linux/amd64", "linux/arm64"], "kept-layout")
    layout = tmp_path / "layout"
    cli("copy", "--all", f"docker://{host}/kept/layout:v1", f"oci:{layout}:v1")
    entries = json.loads((layout / "index.json").read_text())["manifests"]
    assert [(e["digest"], e["annotations"]) for e in entries] == [
        (str(index.digest), {"org.opencontainers.image.ref.name": "v1"})
    ]
    assert (layout / "blobs" / "sha256" / index.digest.hex).read_bytes() == index.raw
    # skopeo reads the arm64 platform from it
    info = skopeo_inspect(f"oci:{layout}:v1", "--override-arch", "arm64")
    assert info["Architecture"] == "arm64"
    assert info["Layers"] == [str(d.digest) for d in images["linux/arm64"].manifest().layers]
    cli("load", "--platform", "linux/arm64", "--name", f"{host}/kept/loaded", "-i", str(layout))
    inspected = json.loads(cli("inspect", f"{host}/kept/loaded:v1").stdout)[0]
    assert inspected["Id"] == str(images["linux/arm64"].config().digest)
    # the loaded tag remembers the index: with both platforms present it pushes back as the index
    cli("load", "--platform", "linux/amd64", "--name", f"{host}/kept/loaded", "-i", str(layout))
    cli("push", f"{host}/kept/loaded:v1")
    assert _digest_at(f"docker://{host}/kept/loaded:v1") == str(index.digest)


def test_arm_v7_takes_v6_from_every_transport(cli: Any, registry: Registry, tmp_path: Path) -> None:
    """One platform rule: linux/arm/v7 asked of an index that only has linux/arm/v6 gets v6, from a registry and
    from an OCI layout alike (the layout path refused it before)."""
    host = registry.host
    with RegistryClient(host) as client:
        _index, images = push_index(client, "kept/arm", "v1", ["linux/arm/v6", "linux/amd64"], "kept-arm")
    v6 = images["linux/arm/v6"]
    cli("pull", "--platform", "linux/arm/v7", f"{host}/kept/arm:v1")
    assert json.loads(cli("inspect", str(v6.config().digest)).stdout)[0]["Variant"] == "v6"
    layout = tmp_path / "arm"
    cli("copy", "--all", f"docker://{host}/kept/arm:v1", f"oci:{layout}:v1")
    cli("--root", str(tmp_path / "other"), "load", "--platform", "linux/arm/v7", "--name", "x/arm", "-i", str(layout))
    found = cli("--root", str(tmp_path / "other"), "inspect", "--format", "{{.Id}}", "x/arm:v1").stdout.strip()
    assert found == str(v6.config().digest)
