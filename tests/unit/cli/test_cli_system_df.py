"""``system df``: Docker's columns, SIZE in the unit of ``images``' SIZE with each layer counted once; ``-v``
with Docker's per-image columns; ``--format``; the bytes on disk on a line of their own."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from dockyard.store.store import Store


def _table(text: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in text.strip().splitlines()]


def _image_sizes(cli: Any) -> dict[str, str]:
    rows = cli("images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}").stdout.split("\n")
    return dict(r.split(" ") for r in rows if r)


def test_one_image_df_size_is_images_size(cli: Any, samples_tar: Path) -> None:
    # the old code printed the blobs' bytes (compressed layers, configs, manifests) against images' unpacked size
    cli("load", "-q", "-i", samples_tar)
    cli("rmi", "dockyard/app")
    size = _image_sizes(cli)["dockyard/sample:1.0"]
    rows = _table(cli("system", "df").stdout.split("\n\n")[0])
    assert rows[0] == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert rows[1] == ["Images", "1", "0", size, f"{size} (100%)"]
    assert rows[2] == ["Containers", "0", "0", "0B", "0B"]


def test_shared_layers_count_once(samples: Any, dockyard_root: Path) -> None:
    # app holds sample's two layers and one more: each layer counted once makes df's SIZE app's SIZE
    sizes = _image_sizes(samples)
    rows = _table(samples("system", "df").stdout.split("\n\n")[0])
    assert rows[1][:4] == ["Images", "2", "0", sizes["dockyard/app:latest"]]
    with Store(dockyard_root) as store:
        du = store.disk_usage()
        by_name = {u.summary.tags[0].familiar(): u for u in du.per_image}
        app, base = by_name["dockyard/app:latest"], by_name["dockyard/sample:1.0"]
        assert du.size == app.size  # every layer of the store is one of app's
        assert base.shared_size == base.size and base.unique_size == 0
        assert app.shared_size == base.size and app.unique_size == app.size - base.size
        assert du.blob_bytes == sum(store.blobs.size(d) for d in store.blobs.all())
    out = samples("system", "df").stdout
    assert re.search(r"^Bytes on disk \(blobs as stored, compressed\): \S+, \S+ reclaimable$", out, re.M)


def test_a_container_makes_its_layers_active(samples: Any) -> None:
    samples("container", "create", "--name", "c1", "dockyard/sample:1.0")
    rows = _table(samples("system", "df").stdout.split("\n\n")[0])
    # sample's layers are held; app's own layer can go
    assert rows[1][:3] == ["Images", "2", "1"] and rows[1][4] != "0B (0%)"
    assert rows[2][:2] == ["Containers", "1"]
    samples("container", "create", "--name", "c2", "dockyard/app")
    rows = _table(samples("system", "df").stdout.split("\n\n")[0])
    assert rows[1][2:] == ["2", rows[1][3], "0B (0%)"]


def test_verbose_has_dockers_per_image_columns(samples: Any) -> None:
    samples("container", "create", "--name", "c1", "dockyard/app")
    out = samples("system", "df", "-v").stdout
    assert out.startswith("Images space usage:\n\n")
    sections = out.split("\n\n")
    images = _table(sections[1])
    assert images[0] == [
        "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS",
    ]  # fmt: skip
    sizes = _image_sizes(samples)
    app = next(r for r in images if r[0] == "dockyard/app")
    base = next(r for r in images if r[0] == "dockyard/sample")
    assert app[4] == sizes["dockyard/app:latest"] and app[7] == "1"
    assert base[4] == base[5] == sizes["dockyard/sample:1.0"] and base[6] == "0B" and base[7] == "0"
    assert "Containers space usage:" in out
    containers = _table(sections[3])
    assert containers[0][:4] == ["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES"]
    assert containers[1][1] == "dockyard/app" and containers[1][-1] == "c1"


def test_formats(samples: Any) -> None:
    lines = samples("system", "df", "--format", "json").stdout.splitlines()
    docs = [json.loads(line) for line in lines]
    assert [d["Type"] for d in docs] == ["Images", "Containers", "Local Volumes", "Build Cache"]
    assert all(list(d) == ["Active", "Reclaimable", "Size", "TotalCount", "Type"] for d in docs)
    rows = samples("system", "df", "--format", "{{.Type}}={{.TotalCount}}").stdout
    assert rows == "Images=2\nContainers=0\nLocal Volumes=0\nBuild Cache=0\n"
    table = _table(samples("system", "df", "--format", "table {{.Type}}\t{{.Size}}").stdout)
    assert table[0] == ["TYPE", "SIZE"] and table[1][0] == "Images"
    verbose = json.loads(samples("system", "df", "-v", "--format", "json").stdout)
    assert sorted(verbose) == ["BuildCache", "Containers", "Images", "Volumes"]
    assert sorted(i["Repository"] for i in verbose["Images"]) == ["dockyard/app", "dockyard/sample"]
    assert all(len(i["ID"]) == 71 for i in verbose["Images"])  # docker/cli: no truncation outside tables
