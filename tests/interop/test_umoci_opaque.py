"""The app:v2 image made by ``umoci insert --opaque`` (issue 8 item 2), read by dockyard and by umoci.

umoci 0.4.7's ``insert`` writes its layer with the last member's data unpadded and no end-of-archive
blocks. Go's archive/tar (umoci, podman, Docker) reads that; so must every dockyard path: load, system check,
unpack (compared with ``umoci unpack`` file by file) and export.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from fixtures_util import OCI_TAG, require_root, require_tool

from dockyard import rootfs
from dockyard.layers.tree import diff, snapshot
from dockyard.oci import reference as refs
from dockyard.store.store import Store
from dockyard.transport import oci_layout

pytestmark = [pytest.mark.interop]

APP_FILES = {"app.conf": b"answer = 42\n", "sub/data": b"x\n"}  # the last member: 2 bytes, unpadded


def _umoci(*args: object) -> None:
    proc = subprocess.run([require_tool("umoci"), *map(str, args)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"umoci {' '.join(map(str, args))} failed:\n{proc.stderr}"


def _blob(layout: Path, digest: str) -> Path:
    alg, _, hex_ = digest.partition(":")
    return layout / "blobs" / alg / hex_


@pytest.fixture(scope="module")
def app_v2(debian_oci_layout: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The layout (Debian as ``bookworm``, plus ``v2`` = Debian + an opaque /etc/apt) and umoci's rootfs of v2."""
    require_root("umoci unpack of the Debian root filesystem (device nodes, owners)")
    tmp = tmp_path_factory.mktemp("umoci-opaque")
    layout = tmp / "L"
    shutil.copytree(debian_oci_layout, layout, symlinks=True)
    _umoci("tag", "--image", f"{layout}:{OCI_TAG}", "v2")
    src = tmp / "src"
    for rel, data in APP_FILES.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    _umoci("insert", "--opaque", "--image", f"{layout}:v2", src, "/etc/apt")
    bundle = tmp / "B"
    _umoci("unpack", "--image", f"{layout}:v2", bundle)
    return layout, bundle / "rootfs"


def _v2_layers(layout: Path) -> list[Path]:
    index = json.loads((layout / "index.json").read_text())
    (desc,) = [m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == "v2"]
    manifest = json.loads(_blob(layout, desc["digest"]).read_text())
    return [_blob(layout, layer["digest"]) for layer in manifest["layers"]]


def test_the_umoci_layer_really_ends_short(app_v2: tuple[Path, Path]) -> None:
    layout, _ = app_v2
    top = gzip.decompress(_v2_layers(layout)[-1].read_bytes())
    assert len(top) % 512 == len(APP_FILES["sub/data"])  # data unpadded ...
    assert top.endswith(APP_FILES["sub/data"])  # ... and nothing after it: no end-of-archive blocks


def test_load_check_unpack_export_match_umoci(app_v2: tuple[Path, Path], tmp_path: Path) -> None:
    layout, umoci_rootfs = app_v2
    store = Store(tmp_path / "store")
    try:
        (entry,) = [e for e in oci_layout.read(layout) if e.ref_name == "v2"]
        store.ingest(entry.image, [refs.parse("app:v2")])
        ref = "app:v2"
        report = store.check()
        assert report.ok, report.problems
        dest = tmp_path / "rootfs"
        rootfs.unpack(store, ref, dest, devices=True)
        ours, theirs = snapshot(dest), snapshot(umoci_rootfs)
        assert diff(theirs, ours) == []
        assert ours == theirs
        # The opaque insert: Debian's /etc/apt is gone, only the inserted files are there.
        apt = sorted(p for p in ours if p.startswith("etc/apt/"))
        assert apt == ["etc/apt/app.conf", "etc/apt/sub", "etc/apt/sub/data"]
        out = tmp_path / "rootfs.tar"
        rootfs.export(store, ref, out)
        with tarfile.open(out) as t:
            names = {m.name.rstrip("/") for m in t}
            assert t.extractfile("etc/apt/sub/data").read() == APP_FILES["sub/data"]  # type: ignore[union-attr]
        assert names == {p for p in ours if p != "."}
    finally:
        store.close()


def test_layers_match_go_reading(app_v2: tuple[Path, Path]) -> None:
    """The top layer's members and bytes, as dockyard's reader gives them, are what umoci wrote."""
    layout, umoci_rootfs = app_v2
    from dockyard.layers.limits import Limits
    from dockyard.layers.tarstream import open_layer

    top = _v2_layers(layout)[-1]
    with open_layer(lambda: open(top, "rb"), Limits.from_env()) as reader:
        files = {h.name.removeprefix("./"): b"".join(reader.chunks()) for h in reader if h.kind == "file"}
    assert files["etc/apt/sub/data"] == APP_FILES["sub/data"] == (umoci_rootfs / "etc/apt/sub/data").read_bytes()
    assert os.path.exists(umoci_rootfs / "etc/apt/app.conf")
