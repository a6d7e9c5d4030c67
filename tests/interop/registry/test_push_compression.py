"""A loaded docker-archive (plain tar layers) is pushed compressed, deterministically, like skopeo and Docker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from registry_util import Registry, skopeo_copy, skopeo_inspect

from dockyard.oci import mediatype

pytestmark = pytest.mark.interop


def _layers(ref: str) -> list[dict[str, Any]]:
    return list(skopeo_inspect(ref, raw=True)["layers"])


def test_loaded_debian_is_pushed_gzip_like_skopeo(
    cli: Any, registry: Registry, debian_docker_archive: Path, dockyard_root: Path
) -> None:
    host = registry.host
    cli("load", "-i", debian_docker_archive)
    stored = json.loads(cli("inspect", "debian:bookworm").stdout)[0]
    plain_size = stored["Size"]
    cli("tag", "debian:bookworm", f"{host}/gz/debian:1")
    first = cli("push", f"{host}/gz/debian:1")
    assert "Pushed" in first.stdout and "sent gzip-compressed" in first.stdout
    ours = _layers(f"docker://{host}/gz/debian:1")
    # the peer: skopeo copies the same archive to the registry, compressing the same way
    skopeo_copy(f"docker-archive:{debian_docker_archive}", f"docker://{host}/gz/skopeo:1")
    theirs = _layers(f"docker://{host}/gz/skopeo:1")
    assert [layer["mediaType"] for layer in ours] == [layer["mediaType"] for layer in theirs]
    assert ours[0]["mediaType"] == mediatype.DOCKER_LAYER_GZIP
    assert ours[0]["size"] < plain_size / 1.5  # compressed (skopeo's ratio on the same tar below)
    assert 0.5 < ours[0]["size"] / theirs[0]["size"] < 2.0
    config = skopeo_inspect(f"docker://{host}/gz/debian:1", "--config")
    assert config["rootfs"] == skopeo_inspect(f"docker://{host}/gz/skopeo:1", "--config")["rootfs"]
    # deterministic: a second push to another repository uploads no layer again and gives the same digest
    digest = skopeo_inspect(f"docker://{host}/gz/debian:1")["Digest"]
    cli("tag", "debian:bookworm", f"{host}/gz/again:1")
    second = cli("push", f"{host}/gz/again:1")
    assert "Mounted from gz/debian" in second.stdout and "Pushing" not in second.stdout
    assert skopeo_inspect(f"docker://{host}/gz/again:1")["Digest"] == digest
    third = cli("push", f"{host}/gz/debian:1")
    assert "Layer already exists" in third.stdout and "Pushing" not in third.stdout
    # the compressed copy is kept until image prune, which reclaims it; the store stays consistent
    assert "store OK" in cli("system", "check").stdout
    pruned = cli("image", "prune", "-f").stdout
    assert "Total reclaimed space: 0B" not in pruned
    assert "store OK" in cli("system", "check").stdout
    fourth = cli("push", f"{host}/gz/debian:1")  # made again, byte for byte: nothing to upload
    assert "Layer already exists" in fourth.stdout
    assert skopeo_inspect(f"docker://{host}/gz/debian:1")["Digest"] == digest


def test_zstd_push_writes_an_oci_manifest(cli: Any, registry: Registry, debian_docker_archive: Path) -> None:
    host = registry.host
    cli("load", "-i", debian_docker_archive)
    cli("tag", "debian:bookworm", f"{host}/zstd/debian:1")
    cli("push", "--compression", "zstd", f"{host}/zstd/debian:1")
    raw = skopeo_inspect(f"docker://{host}/zstd/debian:1", raw=True)
    assert raw["mediaType"] == mediatype.OCI_MANIFEST
    assert [layer["mediaType"] for layer in raw["layers"]] == [mediatype.OCI_LAYER_ZSTD]
    # skopeo reads it back: the same diff_ids
    info = skopeo_inspect(f"docker://{host}/zstd/debian:1", "--config")
    stored = json.loads(cli("inspect", "debian:bookworm").stdout)[0]
    assert info["rootfs"]["diff_ids"] == stored["RootFS"]["Layers"]
