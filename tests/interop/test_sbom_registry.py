"""``dockyard sbom docker://REF``: an image read from a real registry (CNCF Distribution on 127.0.0.1) without
being stored, equal to the SBOM of the same image in the store; a second image that shares the lower layers
fetches only its own layer (the others are in the layer cache, by diff_id)."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
from registry_util import Registry

from dockyard.image.base import StaticImage
from dockyard.image.build import file
from dockyard.transport import oci_layout
from dockyard.transport.oci_layout import RefName

sys.path.insert(0, os.fspath(Path(__file__).resolve().parents[1] / "unit" / "scan" / "sbom"))
from sbom_images import mixed_image

pytestmark = [pytest.mark.interop]


def _layout(path: Path, image: StaticImage) -> Path:
    oci_layout.write([(image, [RefName("app")])], path, as_tar=False)
    return path


def _blob_requests(registry: Registry) -> str:
    return " ".join(re.findall(r"/v2/sbom/app/blobs/sha256:[0-9a-f]{64}", registry.log_text()))


def test_sbom_from_a_registry(cli, registry: Registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base = mixed_image()
    cli("copy", f"oci:{_layout(tmp_path / 'a', base)}:app", f"docker://{registry.host}/sbom/app:1")
    remote = cli("sbom", f"docker://{registry.host}/sbom/app:1", "--format", "json")
    assert "✓ Indexed 11 packages" in remote.stderr
    assert cli("images", "-q").stdout == ""  # read, not stored
    cli("copy", f"oci:{tmp_path / 'a'}:app", "sbom/app:1")
    stored = cli("sbom", "sbom/app:1", "--format", "json")
    assert "✓ SBOM of image already cached, 11 packages indexed" in stored.stderr  # the same image ID
    assert json.loads(remote.stdout)["packages"] == json.loads(stored.stdout)["packages"]

    second = mixed_image(
        extra=[[file("app/node_modules/left-pad/package.json", b'{"name":"left-pad","version":"1.3.0"}')]]
    )
    cli("copy", f"oci:{_layout(tmp_path / 'b', second)}:app", f"docker://{registry.host}/sbom/app:2")
    before = len(_blob_requests(registry))
    out = cli("sbom", f"docker://{registry.host}/sbom/app:2", "--format", "json")
    fetched = _blob_requests(registry)[before:]
    names = {p["name"] for p in json.loads(out.stdout)["packages"]}
    assert {"left-pad", "flask", "expat"} <= names
    layers = second.manifest().layers
    assert str(layers[-1].digest) in fetched
    for old in layers[:-1]:
        assert str(old.digest) not in fetched
