"""``dockyard db push|pull``: the OSV database as an OCI artifact in a real Distribution registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from registry_util import Registry, skopeo_inspect

from dockyard.scan import sample

pytestmark = pytest.mark.interop


def test_push_then_pull_into_another_store(cli: Any, registry: Registry, tmp_path: Path) -> None:
    ref = f"{registry.host}/osv/db:1"
    cli("db", "import", str(sample.write_osv(tmp_path / "osv")))
    pushed = cli("db", "push", ref).stdout
    assert pushed.startswith("Pushed 4 records") and "@sha256:" in pushed
    raw = skopeo_inspect(f"docker://{ref}", raw=True)
    assert raw["artifactType"] == "application/vnd.dockyard.osv.db.v1"
    assert [layer["mediaType"] for layer in raw["layers"]] == ["application/vnd.dockyard.osv.db.v1.sqlite3+zstd"]
    digest = pushed.strip().rsplit("@", 1)[1]
    other = ["--root", str(tmp_path / "other")]
    pulled = cli(*other, "db", "pull", f"{registry.host}/osv/db@{digest}").stdout
    assert pulled.startswith("Pulled 4 records") and digest in pulled
    mine = json.loads(cli("db", "status", "--format", "json").stdout)
    theirs = json.loads(cli(*other, "db", "status", "--format", "json").stdout)
    assert theirs["Records"] == mine["Records"] == 4
    assert [(e["Ecosystem"], e["Records"]) for e in theirs["Ecosystems"]] == [
        (e["Ecosystem"], e["Records"]) for e in mine["Ecosystems"]
    ]


def test_pull_of_something_else_leaves_the_database_as_it_was(cli: Any, registry: Registry, tmp_path: Path) -> None:
    cli("db", "import", str(sample.write_osv(tmp_path / "osv")))
    archive = tmp_path / "img.tar"
    from dockyard.transport import docker_archive

    docker_archive.write([(sample.base_image(), ["python:3-alpine"])], archive)
    cli("load", "-q", "-i", str(archive))
    cli("tag", "python:3-alpine", f"{registry.host}/osv/not-a-db:1")
    cli("push", "-q", f"{registry.host}/osv/not-a-db:1")
    def status() -> Any:
        doc = json.loads(cli("db", "status", "--format", "json").stdout)
        return doc["Records"], [(e["Ecosystem"], e["Records"], e["ImportedAt"]) for e in doc["Ecosystems"]]

    before = status()
    res = cli("db", "pull", f"{registry.host}/osv/not-a-db:1", check=False)
    assert res.returncode == 1 and "is not a dockyard vulnerability database" in res.stderr
    assert res.stderr.count("\n") == 1
    assert status() == before
