"""``dockyard push`` against a real Distribution registry, checked by skopeo; skopeo pushes what dockyard pulled."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from registry_util import ALICE, FaultProxy, Registry, Sample, skopeo_copy, skopeo_inspect

from dockyard import push as pushing
from dockyard.image import sample as samples
from dockyard.image.build import build_image, file
from dockyard.oci import mediatype
from dockyard.oci import reference as refs
from dockyard.store.store import Store
from dockyard.transport import docker_archive, remote
from dockyard.transport.registry.client import RegistryClient

pytestmark = pytest.mark.interop


@pytest.fixture
def loaded(cli: Any, tmp_path: Path) -> Any:
    archive = tmp_path / "sample.tar"
    with open(archive, "wb") as f:
        docker_archive.write([(samples.base_image(), ["sample/base:1"]), (samples.app_image(), ["sample/app:1"])], f)
    cli("load", "-i", archive)
    return cli


def _layer_lines(out: str) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for line in out.splitlines():
        m = re.match(r"^([0-9a-f]{12}): (.*)$", line)
        if m:
            seen.setdefault(m.group(1), []).append(m.group(2))
    return seen


def test_push_prints_what_docker_prints_and_skopeo_reads_it(loaded: Any, registry: Registry, tmp_path: Path) -> None:
    repo = f"{registry.host}/pushed/app"
    loaded("tag", "sample/app:1", f"{repo}:v1")
    out = loaded("push", f"{repo}:v1").stdout
    lines = out.splitlines()
    assert lines[0] == f"The push refers to repository [{repo}]"
    diff_ids = [d.hex[:12] for d in samples.app_image().config().diff_ids]
    assert set(_layer_lines(out)) == set(diff_ids)  # Docker names pushed layers by diff_id
    assert all(v == ["Preparing", "Pushed"] for v in _layer_lines(out).values())
    info = skopeo_inspect(f"docker://{repo}:v1")
    raw = skopeo_inspect(f"docker://{repo}:v1", raw=True)
    doc = json.loads(loaded("inspect", f"{repo}:v1").stdout)[0]
    # a loaded docker-archive keeps plain layers: they go up gzip-compressed (as Docker does), which the push says
    assert [layer["mediaType"] for layer in raw["layers"]] == [mediatype.DOCKER_LAYER_GZIP] * len(diff_ids)
    assert f"is sent as {info['Digest']}" in lines[-2]
    assert lines[-1].startswith(f"v1: digest: {info['Digest']} size: ")
    assert f"{repo}@{info['Digest']}" in doc["RepoDigests"]
    # the pushed manifest is kept too: the repository digest names those bytes in the store
    pinned = json.loads(loaded("inspect", f"{repo}@{info['Digest']}").stdout)[0]
    assert pinned["Id"] == doc["Id"]
    # skopeo copies it out (verifying every blob) into an OCI layout
    skopeo_copy(f"docker://{repo}:v1", f"oci:{tmp_path / 'out'}:v1")
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    written = index["manifests"][0]["digest"].split(":")[1]  # skopeo converts to an OCI manifest: same blobs
    oci_manifest = json.loads((tmp_path / "out" / "blobs" / "sha256" / written).read_text())
    assert oci_manifest["config"]["digest"] == doc["Id"]
    again = loaded("push", f"{repo}:v1").stdout
    assert all(v == ["Preparing", "Layer already exists"] for v in _layer_lines(again).values())


def test_push_mounts_blobs_from_another_repository(loaded: Any, registry: Registry) -> None:
    first = f"{registry.host}/mount/source"
    second = f"{registry.host}/mount/target"
    loaded("tag", "sample/base:1", f"{first}:v1")
    loaded("push", f"{first}:v1")
    loaded("tag", "sample/app:1", f"{second}:v1")
    seen = _layer_lines(loaded("push", f"{second}:v1").stdout)
    base_ids = [d.hex[:12] for d in samples.base_image().config().diff_ids]
    assert all(seen[i] == ["Preparing", "Mounted from mount/source"] for i in base_ids)
    app_only = [v for k, v in seen.items() if k not in base_ids]
    assert app_only == [["Preparing", "Pushed"]]
    pushed = skopeo_inspect(f"docker://{second}:v1")["Digest"]
    assert f"{second}@{pushed}" in json.loads(loaded("inspect", f"{second}:v1").stdout)[0]["RepoDigests"]


def test_push_all_tags_and_quiet(loaded: Any, registry: Registry) -> None:
    repo = f"{registry.host}/alltags/x"
    loaded("tag", "sample/base:1", f"{repo}:a")
    loaded("tag", "sample/app:1", f"{repo}:b")
    out = loaded("push", "-a", repo).stdout.splitlines()
    assert [line.split(":")[0] for line in out if ": digest: " in line] == ["a", "b"]
    assert sorted(RegistryClient(registry.host).tags("alltags/x")) == ["a", "b"]
    assert loaded("push", "-q", f"{repo}:a").stdout == f"{repo}:a\n"


def test_push_of_unknown_tag_is_refused(cli: Any, registry: Registry) -> None:
    res = cli("push", f"{registry.host}/nothing/here:v1", check=False)
    assert res.returncode == 1 and "An image does not exist locally with the tag" in res.stderr


def test_push_with_token_auth(loaded: Any, token_registry: Registry, token_server: Any, tmp_path: Path) -> None:
    config = tmp_path / "docker-config"
    config.mkdir()
    (config / "config.json").write_text(
        json.dumps({"auths": {token_registry.host: {"username": ALICE[0], "password": ALICE[1]}}})
    )
    repo = f"{token_registry.host}/secure/app"
    loaded("tag", "sample/app:1", f"{repo}:v1")
    loaded("push", f"{repo}:v1", env={"DOCKER_CONFIG": str(config)})
    info = skopeo_inspect(f"docker://{repo}:v1", "--creds", ":".join(ALICE))
    assert f"{repo}@{info['Digest']}" in json.loads(loaded("inspect", f"{repo}:v1").stdout)[0]["RepoDigests"]


def test_large_blobs_go_up_in_chunks(dockyard_root: Path, faults: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "CHUNKED_ABOVE", 100_000)
    monkeypatch.setattr(remote, "CHUNK_SIZE", 64 << 10)
    image = build_image([[file("big.bin", os.urandom(400_000))]])
    with Store(dockyard_root) as store:
        store.ingest(image, [refs.parse(f"{faults.host}/chunked/img:v1")])
        result = pushing.push(store, refs.parse(f"{faults.host}/chunked/img:v1"))
    assert result.digest == image.manifest().digest
    layer = str(image.manifest().layers[0].digest)
    assert len(faults.requests(r"^PATCH /v2/chunked/img/blobs/uploads/")) >= 6  # ~400 kB in 64 KiB chunks
    assert faults.requests(r"^PUT /v2/chunked/img/blobs/uploads/.*digest=" + re.escape(layer).replace(":", "(:|%3A)"))


def test_debian_roundtrip_dockyard_and_skopeo(
    cli: Any, registry: Registry, debian_docker_archive: Path, tmp_path: Path, dockyard_root: Path
) -> None:
    # dockyard pushes the Debian image; skopeo reads it back into a docker-archive; dockyard loads that
    cli("load", "-i", debian_docker_archive)
    name = f"{registry.host}/roundtrip/debian:bookworm"
    cli("tag", "debian:bookworm", name)
    cli("push", name)
    copy = tmp_path / "copy.tar"
    skopeo_copy(f"docker://{name}", f"docker-archive:{copy}:debian:copy")
    cli("load", "-i", copy)
    ids = cli("images", "--no-trunc", "--format", "{{.ID}}", "debian").stdout.split()
    assert len(set(ids)) == 1  # the same image ID after the round trip
    # skopeo pushes what dockyard pulled: pull into a fresh store, save, skopeo copies the archive to the registry
    other = tmp_path / "other-root"
    env = {"DOCKYARD_ROOT": str(other)}
    cli("pull", name, env=env)
    saved = tmp_path / "pulled.tar"
    cli("save", "-o", saved, name, env=env)
    skopeo_copy(f"docker-archive:{saved}", f"docker://{registry.host}/roundtrip/again:v1")
    again = skopeo_inspect(f"docker://{registry.host}/roundtrip/again:v1", "--config")
    original = skopeo_inspect(f"docker://{name}", "--config")
    assert again["rootfs"] == original["rootfs"]


def test_sample_fixture_is_untouched(sample: Sample, registry: Registry) -> None:
    # pushes above went to their own repositories: the shared sample repositories still hold what skopeo put there
    assert skopeo_inspect(f"docker://{registry.host}/sample/base:v1")["Digest"] == str(sample.base.manifest().digest)
