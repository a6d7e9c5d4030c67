"""``dockyard copy`` between the store, registries, OCI layouts and archives, read back by skopeo."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from registry_util import BASIC_ALICE, Registry, push_image, skopeo_copy, skopeo_inspect

from dockyard.copy import Location, parse_location
from dockyard.errors import InvalidReference
from dockyard.image import sample as samples
from dockyard.image.build import build_image, file
from dockyard.oci import mediatype
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.index import Index
from dockyard.oci.platform import Platform
from dockyard.transport import docker_archive
from dockyard.transport.registry.client import RegistryClient

pytestmark = pytest.mark.interop


def test_parse_location() -> None:
    assert parse_location("docker://alpine").ref is not None
    assert parse_location("docker://alpine").ref.familiar() == "alpine"  # type: ignore[union-attr]
    loc = parse_location("oci:/tmp/lay:v1")
    assert (loc.kind, loc.path, loc.name) == ("oci", Path("/tmp/lay"), "v1")
    loc = parse_location("docker-archive:/tmp/a.tar:myrepo/x:2")
    assert loc.kind == "docker-archive" and loc.ref is not None and loc.ref.familiar() == "myrepo/x:2"
    assert parse_location("docker-archive:/tmp/a.tar:@1").name == "@1"
    assert parse_location("debian:12") == Location("store", ref=parse_location("debian:12").ref)
    for bad in ("docker:alpine", "oci:", "containers-storage:x"):
        with pytest.raises(InvalidReference):
            parse_location(bad)


def test_copy_through_every_place(cli: Any, registry: Registry, tmp_path: Path) -> None:
    archive = tmp_path / "in.tar"
    with open(archive, "wb") as f:
        docker_archive.write([(samples.app_image(), ["sample/app:1"])], f)
    cli("load", "-i", archive)
    image_id = json.loads(cli("inspect", "sample/app:1").stdout)[0]["Id"]
    remote = f"{registry.host}/copy/app:v1"
    out = cli("copy", "sample/app:1", f"docker://{remote}").stdout  # store -> registry
    assert out.splitlines()[-1].startswith("Digest: sha256:")
    assert skopeo_inspect(f"docker://{remote}", "--config")["rootfs"]["diff_ids"] == [
        str(d) for d in samples.app_image().config().diff_ids
    ]
    layout = tmp_path / "layout"
    cli("copy", f"docker://{remote}", f"oci:{layout}:v1")  # registry -> OCI layout
    skopeo_copy(f"oci:{layout}:v1", f"docker://{registry.host}/copy/from-layout:v1")  # skopeo reads it
    tarball = tmp_path / "app.tar"
    cli("copy", f"oci:{layout}:v1", f"docker-archive:{tarball}:copied/app:v2")  # layout -> docker-archive
    skopeo_inspect(f"docker-archive:{tarball}")
    oci_tar = tmp_path / "app-oci.tar"
    cli("copy", f"docker-archive:{tarball}", f"oci-archive:{oci_tar}:v3")  # docker-archive -> oci-archive
    skopeo_inspect(f"oci-archive:{oci_tar}:v3")
    cli("copy", f"oci-archive:{oci_tar}:v3", "copied/app:v3")  # oci-archive -> store
    doc = json.loads(cli("inspect", "copied/app:v3").stdout)[0]
    assert doc["Id"] == image_id  # the same config through five hops
    assert "store OK" in cli("system", "check").stdout


@pytest.fixture(scope="module")
def index_source(registry: Registry) -> tuple[str, Index]:
    descs = []
    with RegistryClient(registry.host) as client:
        for p in ("linux/amd64", "linux/arm64/v8", "linux/arm/v7"):
            image = build_image([[file(f"{p.replace('/', '_')}.bin", os.urandom(50_000))]], platform=Platform.parse(p))
            d = push_image(client, "mirror/src", image)
            descs.append(Descriptor(d.media_type, d.digest, d.size, platform=Platform.parse(p)))
        index = Index.build(descs, mediatype.OCI_INDEX)
        client.put_manifest("mirror/src", "v1", index.raw, index.media_type)
    return f"{registry.host}/mirror/src:v1", index


def test_copy_all_keeps_the_index_digest(cli: Any, registry: Registry, index_source: tuple[str, Index]) -> None:
    src, index = index_source
    dst = f"{registry.host}/mirror/dst:v1"
    out = cli("copy", "--all", f"docker://{src}", f"docker://{dst}").stdout
    assert "Copied 3 images" in out and f"Digest: {index.digest}" in out
    raw = skopeo_inspect(f"docker://{dst}", raw=True)
    assert raw == json.loads(index.raw)
    for arch, variant in (("arm64", "v8"), ("arm", "v7")):
        cfg = skopeo_inspect(f"docker://{dst}", "--override-arch", arch, "--override-variant", variant, "--config")
        assert (cfg["architecture"], cfg.get("variant")) == (arch, variant)
    # without --all only this host's platform is copied, as its own manifest
    single = f"{registry.host}/mirror/single:v1"
    cli("copy", "--platform", "linux/arm/v7", f"docker://{src}", f"docker://{single}")
    assert skopeo_inspect(f"docker://{single}", "--config")["variant"] == "v7"


def test_copy_all_across_registries_with_credentials(
    cli: Any, basic_registry: Registry, index_source: tuple[str, Index], tmp_path: Path
) -> None:
    src, index = index_source
    config = tmp_path / "docker-config"
    config.mkdir()
    user, password = BASIC_ALICE
    (config / "config.json").write_text(
        json.dumps({"auths": {basic_registry.host: {"username": user, "password": password}}})
    )
    dst = f"{basic_registry.host}/mirrored/img:v1"
    cli("copy", "--all", f"docker://{src}", f"docker://{dst}", env={"DOCKER_CONFIG": str(config)})
    raw = skopeo_inspect(f"docker://{dst}", "--creds", f"{user}:{password}", raw=True)
    assert raw == json.loads(index.raw)


def test_copy_errors_are_one_line(cli: Any, tmp_path: Path) -> None:
    for args in (
        ("copy", "docker:alpine", "x"),
        ("copy", f"oci:{tmp_path / 'missing'}", "x"),
        ("copy", "--all", f"oci:{tmp_path}", "docker://127.0.0.1:1/x"),
    ):
        res = cli(*args, check=False)
        assert res.returncode != 0 and res.stderr.count("\n") == 1, res.stderr
