"""Attestations as buildx attaches them: ``--provenance`` (SLSA v0.2, min by default on OCI and pushed outputs) and
``--sbom`` (SPDX from dockyard's catalogers) as attestation manifests of the index, pointing at their image; the
copy engine carries them; ``--annotation`` lands on the manifest or the index; the store (``--load``) keeps none."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from build_util import dockyard
from fixtures_util import require_root, require_tool

SHARED = Path(os.environ.get("DOCKYARD_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))

DOCKERFILE = """\
FROM scratch
COPY hello.txt /hello.txt
COPY <<EOF /usr/lib/python3/dist-packages/demo_pkg-1.2.3.dist-info/METADATA
Metadata-Version: 2.1
Name: demo-pkg
Version: 1.2.3
EOF
"""



def _blob(tar: tarfile.TarFile, digest: str) -> bytes:
    f = tar.extractfile("blobs/sha256/" + digest.split(":", 1)[1])
    assert f is not None
    return f.read()


def _json_blob(tar: tarfile.TarFile, digest: str) -> Any:
    return json.loads(_blob(tar, digest))


@pytest.fixture
def context(tmp_path: Path) -> Path:
    require_root("builds mount overlayfs")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "hello.txt").write_text("hello\n")
    return ctx


def test_provenance_and_sbom_attestations(context: Path, tmp_path: Path) -> None:
    root = tmp_path / "store"
    out = tmp_path / "image.tar"
    dockyard(root, "build", "-q", "-t", "example/att:1", "--sbom", "--provenance", "mode=max", "--build-arg", "A=1",
              "--annotation", "index:org.opencontainers.image.vendor=dockyard", "--annotation", "org.example.k=v",
              "-o", f"type=oci,dest={out}", context)  # fmt: skip
    with tarfile.open(out) as tar:
        layout_index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        index = _json_blob(tar, layout_index["manifests"][0]["digest"])
        assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
        assert index["annotations"] == {"org.opencontainers.image.vendor": "dockyard"}
        image_desc, att_desc = index["manifests"]
        assert image_desc["platform"]["architecture"] == "amd64"
        assert att_desc["platform"] == {"architecture": "unknown", "os": "unknown"}
        assert att_desc["annotations"] == {
            "vnd.docker.reference.digest": image_desc["digest"],
            "vnd.docker.reference.type": "attestation-manifest",
        }
        image = _json_blob(tar, image_desc["digest"])
        assert image["annotations"] == {"org.example.k": "v"}
        att = _json_blob(tar, att_desc["digest"])
        types = [layer["annotations"]["in-toto.io/predicate-type"] for layer in att["layers"]]
        assert types == ["https://slsa.dev/provenance/v0.2", "https://spdx.dev/Document"]
        assert all(layer["mediaType"] == "application/vnd.in-toto+json" for layer in att["layers"])
        provenance, spdx = (_json_blob(tar, layer["digest"]) for layer in att["layers"])
    for statement in (provenance, spdx):
        assert statement["_type"] == "https://in-toto.io/Statement/v0.1"
        [subject] = statement["subject"]
        assert subject["name"] == "pkg:docker/example/att@1?platform=linux%2Famd64"
        assert "sha256:" + subject["digest"]["sha256"] == image_desc["digest"]
    predicate = provenance["predicate"]
    assert predicate["buildType"] == "https://mobyproject.org/buildkit@v1"
    assert predicate["invocation"]["parameters"]["args"] == {"build-arg:A": "1"}
    assert predicate["invocation"]["environment"]["platform"] == "linux/amd64"
    assert predicate["metadata"]["completeness"]["parameters"] is True
    document = spdx["predicate"]
    assert document["spdxVersion"] == "SPDX-2.3"
    assert [p["name"] for p in document["packages"] if p["name"] == "demo-pkg"] == ["demo-pkg"]
    schema = SHARED / "schemas" / "spdx-schema-2.3.json"
    if schema.exists():
        import jsonschema

        jsonschema.validate(document, json.loads(schema.read_text()))

    # skopeo reads the index and picks the image, not the attestation
    skopeo = require_tool("skopeo")
    shown = json.loads(subprocess.run([skopeo, "inspect", f"oci-archive:{out}"], capture_output=True, check=True,
                                      text=True).stdout)  # fmt: skip
    assert shown["Architecture"] == "amd64"
    # the copy engine carries the attestation manifests: the index digest stays
    copied = tmp_path / "copied"
    dockyard(root, "copy", "--all", f"oci-archive:{out}", f"oci:{copied}:1")
    top = json.loads((copied / "index.json").read_text())["manifests"][0]["digest"]
    assert top == layout_index["manifests"][0]["digest"]


def test_defaults_min_provenance_on_oci_none_on_load(context: Path, tmp_path: Path) -> None:
    root = tmp_path / "store"
    out = tmp_path / "image.tar"
    dockyard(root, "build", "-q", "-o", f"type=oci,dest={out}", context)
    with tarfile.open(out) as tar:
        layout_index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        index = _json_blob(tar, layout_index["manifests"][0]["digest"])
        att = _json_blob(tar, index["manifests"][1]["digest"])
        [layer] = att["layers"]
        predicate = _json_blob(tar, layer["digest"])["predicate"]
        assert predicate["invocation"]["parameters"]["args"] == {}  # mode=min records no arguments
        assert predicate["metadata"]["completeness"]["parameters"] is False
    plain = tmp_path / "plain.tar"
    dockyard(root, "build", "-q", "--provenance=false", "-o", f"type=oci,dest={plain}", context)
    with tarfile.open(plain) as tar:
        layout_index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        assert layout_index["manifests"][0]["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    dockyard(root, "build", "-q", "-t", "example/att:2", context)  # --load: an image, no attestation
    assert "example/att" in dockyard(root, "images").stdout
