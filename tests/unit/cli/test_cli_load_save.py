"""load/save details: stdin, multi-platform OCI layouts, names from annotations, save to stdout."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from dockyard.image import sample
from dockyard.image.build import build_image, file
from dockyard.oci import mediatype
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.index import Index
from dockyard.oci.platform import Platform
from dockyard.transport import docker_archive, oci_layout


def _multiarch_layout(path: Path, name: str | None) -> dict[str, str]:
    """An OCI layout whose index.json names one image index with linux/amd64 and linux/arm64/v8 children."""
    images = {
        "linux/amd64": build_image([[file("arch", "amd64\n")]], platform=Platform("linux", "amd64")),
        "linux/arm64/v8": build_image([[file("arch", "arm64\n")]], platform=Platform("linux", "arm64", "v8")),
    }
    oci_layout.write([(img, []) for img in images.values()], path, as_tar=False)
    children = []
    ids = {}
    for plat, img in images.items():
        m = img.manifest()
        children.append(Descriptor(m.media_type, m.digest, m.size, platform=Platform.parse(plat)))
        ids[plat] = str(img.config().digest)
    index = Index.build(children)
    (path / "blobs" / "sha256" / index.digest.hex).write_bytes(index.raw)
    annotations = {"org.opencontainers.image.ref.name": "1.0"}
    if name:
        annotations["io.containerd.image.name"] = name
    top = {
        "schemaVersion": 2,
        "mediaType": mediatype.OCI_INDEX,
        "manifests": [{**index.descriptor().to_json(), "annotations": annotations}],
    }
    (path / "index.json").write_text(json.dumps(top))
    return ids


def test_platform_selection(cli: Any, tmp_path: Path) -> None:
    layout = tmp_path / "multi"
    ids = _multiarch_layout(layout, "example.com/multi:1.0")
    out = cli("load", "-i", str(layout), "--platform", "linux/arm64")
    assert out.stdout == "Loaded image: example.com/multi:1.0\n"
    doc = json.loads(cli("inspect", "example.com/multi:1.0").stdout)[0]
    assert doc["Id"] == ids["linux/arm64/v8"] and doc["Architecture"] == "arm64" and doc["Variant"] == "v8"
    cli("load", "-i", str(layout), "--platform", "linux/amd64")
    assert json.loads(cli("inspect", "example.com/multi:1.0").stdout)[0]["Id"] == ids["linux/amd64"]
    missing = cli("load", "-i", str(layout), "--platform", "linux/s390x", check=False)
    assert missing.returncode == 1 and "linux/arm64" in missing.stderr and "linux/amd64" in missing.stderr
    bad = cli("load", "-i", str(layout), "--platform", "linux/", check=False)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr


def test_ref_name_with_name_option(cli: Any, tmp_path: Path) -> None:
    layout = tmp_path / "multi"
    _multiarch_layout(layout, None)
    out = cli("load", "-i", str(layout), "--name", "myrepo", "--platform", "linux/amd64")
    assert out.stdout == "Loaded image: myrepo:1.0\n"
    refused = cli("load", "-i", str(layout), "--name", "myrepo:tag", check=False)
    assert refused.returncode == 1


def test_load_from_stdin_and_save_to_stdout(cli: Any, tmp_path: Path, dockyard_root: Path) -> None:
    path = tmp_path / "s.tar"
    docker_archive.write([(sample.base_image(), ["sample:1"])], path)
    with open(path, "rb") as stdin:
        proc = subprocess.run(
            [sys.executable, "-m", "dockyard", "--root", str(dockyard_root), "load"],
            stdin=stdin,
            capture_output=True,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"Loaded image: sample:1\n"
    saved = subprocess.run(
        [sys.executable, "-m", "dockyard", "--root", str(dockyard_root), "save", "sample:1"],
        capture_output=True,
        check=True,
    ).stdout
    out_path = tmp_path / "out.tar"
    out_path.write_bytes(saved)
    with tarfile.open(out_path) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert manifest[0]["RepoTags"] == ["sample:1"]


def test_save_names_follow_docker_and_oci_names(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "s.tar"
    docker_archive.write([(sample.base_image(), ["sample:1", "sample:3", "other/sample:2"])], path)
    cli("load", "-i", str(path))
    image_id = cli("images", "-q", "sample:1").stdout.strip()

    def saved_tags(*names: str) -> list[str]:
        out = tmp_path / "out.tar"
        cli("save", "-o", str(out), *names)
        return sorted(t for e in docker_archive.read(out) for t in e.repo_tags)

    assert saved_tags(image_id) == []  # by ID: no tags, as docker save does
    assert saved_tags("sample") == ["sample:1", "sample:3"]  # a bare repository: all its tags
    assert saved_tags("sample:3", "other/sample:2") == ["other/sample:2", "sample:3"]
    assert len(docker_archive.read(tmp_path / "out.tar")) == 1  # one image, written once
    oci = tmp_path / "oci.tar"
    cli("save", "--format", "oci", "-o", str(oci), "sample:1")
    entries = oci_layout.read(oci)
    assert [e.name for e in entries] == ["docker.io/library/sample:1"]
    assert [e.ref_name for e in entries] == ["1"]
    # and dockyard loads its own OCI output back under the same name
    cli("rmi", "-f", image_id)
    assert cli("load", "-i", str(oci)).stdout == "Loaded image: sample:1\n"


def test_bare_ref_name_loads_untagged_with_a_hint(cli: Any, tmp_path: Path) -> None:
    """A ref.name that is only a tag (``1.0``) names nothing without --name: no invented ``1.0:latest``."""
    layout = tmp_path / "multi"
    ids = _multiarch_layout(layout, None)
    res = cli("load", "-i", str(layout), "--platform", "linux/amd64")
    assert res.stdout == f"Loaded image ID: {ids['linux/amd64']}\n"
    hint = [line for line in res.stderr.splitlines() if "--name" in line]
    assert len(hint) == 1 and "'1.0'" in hint[0]
    assert cli("images", "--format", "{{.Repository}}:{{.Tag}}").stdout == "<none>:<none>\n"


def test_full_reference_ref_name_names_the_image(cli: Any, tmp_path: Path) -> None:
    layout = tmp_path / "multi"
    _multiarch_layout(layout, None)
    index = json.loads((layout / "index.json").read_text())
    index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] = "example.com/named:2"
    (layout / "index.json").write_text(json.dumps(index))
    res = cli("load", "-i", str(layout), "--platform", "linux/amd64")
    assert res.stdout == "Loaded image: example.com/named:2\n"
