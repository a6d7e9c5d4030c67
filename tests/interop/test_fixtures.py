"""Sanity checks of the cached Debian fixtures, against real peers (skopeo, umoci, tar).

These check the fixtures themselves, not dockyard: if they fail, every test built on
the fixtures is suspect.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from fixtures_util import (
    DOCKER_ARCHIVE_REF,
    LAYER2_ADDED_FILES,
    LAYER2_ADDED_HARDLINKS,
    LAYER2_ADDED_SYMLINKS,
    LAYER2_MODIFIED_FILES,
    LAYER2_REMOVED,
    OCI_TAG,
    require_tool,
)

pytestmark = [pytest.mark.interop, pytest.mark.slow]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def _blob(layout: Path, digest: str) -> Path:
    algo, _, hexdigest = digest.partition(":")
    return layout / "blobs" / algo / hexdigest


def _json_blob(layout: Path, digest: str) -> Any:
    return json.loads(_blob(layout, digest).read_bytes())


def _manifest(layout: Path, tag: str = OCI_TAG) -> dict[str, Any]:
    index = json.loads((layout / "index.json").read_text())
    matches = [
        d for d in index["manifests"] if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag
    ]
    assert len(matches) == 1, index
    assert matches[0]["mediaType"] == OCI_MANIFEST
    manifest: dict[str, Any] = _json_blob(layout, matches[0]["digest"])
    return manifest


def _skopeo_inspect(layout: Path) -> dict[str, Any]:
    skopeo = require_tool("skopeo")
    proc = subprocess.run(
        [skopeo, "--insecure-policy", "inspect", f"oci:{layout}:{OCI_TAG}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


# --------------------------------------------------------------------------- rootfs


def test_debian_rootfs_is_a_debian_bookworm_minbase(debian_rootfs: Path) -> None:
    status = (debian_rootfs / "var/lib/dpkg/status").read_text()
    packages = [line for line in status.splitlines() if line.startswith("Package: ")]
    assert len(packages) >= 80, len(packages)
    assert "Package: bash" in packages
    assert (debian_rootfs / "usr/bin/bash").is_file()
    assert (debian_rootfs / "etc/debian_version").read_text().startswith("12.")
    assert (debian_rootfs / "bin").is_symlink()  # merged /usr
    assert not (debian_rootfs / "debootstrap").exists()


# --------------------------------------------------------------------------- OCI layouts


def test_debian_oci_layout_has_one_gzip_layer_and_a_real_config(debian_oci_layout: Path) -> None:
    assert json.loads((debian_oci_layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    manifest = _manifest(debian_oci_layout)
    assert manifest["config"]["mediaType"] == OCI_CONFIG
    [layer] = manifest["layers"]
    assert layer["mediaType"] == OCI_LAYER_GZIP
    layer_path = _blob(debian_oci_layout, layer["digest"])
    assert layer_path.stat().st_size == layer["size"]
    with layer_path.open("rb") as f:
        assert f.read(2) == b"\x1f\x8b"  # gzip magic

    config = _json_blob(debian_oci_layout, manifest["config"]["digest"])
    assert config["os"] == "linux"
    assert config["config"]["Cmd"] == ["bash"]
    assert config["author"]
    assert len(config["rootfs"]["diff_ids"]) == 1
    history = config["history"]
    assert [bool(h.get("empty_layer")) for h in history] == [False, True]
    assert all(h.get("created_by") for h in history)

    # The layer really is the Debian rootfs, with owners kept.
    with tarfile.open(layer_path, "r:gz") as tar:
        bash = tar.getmember("usr/bin/bash")
        assert bash.isfile() and bash.uid == 0 and bash.mode & 0o111
        assert tar.getmember("var/lib/dpkg/status").isfile()


def test_debian_oci_layout_passes_skopeo_inspect(debian_oci_layout: Path) -> None:
    info = _skopeo_inspect(debian_oci_layout)
    manifest = _manifest(debian_oci_layout)
    assert info["Layers"] == [manifest["layers"][0]["digest"]]
    assert info["Os"] == "linux"


def test_debian_oci_layout_passes_umoci_stat(debian_oci_layout: Path) -> None:
    umoci = require_tool("umoci")
    proc = subprocess.run(
        [umoci, "stat", "--json", "--image", f"{debian_oci_layout}:{OCI_TAG}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["history"]) == 2


def test_debian_two_layer_oci_layout_has_whiteouts(debian_oci_layout: Path, debian_two_layer_oci_layout: Path) -> None:
    base = _manifest(debian_oci_layout)
    manifest = _manifest(debian_two_layer_oci_layout)
    assert [lay["mediaType"] for lay in manifest["layers"]] == [OCI_LAYER_GZIP, OCI_LAYER_GZIP]
    assert manifest["layers"][0] == base["layers"][0]  # shares the base layer blob
    config = _json_blob(debian_two_layer_oci_layout, manifest["config"]["digest"])
    assert len(config["rootfs"]["diff_ids"]) == 2
    assert len(_skopeo_inspect(debian_two_layer_oci_layout)["Layers"]) == 2

    layer2 = _blob(debian_two_layer_oci_layout, manifest["layers"][1]["digest"])
    members: dict[str, tarfile.TarInfo] = {}
    contents: dict[str, bytes] = {}
    with gzip.open(layer2) as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
        for m in tar:
            members[m.name] = m
            f = tar.extractfile(m) if m.isfile() else None
            if f is not None:
                contents[m.name] = f.read()
    for name, m in members.items():  # hard links: content of the file they link to
        if m.islnk():
            contents[name] = contents[m.linkname]
    for rel, data in {**LAYER2_ADDED_FILES, **LAYER2_MODIFIED_FILES}.items():
        assert contents[rel] == data, rel
    for rel, target in LAYER2_ADDED_SYMLINKS.items():
        assert members[rel].issym() and members[rel].linkname == target
    for rel, target in LAYER2_ADDED_HARDLINKS.items():
        # umoci may store either name of the pair as the file and the other as the link
        pair = {rel, target}
        links = [members[n] for n in pair if members[n].islnk()]
        assert len(links) == 1 and links[0].linkname in pair
    for rel in LAYER2_REMOVED:
        parent, _, name = rel.rpartition("/")
        assert f"{parent}/.wh.{name}" in members, sorted(members)


# --------------------------------------------------------------------------- docker-archive


def test_debian_docker_archive_made_by_skopeo(debian_docker_archive: Path, debian_oci_layout: Path) -> None:
    with tarfile.open(debian_docker_archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        repositories = json.load(tar.extractfile("repositories"))  # type: ignore[arg-type]
        [entry] = manifest
        # skopeo 1.9 writes the fully qualified name, not the "debian:bookworm" it was given.
        assert DOCKER_ARCHIVE_REF == "debian:bookworm"
        assert entry["RepoTags"] == ["docker.io/library/debian:bookworm"]
        assert list(repositories) == ["docker.io/library/debian"]
        assert list(repositories["docker.io/library/debian"]) == ["bookworm"]
        [layer_name] = entry["Layers"]
        layer = tar.extractfile(layer_name)
        assert layer is not None
        assert layer.read(2) != b"\x1f\x8b"  # docker-archive layers are stored uncompressed
        config = json.load(tar.extractfile(entry["Config"]))  # type: ignore[arg-type]

    # Same image as the OCI layout: same config contents and the same uncompressed layer.
    oci_manifest = _manifest(debian_oci_layout)
    oci_config = _json_blob(debian_oci_layout, oci_manifest["config"]["digest"])
    assert config["rootfs"]["diff_ids"] == oci_config["rootfs"]["diff_ids"]
    assert config["config"]["Cmd"] == ["bash"]
    assert layer_name == config["rootfs"]["diff_ids"][0].removeprefix("sha256:") + ".tar"

    skopeo = require_tool("skopeo")
    proc = subprocess.run(
        [skopeo, "--insecure-policy", "inspect", f"docker-archive:{debian_docker_archive}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["Layers"] == config["rootfs"]["diff_ids"]  # uncompressed: digest == diff_id
    assert info["Os"] == "linux"
