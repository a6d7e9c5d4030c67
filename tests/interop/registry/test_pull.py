"""``dockyard pull`` against a real Distribution registry: Docker's output, verification, multi-arch, faults."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from registry_util import (
    BASIC_ALICE,
    Fault,
    FaultProxy,
    Registry,
    Sample,
    push_image,
    push_index,
    skopeo_copy,
    skopeo_inspect,
    unique_image,
)

from dockyard.image.base import Image
from dockyard.oci.index import Index
from dockyard.transport.registry.client import RegistryClient

pytestmark = pytest.mark.interop


def _lines(text: str) -> list[str]:
    return text.splitlines()


def _blob_files(root: Path) -> set[str]:
    return {p.name for p in (root / "blobs" / "sha256").iterdir()} if (root / "blobs").exists() else set()


def test_pull_prints_what_docker_prints(cli: Any, registry: Registry, sample: Sample) -> None:
    name = f"{registry.host}/sample/app:v1"
    first = cli("pull", name).stdout
    lines = _lines(first)
    assert lines[0] == "v1: Pulling from sample/app"
    layer_ids = [d.digest.hex[:12] for d in sample.app.manifest().layers]
    for lid in layer_ids:
        mine = [line.split(": ", 1)[1] for line in lines if line.startswith(lid + ":")]
        assert mine == ["Pulling fs layer", "Verifying Checksum", "Download complete", "Pull complete"]
    digest = skopeo_inspect(f"docker://{name}")["Digest"]
    assert lines[-3:] == [f"Digest: {digest}", f"Status: Downloaded newer image for {name}", name]
    doc = json.loads(cli("inspect", name).stdout)[0]
    assert doc["Id"] == str(sample.app.config().digest)  # image ID = config digest
    assert doc["RepoTags"] == [name]
    assert doc["RepoDigests"] == [f"{registry.host}/sample/app@{digest}"]
    assert doc["RootFS"]["Layers"] == [str(d) for d in sample.app.config().diff_ids]
    # again: nothing to fetch
    again = _lines(cli("pull", name).stdout)
    assert [line for line in again if line.startswith(layer_ids[0])] == [f"{layer_ids[0]}: Already exists"]
    assert again[-2] == f"Status: Image is up to date for {name}"
    # the base image shares its layers with the app image
    base = _lines(cli("pull", f"{registry.host}/sample/base:v1").stdout)
    assert all(line.endswith("Already exists") for line in base if re.match(r"^[0-9a-f]{12}: ", line))
    assert "store OK" in cli("system", "check").stdout


def test_pull_default_tag_digest_and_quiet(cli: Any, registry: Registry, sample: Sample) -> None:
    client = RegistryClient(registry.host)
    push_image(client, "sample/app", sample.app, "latest")
    out = _lines(cli("pull", f"{registry.host}/sample/app").stdout)
    assert out[:2] == ["Using default tag: latest", "latest: Pulling from sample/app"]
    assert out[-1] == f"{registry.host}/sample/app:latest"
    digest = sample.base.manifest().digest
    by_digest = f"{registry.host}/sample/base@{digest}"
    out = _lines(cli("pull", by_digest).stdout)
    assert out[0] == f"{digest}: Pulling from sample/base"
    assert out[-2:] == [f"Status: Downloaded newer image for {by_digest}", by_digest]
    doc = json.loads(cli("inspect", by_digest).stdout)[0]
    assert doc["RepoTags"] == [] and doc["RepoDigests"] == [by_digest]
    assert cli("pull", "-q", f"{registry.host}/sample/base:v1").stdout == f"{registry.host}/sample/base:v1\n"


def test_pull_the_debian_image(cli: Any, registry: Registry, debian_oci_layout: Path, tmp_path: Path) -> None:
    name = f"{registry.host}/debian:bookworm"
    skopeo_copy(f"oci:{debian_oci_layout}:bookworm", f"docker://{name}")
    cli("pull", name)
    info = skopeo_inspect(f"docker://{name}")
    doc = json.loads(cli("inspect", name).stdout)[0]
    config = skopeo_inspect(f"docker://{name}", "--config")
    assert doc["RootFS"]["Layers"] == config["rootfs"]["diff_ids"]
    assert doc["RepoDigests"] == [f"{registry.host}/debian@{info['Digest']}"]
    cli("unpack", name, tmp_path / "rootfs")
    assert (tmp_path / "rootfs" / "etc" / "debian_version").read_text().startswith("12")
    assert "store OK" in cli("system", "check").stdout


@pytest.fixture(scope="module")
def two_platforms(registry: Registry) -> tuple[str, Index, dict[str, Image]]:
    """``multi/arch:v1``: an OCI index of a linux/amd64 and a linux/arm64/v8 image."""
    with RegistryClient(registry.host) as client:
        index, images = push_index(client, "multi/arch", "v1", ("linux/amd64", "linux/arm64/v8"), "multi")
    return f"{registry.host}/multi/arch:v1", index, images


def test_pull_multi_arch(cli: Any, registry: Registry, two_platforms: tuple[str, Index, dict[str, Image]]) -> None:
    name, index, images = two_platforms
    out = _lines(cli("pull", "--platform", "linux/arm64", name).stdout)
    assert out[-3] == f"Digest: {index.digest}"  # the index digest, as Docker prints for a multi-arch tag
    doc = json.loads(cli("inspect", name).stdout)[0]
    assert doc["Id"] == str(images["linux/arm64/v8"].config().digest)
    assert (doc["Architecture"], doc.get("Variant")) == ("arm64", "v8")
    assert doc["RepoDigests"] == [f"{registry.host}/multi/arch@{index.digest}"]
    # switching platform moves the tag to the other image, the old one stays dangling
    cli("pull", "--platform", "linux/amd64", name)
    doc = json.loads(cli("inspect", name).stdout)[0]
    assert doc["Id"] == str(images["linux/amd64"].config().digest)


def test_missing_platform_lists_the_available_ones(
    cli: Any, dockyard_root: Path, two_platforms: tuple[str, Index, dict[str, Image]]
) -> None:
    name, _, _ = two_platforms
    res = cli("pull", "--platform", "linux/s390x", name, check=False)
    assert res.returncode == 1
    assert "linux/s390x" in res.stderr and "linux/amd64" in res.stderr and "linux/arm64/v8" in res.stderr
    assert res.stderr.count("\n") == 1
    assert cli("images", "-q").stdout == "" and _blob_files(dockyard_root) == set()


def _registry_blob(registry: Registry, digest: str) -> Path:
    hex_ = digest.split(":", 1)[1]
    return registry.root / "docker" / "registry" / "v2" / "blobs" / "sha256" / hex_[:2] / hex_ / "data"


def test_corrupt_blob_in_registry_fails_and_stores_nothing(cli: Any, registry: Registry, dockyard_root: Path) -> None:
    image = unique_image("corrupt")
    with RegistryClient(registry.host) as client:
        push_image(client, "broken/blob", image, "v1")
    victim = _registry_blob(registry, str(image.manifest().layers[0].digest))
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    cli("images")  # an empty store exists
    before = _blob_files(dockyard_root)
    res = cli("pull", f"{registry.host}/broken/blob:v1", check=False)
    assert res.returncode == 1
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and ("digest mismatch" in err[0] or "invalid gzip" in err[0]), res.stderr
    assert _blob_files(dockyard_root) == before
    assert cli("images", "-q").stdout == ""
    assert "store OK" in cli("system", "check").stdout


def test_pull_through_faults(cli: Any, faults: FaultProxy, registry: Registry, dockyard_root: Path) -> None:
    image = unique_image("faults", size=2_000_000)
    with RegistryClient(registry.host) as client:
        push_image(client, "faulty/img", image, "v1")
    big = image.manifest().layers[0].digest
    faults.add(Fault(r"^GET /v2/faulty/img/manifests/v1$", "status", status=429, headers={"Retry-After": "1"}))
    faults.add(Fault(r"^GET /v2/faulty/img/blobs/" + str(big), "drop", drop_after=300_000))
    faults.add(Fault(r"^GET /v2/faulty/img/blobs/sha256", "status", status=503))
    cli("pull", f"{faults.host}/faulty/img:v1")
    blob_gets = [s for s in faults.requests("GET /v2/faulty/img/blobs/" + str(big))]
    assert any(s.headers.get("range", "").startswith("bytes=") for s in blob_gets)  # resumed, not restarted
    assert "store OK" in cli("system", "check").stdout


def test_manifest_that_is_not_json(cli: Any, faults: FaultProxy, sample: Sample) -> None:
    faults.add(Fault(r"^GET /v2/sample/base/manifests/v1$", "body", body=b"<html>surprise</html>", times=10))
    res = cli("pull", f"{faults.host}/sample/base:v1", check=False)
    assert res.returncode == 1 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr


def test_wrong_credentials_are_one_line(cli: Any, basic_registry: Registry, tmp_path: Path) -> None:
    config = tmp_path / "docker-config"
    config.mkdir()
    (config / "config.json").write_text(
        json.dumps({"auths": {basic_registry.host: {"username": BASIC_ALICE[0], "password": "wrong"}}})
    )
    res = cli("pull", f"{basic_registry.host}/sample/base:v1", check=False, env={"DOCKER_CONFIG": str(config)})
    assert res.returncode == 1 and res.stderr.count("\n") == 1
    assert "401" in res.stderr or "UNAUTHORIZED" in res.stderr or "unauthorized" in res.stderr.lower()


def test_pull_with_basic_credentials(cli: Any, basic_registry: Registry, sample_layout: Sample, tmp_path: Path) -> None:
    user, password = BASIC_ALICE
    skopeo_copy(
        f"oci:{sample_layout.layout}:base",
        f"docker://{basic_registry.host}/sample/base:v1",
        "--dest-creds",
        f"{user}:{password}",
    )
    config = tmp_path / "docker-config"
    config.mkdir()
    (config / "config.json").write_text(
        json.dumps({"auths": {basic_registry.host: {"username": user, "password": password}}})
    )
    out = cli("pull", f"{basic_registry.host}/sample/base:v1", env={"DOCKER_CONFIG": str(config)}).stdout
    assert out.endswith(f"{basic_registry.host}/sample/base:v1\n")


def test_pull_all_tags(cli: Any, registry: Registry) -> None:
    images = {tag: unique_image(f"alltags-{tag}") for tag in ("a", "b")}
    with RegistryClient(registry.host) as client:
        for tag, image in images.items():
            push_image(client, "pull/alltags", image, tag)
    repo = f"{registry.host}/pull/alltags"
    out = _lines(cli("pull", "-a", repo).stdout)
    assert [line for line in out if "Pulling from" in line] == [
        "a: Pulling from pull/alltags",
        "b: Pulling from pull/alltags",
    ]
    assert out[-2:] == [f"Status: Downloaded newer image for {repo}", repo]
    listed = cli("images", "--format", "{{.Tag}} {{.ID}}", repo).stdout.splitlines()
    assert sorted(listed) == sorted(f"{t} {images[t].config().digest.short}" for t in images)
    res = cli("pull", "-a", f"{repo}:a", check=False)
    assert res.returncode == 1 and "tag can't be used with --all-tags" in res.stderr


def test_pull_from_an_unreachable_registry_fails_at_once_and_prints_nothing_of_the_pull(cli: Any) -> None:
    from registry_util import free_port

    host = f"127.0.0.1:{free_port()}"
    result = cli("pull", f"{host}/foo", check=False)
    assert result.returncode == 1
    assert result.stdout == "Using default tag: latest\n"  # Docker prints this too; no "latest: Pulling from foo"
    assert result.stderr.splitlines() == [
        f"Error: registry {host} is unreachable (GET http://{host}/v2/foo/manifests/latest: connection refused)"
        " for foo:latest"
    ]
