"""Golden files for ``imagetools inspect`` (and ``manifest inspect``) on deterministic images in a real Distribution
registry: the sample images built by the synthetic builder (fixed bytes and timestamps), as a two-platform OCI
index. The registry's address is the only thing that varies; it is written ``REGISTRY`` in the files.
``pytest --update-golden`` rewrites them."""

from __future__ import annotations

from typing import Any

import pytest
from golden_util import check_golden
from registry_util import Registry, push_image

from dockyard.image.sample import app_image, base_image
from dockyard.oci import mediatype
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.index import Index
from dockyard.oci.platform import Platform
from dockyard.transport.registry.client import RegistryClient

pytestmark = pytest.mark.interop

REPO = "golden/app"


@pytest.fixture(scope="module")
def golden_repo(registry: Registry) -> str:
    """``golden/app:v1``: an OCI index of the sample app for linux/amd64 and linux/arm64/v8; ``golden/app:base``:
    the sample base image alone."""
    with RegistryClient(registry.host) as client:
        descs = []
        for text in ("linux/amd64", "linux/arm64/v8"):
            platform = Platform.parse(text)
            d = push_image(client, REPO, app_image(platform))
            descs.append(Descriptor(d.media_type, d.digest, d.size, platform=platform))
        index = Index.build(descs, mediatype.OCI_INDEX)
        client.put_manifest(REPO, "v1", index.raw, index.media_type)
        push_image(client, REPO, base_image(), "base")
    return f"{registry.host}/{REPO}"


CASES = {
    "imagetools-inspect-index.txt": ["imagetools", "inspect", "{repo}:v1"],
    "imagetools-inspect-image.txt": ["imagetools", "inspect", "{repo}:base"],
    "imagetools-inspect-raw.json": ["imagetools", "inspect", "--raw", "{repo}:v1"],
    "imagetools-inspect-manifest.json": ["imagetools", "inspect", "--format", "{{json .Manifest}}", "{repo}:v1"],
    "imagetools-inspect-image-config.json": ["imagetools", "inspect", "--format", "{{json .Image}}", "{repo}:v1"],
    "manifest-inspect-index.json": ["manifest", "inspect", "{repo}:v1"],
    "manifest-inspect-image.json": ["manifest", "inspect", "{repo}:base"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(cli: Any, registry: Registry, golden_repo: str, request: pytest.FixtureRequest, name: str) -> None:
    args = [a.replace("{repo}", golden_repo) for a in CASES[name]]
    out = cli(*args).stdout
    check_golden(request.config, name, out.replace(registry.host, "REGISTRY"))
