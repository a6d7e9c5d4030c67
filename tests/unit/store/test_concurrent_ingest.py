"""Dedup by diff_id holds under concurrency: two writers bringing the same layer in two forms leave one copy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dockyard.image.build import build_image, file
from dockyard.oci.digest import Digest
from dockyard.store.store import Store
from dockyard.transport import docker_archive, oci_layout


def test_plain_and_gzip_loads_at_once_keep_one_copy(tmp_path: Path, dockyard_root: Path) -> None:
    payload = os.urandom(24 << 20)
    image = build_image([[file("big.bin", payload)]], compression="gzip")
    plain = tmp_path / "plain.tar"
    docker_archive.write([(image, ["same:plain"])], plain)  # the layer as a plain tar
    layout = tmp_path / "gz"
    oci_layout.write([(image, ["docker.io/library/same:gz"])], layout, as_tar=False)  # the layer gzip-compressed
    diff_id = str(image.config().diff_ids[0])
    for attempt in range(3):
        root = dockyard_root / str(attempt)
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "dockyard", "--root", str(root), "load", "-q", "-i", str(src)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for src in (plain, layout)
        ]
        for proc in procs:
            _out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
        with Store(root) as store:
            row = store.layer(diff_id)
            assert row is not None
            layer_blobs = [
                d for d in store.blobs.all() if store.blobs.size(d) > (4 << 20)
            ]  # configs and manifests are small
            assert layer_blobs == [Digest.parse(row.blob_digest)], f"attempt {attempt}: {layer_blobs}"
            report = store.check()
            assert report.ok, report.problems
            assert report.unreferenced_blobs == []
            assert {t for _r, t, _i in store.tags()} == {"plain", "gz"}
