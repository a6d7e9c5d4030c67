"""``login``/``logout``, ``manifest inspect``, ``digest``, ``tags``, ``catalog`` and ``delete`` against a real
Distribution registry, checked with skopeo and with Docker's documented output shapes."""

from __future__ import annotations

import base64
import json
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from registry_util import (
    BASIC_ALICE,
    Registry,
    Sample,
    push_image,
    push_index,
    skopeo_copy,
    skopeo_inspect,
    unique_image,
)

from dockyard.image.base import Image
from dockyard.oci import mediatype
from dockyard.oci.index import Index
from dockyard.transport.registry.client import RegistryClient

pytestmark = pytest.mark.interop


def skopeo_raw(ref: str) -> bytes:
    skopeo = shutil.which("skopeo")
    assert skopeo is not None
    proc = subprocess.run(
        [skopeo, "--insecure-policy", "inspect", "--tls-verify=false", "--raw", ref],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return proc.stdout


def docker_config(tmp_path: Path) -> Path:
    config = tmp_path / "docker-config"
    config.mkdir(exist_ok=True)
    return config


@pytest.fixture(scope="module")
def two_platforms(registry: Registry) -> tuple[str, Index, dict[str, Image]]:
    """``ops/multi:v1``: an OCI index of a linux/amd64 and a linux/arm64/v8 image."""
    with RegistryClient(registry.host) as client:
        index, images = push_index(client, "ops/multi", "v1", ("linux/amd64", "linux/arm64/v8"), "ops")
    return f"{registry.host}/ops/multi:v1", index, images


# --- login / logout ------------------------------------------------------------------------------------------------


def test_login_wrong_password_is_one_line_and_stores_nothing(
    cli: Any, basic_registry: Registry, tmp_path: Path
) -> None:
    config = docker_config(tmp_path)
    env = {"DOCKER_CONFIG": str(config)}
    res = cli("login", basic_registry.host, "-u", BASIC_ALICE[0], "-p", "wrong", check=False, env=env)
    assert res.returncode == 1
    errors = [line for line in res.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "unauthorized" in errors[0].lower(), res.stderr
    assert "Traceback" not in res.stderr
    assert "WARNING! Using --password via the CLI is insecure. Use --password-stdin." in res.stderr
    assert not (config / "config.json").exists()


def test_login_stores_docker_config_and_is_used(cli: Any, basic_registry: Registry, tmp_path: Path) -> None:
    config = docker_config(tmp_path)
    path = config / "config.json"
    path.write_text(json.dumps({"auths": {}, "psFormat": "table {{.ID}}"}))
    env = {"DOCKER_CONFIG": str(config)}
    # without credentials the registry refuses the catalog
    denied = cli("catalog", basic_registry.host, check=False, env=env)
    assert denied.returncode == 1 and denied.stderr.count("\n") == 1
    user, password = BASIC_ALICE
    res = cli("login", basic_registry.host, "-u", user, "--password-stdin", input=password + "\n", env=env)
    assert res.stdout == "Login Succeeded\n"
    assert f"WARNING! Your password will be stored unencrypted in {path}." in res.stderr
    data = json.loads(path.read_text())
    assert data["psFormat"] == "table {{.ID}}"  # other keys kept
    assert data["auths"] == {basic_registry.host: {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("{\n\t")  # tab-indented as Docker writes it
    # the stored credentials now open the registry
    assert cli("catalog", basic_registry.host, env=env).returncode == 0
    # logout removes them; a second logout says so
    assert (
        cli("logout", basic_registry.host, env=env).stdout == f"Removing login credentials for {basic_registry.host}\n"
    )
    assert json.loads(path.read_text())["auths"] == {}
    assert (
        cli("logout", f"http://{basic_registry.host}/", env=env).stdout == f"Not logged in to {basic_registry.host}\n"
    )


def test_login_flag_errors(cli: Any, basic_registry: Registry, tmp_path: Path) -> None:
    env = {"DOCKER_CONFIG": str(docker_config(tmp_path))}
    res = cli("login", basic_registry.host, "--password-stdin", input="x", check=False, env=env)
    assert res.returncode == 2 and "Must provide --username with --password-stdin" in res.stderr
    res = cli("login", basic_registry.host, "-u", "alice", "-p", "x", "--password-stdin", check=False, env=env)
    assert res.returncode == 2 and "mutually exclusive" in res.stderr
    res = cli("login", basic_registry.host, "-u", "alice", check=False, env=env)
    assert res.returncode == 2 and "non TTY" in res.stderr


def test_logout_docker_hub_names_its_config_key(cli: Any, tmp_path: Path) -> None:
    config = docker_config(tmp_path)
    key = "https://index.docker.io/v1/"
    (config / "config.json").write_text(json.dumps({"auths": {key: {"auth": "YTpi"}}}))
    env = {"DOCKER_CONFIG": str(config)}
    assert cli("logout", env=env).stdout == f"Removing login credentials for {key}\n"
    assert json.loads((config / "config.json").read_text())["auths"] == {}
    assert cli("logout", "docker.io", env=env).stdout == f"Not logged in to {key}\n"


# --- manifest inspect ----------------------------------------------------------------------------------------------


def test_manifest_inspect_of_a_tag(cli: Any, registry: Registry, sample: Sample) -> None:
    name = f"{registry.host}/sample/app:v1"
    raw = skopeo_raw(f"docker://{name}")
    out = cli("manifest", "inspect", name).stdout
    # json.Indent with tabs of the registry's bytes: what Python's indent="\t" writes for plain ASCII JSON
    assert out == json.dumps(json.loads(raw), indent="\t") + "\n"


def test_manifest_inspect_verbose_of_a_tag(cli: Any, registry: Registry, sample: Sample) -> None:
    name = f"{registry.host}/sample/app:v1"
    raw = skopeo_raw(f"docker://{name}")
    info = skopeo_inspect(f"docker://{name}")
    out = cli("manifest", "inspect", "-v", name).stdout
    assert out.startswith('{\n\t"Ref": ')
    doc = json.loads(out)
    assert list(doc) == ["Ref", "Descriptor", "Raw", "OCIManifest"]
    assert doc["Ref"] == name
    assert doc["Descriptor"] == {
        "mediaType": mediatype.OCI_MANIFEST,
        "digest": info["Digest"],
        "size": len(raw),
        "platform": {"architecture": info["Architecture"], "os": info["Os"]},
    }
    assert base64.b64decode(doc["Raw"]) == raw
    assert doc["OCIManifest"] == json.loads(raw)


def test_manifest_inspect_of_an_index(
    cli: Any, registry: Registry, two_platforms: tuple[str, Index, dict[str, Image]]
) -> None:
    name, index, images = two_platforms
    out = cli("manifest", "inspect", name).stdout
    assert out.startswith('{\n   "schemaVersion": 2,\n   "mediaType": ')  # three spaces, as docker/cli
    doc = json.loads(out)
    # docker/cli rebuilds the list with distribution's FromDescriptors: OCI children make an OCI index
    assert doc["mediaType"] == mediatype.OCI_INDEX
    assert [list(m) for m in doc["manifests"]] == [["mediaType", "size", "digest", "platform"]] * 2
    assert [(m["digest"], m["size"], m["mediaType"]) for m in doc["manifests"]] == [
        (str(d.digest), d.size, d.media_type) for d in index.manifests
    ]
    assert [m["platform"] for m in doc["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux", "variant": "v8"},
    ]
    verbose = json.loads(cli("manifest", "inspect", "--verbose", name).stdout)
    assert [v["Ref"] for v in verbose] == [f"{name}@{d.digest}" for d in index.manifests]
    assert [base64.b64decode(v["Raw"]) for v in verbose] == [images[p].manifest().raw for p in images]
    assert verbose[1]["Descriptor"]["platform"] == {"architecture": "arm64", "os": "linux", "variant": "v8"}


def _push_list(client: RegistryClient, repo: str, kinds: tuple[str, ...], list_type: str) -> None:
    from dockyard.oci.descriptor import Descriptor
    from dockyard.oci.platform import Platform

    descs = []
    for i, kind in enumerate(kinds):
        platform = ("linux/amd64", "linux/arm64")[i % 2]
        image = unique_image(f"{repo}-{i}".replace("/", "-"), platform, manifest_type=kind)
        d = push_image(client, repo, image)
        descs.append(Descriptor(d.media_type, d.digest, d.size, platform=Platform.parse(platform)))
    index = Index.build(descs, list_type)
    client.put_manifest(repo, "v1", index.raw, index.media_type)


@pytest.mark.parametrize(
    ("repo", "kinds", "list_type"),
    [
        ("ops/list-docker", (mediatype.DOCKER_MANIFEST, mediatype.DOCKER_MANIFEST), mediatype.DOCKER_MANIFEST_LIST),
        ("ops/list-mixed-docker", (mediatype.DOCKER_MANIFEST, mediatype.OCI_MANIFEST), mediatype.OCI_INDEX),
        ("ops/list-mixed-oci", (mediatype.OCI_MANIFEST, mediatype.DOCKER_MANIFEST), mediatype.DOCKER_MANIFEST_LIST),
        ("ops/list-oci-in-docker", (mediatype.OCI_MANIFEST, mediatype.OCI_MANIFEST), mediatype.DOCKER_MANIFEST_LIST),
    ],
)
def test_manifest_inspect_list_type_follows_the_first_child(
    cli: Any, registry: Registry, repo: str, kinds: tuple[str, ...], list_type: str
) -> None:
    """distribution's ``manifestlist.FromDescriptors``: the OCI index type iff the first child is an OCI
    manifest, whatever type the registry's list has; the children as skopeo reads them decide."""
    with RegistryClient(registry.host) as client:
        _push_list(client, repo, kinds, list_type)
    name = f"{registry.host}/{repo}:v1"
    children = json.loads(skopeo_raw(f"docker://{name}"))["manifests"]
    first = json.loads(skopeo_raw(f"docker://{registry.host}/{repo}@{children[0]['digest']}"))
    expected = mediatype.OCI_INDEX if first["mediaType"] == mediatype.OCI_MANIFEST else mediatype.DOCKER_MANIFEST_LIST
    doc = json.loads(cli("manifest", "inspect", name).stdout)
    assert doc["mediaType"] == expected
    assert [m["mediaType"] for m in doc["manifests"]] == [c["mediaType"] for c in children]
    verbose = json.loads(cli("manifest", "inspect", "-v", name).stdout)
    keys = ["OCIManifest" if c["mediaType"] == mediatype.OCI_MANIFEST else "SchemaV2Manifest" for c in children]
    assert [list(v)[-1] for v in verbose] == keys
    assert [v["Descriptor"]["mediaType"] for v in verbose] == [c["mediaType"] for c in children]


def test_manifest_inspect_missing_is_one_line(cli: Any, registry: Registry) -> None:
    res = cli("manifest", "inspect", f"{registry.host}/nothing/here:v1", check=False)
    assert res.returncode == 1 and res.stderr.count("\n") == 1 and res.stderr.startswith("Error: ")


# --- digest, tags, catalog, delete ---------------------------------------------------------------------------------


def test_digest_matches_skopeo(
    cli: Any, registry: Registry, sample: Sample, two_platforms: tuple[str, Index, dict[str, Image]]
) -> None:
    name = f"{registry.host}/sample/app:v1"
    assert cli("digest", name).stdout == skopeo_inspect(f"docker://{name}")["Digest"] + "\n"
    multi, index, _ = two_platforms
    assert cli("digest", multi).stdout == f"{index.digest}\n"
    children = json.loads(skopeo_raw(f"docker://{multi}"))["manifests"]
    arm = [m["digest"] for m in children if m["platform"]["architecture"] == "arm64"]
    assert cli("digest", "--platform", "linux/arm64", multi).stdout == f"{arm[0]}\n"
    assert cli("digest", "--platform", "linux/amd64", f"{registry.host}/sample/app:v1").stdout == (
        skopeo_inspect(f"docker://{registry.host}/sample/app:v1")["Digest"] + "\n"
    )
    full = cli("digest", "--full-ref", multi).stdout
    assert full == f"{registry.host}/ops/multi@{index.digest}\n"
    res = cli("digest", "--platform", "linux/s390x", multi, check=False)
    assert res.returncode == 1 and "linux/s390x" in res.stderr and res.stderr.count("\n") == 1


def test_tags_and_catalog(cli: Any, registry: Registry, sample: Sample) -> None:
    image = unique_image("tags")
    with RegistryClient(registry.host) as client:
        for tag in ("v1", "v2", "latest"):
            push_image(client, "ops/tags", image, tag)
    repo = f"{registry.host}/ops/tags"
    assert sorted(cli("tags", repo).stdout.splitlines()) == ["latest", "v1", "v2"]
    assert sorted(cli("tags", "--full-ref", repo).stdout.splitlines()) == [
        f"{repo}:{t}" for t in ("latest", "v1", "v2")
    ]
    repos = cli("catalog", registry.host).stdout.splitlines()
    assert {"ops/tags", "sample/app", "sample/base"} <= set(repos)
    assert f"{registry.host}/ops/tags" in cli("catalog", "--full-ref", registry.host).stdout.splitlines()
    res = cli("tags", f"{registry.host}/ops/none", check=False)
    assert res.returncode == 1 and res.stderr.count("\n") == 1
    res = cli("tags", f"{repo}:v1", check=False)
    assert res.returncode == 1 and "not a repository" in res.stderr


def test_delete_by_tag_and_by_digest(cli: Any, registry: Registry) -> None:
    first, second = unique_image("delete-1"), unique_image("delete-2")
    with RegistryClient(registry.host) as client:
        push_image(client, "ops/delete", first, "one")
        push_image(client, "ops/delete", second, "two")
    repo = f"{registry.host}/ops/delete"
    digest = skopeo_inspect(f"docker://{repo}:one")["Digest"]
    assert cli("delete", f"{repo}:one").stdout == f"Deleted: {repo}@{digest}\n"
    with pytest.raises(RuntimeError):
        skopeo_inspect(f"docker://{repo}:one")
    digest2 = str(second.manifest().digest)
    assert cli("delete", f"{repo}@{digest2}").stdout == f"Deleted: {repo}@{digest2}\n"
    with pytest.raises(RuntimeError):
        skopeo_inspect(f"docker://{repo}@{digest2}")
    res = cli("delete", f"{repo}:one", check=False)
    assert res.returncode == 1 and res.stderr.count("\n") == 1


def test_docker_typed_manifest_is_schema_v2_in_verbose(cli: Any, registry: Registry, sample: Sample) -> None:
    source = f"docker://{registry.host}/sample/base:v1"
    target = f"{registry.host}/ops/v2s2:v1"
    skopeo_copy(source, f"docker://{target}", "--format", "v2s2")
    doc = json.loads(cli("manifest", "inspect", "-v", target).stdout)
    assert list(doc) == ["Ref", "Descriptor", "Raw", "SchemaV2Manifest"]
    assert doc["Descriptor"]["mediaType"] == mediatype.DOCKER_MANIFEST
    assert doc["Descriptor"]["digest"] == skopeo_inspect(f"docker://{target}")["Digest"]
