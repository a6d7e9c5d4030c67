"""``imagetools inspect`` and ``imagetools create`` against real Distribution registries, checked with skopeo
and with ``dockyard pull`` of what was created."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
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
from dockyard.oci.platform import Platform
from dockyard.transport.registry.client import RegistryClient

pytestmark = pytest.mark.interop


def skopeo_raw(ref: str, *extra: str) -> bytes:
    skopeo = shutil.which("skopeo")
    assert skopeo is not None
    proc = subprocess.run(
        [skopeo, "--insecure-policy", "inspect", "--tls-verify=false", *extra, "--raw", ref],
        capture_output=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.decode())
    return proc.stdout


@pytest.fixture(scope="module")
def two_platforms(registry: Registry) -> tuple[str, Index, dict[str, Image]]:
    """``tools/multi:v1``: an OCI index of a linux/amd64 and a linux/arm64/v8 image."""
    with RegistryClient(registry.host) as client:
        index, images = push_index(client, "tools/multi", "v1", ("linux/amd64", "linux/arm64/v8"), "tools")
    return f"{registry.host}/tools/multi:v1", index, images


# --- inspect -------------------------------------------------------------------------------------------------------


def test_inspect_index_text(cli: Any, two_platforms: tuple[str, Index, dict[str, Image]]) -> None:
    name, index, _ = two_platforms
    amd, arm = index.manifests
    # buildx writes through text/tabwriter (padding 1): cells padded to the widest of their block, blank
    # separator lines ("\t\n") become spaces too.
    expected = [
        f"Name:      {name}",
        f"MediaType: {mediatype.OCI_INDEX}",
        f"Digest:    {index.digest}",
        " " * 11,
        "Manifests: ",
        f"  Name:      {name}@{amd.digest}",
        f"  MediaType: {mediatype.OCI_MANIFEST}",
        "  Platform:  linux/amd64",
        " " * 13,
        f"  Name:      {name}@{arm.digest}",
        f"  MediaType: {mediatype.OCI_MANIFEST}",
        "  Platform:  linux/arm64/v8",
    ]
    assert cli("imagetools", "inspect", name).stdout == "\n".join(expected) + "\n"
    # {{.Manifest}} alone is the same layout
    assert cli("imagetools", "inspect", "--format", "{{ .Manifest }}", name).stdout == "\n".join(expected) + "\n"


def test_inspect_single_manifest_text(cli: Any, registry: Registry, sample: Sample) -> None:
    name = f"{registry.host}/sample/app:v1"
    digest = skopeo_inspect(f"docker://{name}")["Digest"]
    out = cli("imagetools", "inspect", name).stdout
    assert out == f"Name:      {name}\nMediaType: {mediatype.OCI_MANIFEST}\nDigest:    {digest}\n"
    # the default tag is added to the name, as buildx does
    out = cli("imagetools", "inspect", f"{registry.host}/sample/app@{digest}").stdout
    assert out.splitlines()[0] == f"Name:      {registry.host}/sample/app@{digest}"


def test_inspect_raw_is_the_registry_bytes(
    cli: Any, registry: Registry, sample: Sample, two_platforms: tuple[str, Index, dict[str, Image]]
) -> None:
    for name in (f"{registry.host}/sample/base:v1", two_platforms[0]):
        res = subprocess.run(
            [sys.executable, "-m", "dockyard", "imagetools", "inspect", "--raw", name],
            capture_output=True,
            env=cli.env(),
            check=True,
        )
        assert res.stdout == skopeo_raw(f"docker://{name}")


def test_inspect_format_json(cli: Any, registry: Registry, two_platforms: tuple[str, Index, dict[str, Image]]) -> None:
    name, index, images = two_platforms
    out = cli("imagetools", "inspect", "--format", "{{json .Manifest}}", name).stdout
    assert out.startswith('{\n  "schemaVersion": 2,\n  "mediaType": ')  # json.MarshalIndent with two spaces
    doc = json.loads(out)
    assert doc["digest"] == str(index.digest) and doc["size"] == len(index.raw)
    assert [m["digest"] for m in doc["manifests"]] == [str(d.digest) for d in index.manifests]
    assert list(doc["manifests"][1]) == ["mediaType", "digest", "size", "platform"]
    configs = json.loads(cli("imagetools", "inspect", "--format", "{{json .Image}}", name).stdout)
    assert sorted(configs) == ["linux/amd64", "linux/arm64"]  # keys normalised, as containerd drops arm64's v8
    want = json.loads(images["linux/arm64/v8"].config().raw)
    got = configs["linux/arm64"]
    assert (got["architecture"], got["variant"], got["os"]) == ("arm64", "v8", "linux")
    assert got["rootfs"] == want["rootfs"]
    assert list(got)[:3] == ["created", "architecture", "os"]
    # a single image: the config itself, and .Name is the name as given
    single = f"{registry.host}/tools/multi@{index.manifests[0].digest}"
    got = json.loads(cli("imagetools", "inspect", "--format", "{{json .Image}}", single).stdout)
    assert got["architecture"] == "amd64"
    assert got["rootfs"]["diff_ids"] == [str(d) for d in images["linux/amd64"].config().diff_ids]
    assert cli("imagetools", "inspect", "--format", "{{.Name}}", single).stdout == single + "\n"
    manifest = json.loads(cli("imagetools", "inspect", "--format", "{{json .Manifest}}", single).stdout)
    assert manifest == {
        "mediaType": mediatype.OCI_MANIFEST,
        "digest": str(index.manifests[0].digest),
        "size": index.manifests[0].size,
    }


def test_inspect_missing_is_one_line(cli: Any, registry: Registry) -> None:
    res = cli("imagetools", "inspect", f"{registry.host}/tools/missing:v9", check=False)
    assert res.returncode == 1 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr


# --- create --------------------------------------------------------------------------------------------------------


def test_create_from_two_repositories_then_pull_each_platform(cli: Any, registry: Registry) -> None:
    amd, arm = unique_image("create-amd", "linux/amd64"), unique_image("create-arm", "linux/arm64/v8")
    with RegistryClient(registry.host) as client:
        push_image(client, "tools/src-amd", amd, "v1")
        push_image(client, "tools/src-arm", arm, "v1")
    target = f"{registry.host}/tools/combined:v1"
    res = cli(
        "imagetools", "create", "-t", target, f"{registry.host}/tools/src-amd:v1", f"{registry.host}/tools/src-arm:v1"
    )
    assert res.stdout == ""
    assert f"copying {amd.manifest().digest} from {registry.host}/tools/src-amd:v1 to {target}" in res.stderr
    raw = skopeo_raw(f"docker://{target}")
    doc = json.loads(raw)
    assert raw.startswith(b'{\n  "schemaVersion": 2,\n  "mediaType": "application/vnd.oci.image.index.v1+json"')
    assert [(m["digest"], m["platform"]) for m in doc["manifests"]] == [
        (str(amd.manifest().digest), {"architecture": "amd64", "os": "linux"}),
        (str(arm.manifest().digest), {"architecture": "arm64", "os": "linux"}),  # normalised: v8 is arm64's default
    ]
    # the children and their blobs were mounted into the target repository: skopeo can read them there
    for image in (amd, arm):
        assert skopeo_raw(f"docker://{registry.host}/tools/combined@{image.manifest().digest}") == image.manifest().raw
    for platform, image in (("linux/amd64", amd), ("linux/arm64", arm)):
        cli("pull", "--platform", platform, target)
        inspected = json.loads(cli("inspect", str(image.config().digest)).stdout)[0]
        assert inspected["Id"] == str(image.config().digest)
        assert inspected["Architecture"] == platform.split("/")[1]
    # the tag names the index; its IMAGE ID is this host's platform when present (amd64 here), else the first
    host = cli("inspect", "--format", "{{.Architecture}}", target).stdout.strip()
    here = Platform.host().architecture
    assert host == (here if here in ("amd64", "arm64") else "amd64")
    # both platforms present: the tag pushes as the index itself, same digest
    cli("tag", target, f"{registry.host}/tools/again:multi")
    cli("push", f"{registry.host}/tools/again:multi")
    assert skopeo_raw(f"docker://{registry.host}/tools/again:multi") == raw
    assert "store OK" in cli("system", "check").stdout


def test_create_append_and_dry_run(cli: Any, registry: Registry) -> None:
    first, second = unique_image("append-1", "linux/amd64"), unique_image("append-2", "linux/s390x")
    with RegistryClient(registry.host) as client:
        push_image(client, "tools/append", first, "amd")
        push_image(client, "tools/append", second, "s390x")
    target = f"{registry.host}/tools/append:multi"
    cli("imagetools", "create", "-t", target, f"{registry.host}/tools/append:amd")
    one = json.loads(skopeo_raw(f"docker://{target}"))  # --prefer-index: a one-entry index
    assert [m["digest"] for m in one["manifests"]] == [str(first.manifest().digest)]
    dry = cli("imagetools", "create", "--dry-run", "--append", "-t", target, str(second.manifest().digest)).stdout
    assert json.loads(skopeo_raw(f"docker://{target}")) == one  # nothing pushed
    cli("imagetools", "create", "--append", "-t", target, f"{registry.host}/tools/append:s390x")
    raw = skopeo_raw(f"docker://{target}")
    assert dry.encode() == raw + b"\n"  # the dry run printed exactly what was then pushed
    assert [(m["digest"], m["platform"]["architecture"]) for m in json.loads(raw)["manifests"]] == [
        (str(first.manifest().digest), "amd64"),
        (str(second.manifest().digest), "s390x"),
    ]
    # --prefer-index=false with one source copies it as it is
    copy = f"{registry.host}/tools/append:copy"
    cli("imagetools", "create", "--prefer-index=false", "-t", copy, f"{registry.host}/tools/append:amd")
    assert skopeo_raw(f"docker://{copy}") == first.manifest().raw


def test_create_docker_sources_make_a_manifest_list(cli: Any, registry: Registry) -> None:
    images = [
        unique_image(f"docker-{arch}", f"linux/{arch}", manifest_type=mediatype.DOCKER_MANIFEST)
        for arch in ("amd64", "ppc64le")
    ]
    with RegistryClient(registry.host) as client:
        for i, image in enumerate(images):
            push_image(client, f"tools/docker{i}", image, "v1")
    target = f"{registry.host}/tools/dockerlist:v1"
    cli("imagetools", "create", "-t", target, *(f"{registry.host}/tools/docker{i}:v1" for i in range(2)))
    doc = json.loads(skopeo_raw(f"docker://{target}"))
    assert doc["mediaType"] == mediatype.DOCKER_MANIFEST_LIST
    assert all(m["mediaType"] == mediatype.DOCKER_MANIFEST for m in doc["manifests"])
    # an index source contributes its children: a list of the list plus an OCI image is an OCI index
    oci = unique_image("docker-plus-oci", "linux/riscv64")
    with RegistryClient(registry.host) as client:
        push_image(client, "tools/oci", oci, "v1")
    out = cli("imagetools", "create", "--dry-run", target, f"{registry.host}/tools/oci:v1").stdout
    mixed = json.loads(out)
    assert mixed["mediaType"] == mediatype.OCI_INDEX and len(mixed["manifests"]) == 3


def test_create_across_registries_streams_blobs(
    cli: Any, registry: Registry, basic_registry: Registry, tmp_path: Path
) -> None:
    amd, arm = unique_image("cross-amd", "linux/amd64"), unique_image("cross-arm", "linux/arm64/v8")
    with RegistryClient(registry.host) as client:
        push_image(client, "cross/amd", amd, "v1")
        push_image(client, "cross/arm", arm, "v1")
    config = tmp_path / "docker-config"
    config.mkdir()
    env = {"DOCKER_CONFIG": str(config)}
    cli("login", basic_registry.host, "-u", BASIC_ALICE[0], "--password-stdin", input=BASIC_ALICE[1], env=env)
    target = f"{basic_registry.host}/cross/both:v1"
    cli("imagetools", "create", "-t", target, f"{registry.host}/cross/amd:v1", f"{registry.host}/cross/arm:v1", env=env)
    creds = "--creds=" + ":".join(BASIC_ALICE)
    doc = json.loads(skopeo_raw(f"docker://{target}", creds))
    assert [m["digest"] for m in doc["manifests"]] == [str(amd.manifest().digest), str(arm.manifest().digest)]
    # the other registry has every blob: skopeo copies the arm image out of it
    skopeo_copy(
        f"docker://{basic_registry.host}/cross/both@{arm.manifest().digest}",
        f"dir:{tmp_path / 'out'}",
        "--src-creds",
        ":".join(BASIC_ALICE),
    )
    assert (tmp_path / "out" / arm.config().digest.hex).read_bytes() == arm.config().raw


def test_create_errors(cli: Any, registry: Registry) -> None:
    res = cli("imagetools", "create", f"{registry.host}/tools/x:v1", check=False)
    assert res.returncode == 2 and "please set --tag or --dry-run" in res.stderr
    res = cli("imagetools", "create", "-t", f"{registry.host}/tools/x:v1", check=False)
    assert res.returncode == 2 and "no sources specified" in res.stderr
    res = cli(
        "imagetools", "create", "-t", f"{registry.host}/tools/x:v1", f"{registry.host}/tools/absent:v1", check=False
    )
    assert res.returncode == 1 and res.stderr.count("\n") == 1
