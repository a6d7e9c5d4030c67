"""The layer walker on the real Debian image: a dpkg status analyzer finds what ``dpkg-query`` finds.

The analyzer reads ``var/lib/dpkg/status`` as the walker hands it over (one pass per layer); the packages it
finds, after the applier merged the layers, must be exactly those ``dpkg-query --admindir=ROOTFS/var/lib/dpkg
-W`` lists on the same image unpacked by dockyard.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
from fixtures_util import OCI_TAG, require_tool

from dockyard.layers.apply import apply
from dockyard.layers.tarstream import LayerOpener
from dockyard.layers.unpack import unpack
from dockyard.layers.walk import FileInfo, Read, walk

pytestmark = [pytest.mark.interop]

STATUS = "var/lib/dpkg/status"


@dataclass(frozen=True, slots=True)
class Package:
    name: str
    version: str
    architecture: str


@dataclass(frozen=True)
class DpkgStatus:
    """The installed packages of a dpkg status file (``Status: install ok installed`` stanzas)."""

    name: str = "dpkg"
    version: int = 1

    def required(self, path: str, info: FileInfo) -> bool:
        return path == STATUS and info.kind == "file"

    def analyze(self, path: str, info: FileInfo, read: Read) -> Iterable[Hashable]:
        for stanza in read().decode("utf-8", "replace").split("\n\n"):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line[:1] not in (" ", "\t") and ":" in line:
                    key, _, value = line.partition(":")
                    fields[key] = value.strip()
            if fields.get("Package") and fields.get("Status", "").endswith(" installed"):
                yield Package(fields["Package"], fields.get("Version", ""), fields.get("Architecture", ""))


def _layers(layout: Path) -> list[tuple[str, LayerOpener]]:
    def blob(digest: str) -> Path:
        alg, _, hex_ = digest.partition(":")
        return layout / "blobs" / alg / hex_

    index = json.loads((layout / "index.json").read_text())
    (desc,) = [m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == OCI_TAG]
    manifest = json.loads(blob(desc["digest"]).read_text())
    config = json.loads(blob(manifest["config"]["digest"]).read_text())
    paths = [blob(layer["digest"]) for layer in manifest["layers"]]
    return [(d, (lambda p=p: open(p, "rb"))) for d, p in zip(config["rootfs"]["diff_ids"], paths, strict=True)]


def test_dpkg_analyzer_matches_dpkg_query(debian_two_layer_oci_layout: Path, tmp_path: Path) -> None:
    dpkg_query = require_tool("dpkg-query")
    layers = _layers(debian_two_layer_oci_layout)
    results = walk(layers, [DpkgStatus()])
    view = apply(results)
    found = {p for p in view.values("dpkg") if isinstance(p, Package)}
    # Every package was introduced by the base layer (the second layer does not touch dpkg's status).
    assert {f.diff_id for f in view.findings} == {layers[0][0]}

    rootfs = tmp_path / "rootfs"
    unpack([opener for _, opener in layers], rootfs)
    out = subprocess.run(
        [
            dpkg_query, f"--admindir={rootfs / 'var/lib/dpkg'}", "-W",
            "-f", "${db:Status-Status}\t${Package}\t${Version}\t${Architecture}\n",
        ],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    expected = {Package(*line.split("\t")[1:]) for line in out.splitlines() if line.startswith("installed\t")}
    assert len(expected) > 50  # a minbase bookworm has about 90
    assert found == expected
