"""Docker's rules where repository digests, odd names and damaged input meet the store and the CLI."""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from dockyard.archive import save_plan
from dockyard.errors import ContainerNotFound, InvalidReference
from dockyard.image.build import build_image, file, symlink
from dockyard.image.sample import app_image, base_image
from dockyard.oci import reference as refs
from dockyard.store.schema import SCHEMA_VERSION
from dockyard.store.store import Store
from dockyard.transport import docker_archive

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def _r(*texts: str) -> list[refs.Reference]:
    return [refs.parse(t) for t in texts]


@pytest.fixture
def store(dockyard_root: Path) -> Any:
    s = Store(dockyard_root)
    yield s
    s.close()


def _rows(cli: Any, *args: str) -> list[str]:
    fmt = "{{.Repository}} {{.Tag}} {{.Digest}} {{.ID}}"
    return cli("images", "--format", fmt, *args).stdout.splitlines()


def test_digest_only_image_is_dangling_and_pruned(store: Store, cli: Any) -> None:
    pulled = store.ingest(base_image(), repo_digests=_r(f"ghcr.io/x/base@{D1}")).image_id
    store.ingest(app_image(), _r("app:1"))
    summary = next(s for s in store.summaries() if s.id == pulled)
    assert summary.dangling  # no tag: dangling, as Docker's filter and prune see it
    # a template that names .Digest shows the digest rows without --digests, as docker/cli does
    assert _rows(cli, "--filter", "dangling=true") == [f"ghcr.io/x/base <none> {D1} {pulled.short}"]
    plain = cli("images", "--format", "{{.Repository}} {{.Tag}} {{.ID}}", "--filter", "dangling=true").stdout
    assert plain == f"ghcr.io/x/base <none> {pulled.short}\n"
    assert _rows(cli, "--filter", "dangling=true", "--digests") == [f"ghcr.io/x/base <none> {D1} {pulled.short}"]
    out = cli("image", "prune", "-f").stdout
    assert f"untagged: ghcr.io/x/base@{D1}\n" in out and f"deleted: {pulled}\n" in out
    assert [s.id for s in store.summaries()] != [pulled]
    assert store.check().ok


def test_rows_follow_docker_cli_grouping(store: Store, cli: Any) -> None:
    image_id = store.ingest(
        base_image(), _r("debian:12", "debian:bookworm"), repo_digests=_r(f"debian@{D1}", f"mirror.io/debian@{D1}")
    ).image_id
    short = image_id.short
    # without --digests: one row per tag, digest <none>; a repository known only by digest gets one row
    plain = cli("images", "--format", "{{.Repository}} {{.Tag}} {{.ID}} {{.Repository}}").stdout.splitlines()
    assert sorted(plain) == [
        f"debian 12 {short} debian",
        f"debian bookworm {short} debian",
        f"mirror.io/debian <none> {short} mirror.io/debian",
    ]
    assert sorted(_rows(cli)) == sorted(_rows(cli, "--digests"))  # a template naming .Digest shows them
    assert sorted(_rows(cli, "--digests")) == [
        f"debian 12 {D1} {short}",
        f"debian bookworm {D1} {short}",
        f"mirror.io/debian <none> {D1} {short}",
    ]
    store.ingest(base_image(), repo_digests=_r(f"mirror.io/debian@{D2}"))
    assert sorted(r for r in _rows(cli, "--digests") if r.startswith("mirror.io")) == [
        f"mirror.io/debian <none> {D1} {short}",
        f"mirror.io/debian <none> {D2} {short}",
    ]
    # a reference filter keeps only the matching references of an image
    assert _rows(cli, "mirror.io/debian") == [f"mirror.io/debian <none> {d} {short}" for d in (D1, D2)]
    assert cli("images", "mirror.io/debian").stdout.splitlines()[1].split()[:3] == ["mirror.io/debian", "<none>", short]
    # Go's JSON escapes < and >; keys are sorted
    line = cli("images", "--format", "json", "debian:12").stdout.splitlines()[0]
    assert '"Digest":"\\u003cnone\\u003e"' in line
    assert list(json.loads(line)) == sorted(json.loads(line))
    assert cli("images", "-q").stdout.splitlines() == [short] * 3


def test_rmi_of_last_tag_drops_the_repository_digests(store: Store) -> None:
    store.ingest(base_image(), _r("debian:12"), repo_digests=_r(f"debian@{D1}", f"other/x@{D2}"))
    records = [(r.kind, r.value) for r in store.remove("debian:12")]
    assert records == [("Untagged", "debian:12"), ("Untagged", f"debian@{D1}")]  # other/x still holds it
    records = [(r.kind, r.value) for r in store.remove(f"other/x@{D2}")]
    assert records[0] == ("Untagged", f"other/x@{D2}") and records[1][0] == "Deleted"
    assert store.summaries() == []


def test_save_plan_follows_parse_names(store: Store) -> None:
    base = store.ingest(base_image(), _r("debian:12")).image_id
    app = store.ingest(app_image(), repo_digests=_r(f"debian@{D1}")).image_id
    plan = save_plan(store, ["debian"])  # every reference of the repository: tags named, digests untagged
    assert [(img.manifest().config.digest, names) for img, names in plan] == [(base, ["debian:12"]), (app, [])]
    plan = save_plan(store, [f"sha256:{str(base)[7:19]}"])  # sha256:PREFIX is an ID search, never a tag
    assert [(img.manifest().config.digest, names) for img, names in plan] == [(base, [])]


def test_ambiguous_sha256_names_are_refused(store: Store, cli: Any, tmp_path: Path) -> None:
    store.ingest(base_image(), _r("debian:12"))
    with pytest.raises(InvalidReference, match="ambiguous tag using digest algorithm as name"):
        store.tag("debian:12", "sha256:abc")
    archive = tmp_path / "odd.tar"
    with open(archive, "wb") as f:
        docker_archive.write([(app_image(), ["sha256:abc"])], f)
    res = cli("load", "-i", archive, check=False)
    assert res.returncode == 1 and "ambiguous tag using digest algorithm as name" in res.stderr
    assert len(store.summaries()) == 1  # nothing loaded


def test_container_rm_takes_no_wildcards(store: Store) -> None:
    store.ingest(base_image(), _r("debian:12"))
    row = store.container_create("debian:12", name="web")
    for pattern in ("_", "%", "_%"):
        with pytest.raises(ContainerNotFound):
            store.container_remove(pattern)
    assert store.container_remove(row.id[:5]).id == row.id


def test_history_before_2000_and_json_keys(store: Store, cli: Any) -> None:
    image = build_image([[file("a", "x")]], created="1970-01-01T00:00:00Z")  # reproducible builds use the epoch
    store.ingest(image, _r("repro:1"))
    assert cli("history", "--format", "{{.CreatedSince}}", "repro:1").stdout == "N/A\n"
    doc = json.loads(cli("history", "--format", "json", "repro:1").stdout)
    assert list(doc) == ["Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size"]
    assert doc["CreatedAt"] == "1970-01-01T00:00:00Z"


def test_size_is_file_bytes_not_tar_length(store: Store, cli: Any) -> None:
    image = build_image([[file("a", b"x" * 1000), symlink("l", "a" * 50)], [file("b", b"y" * 10)]])
    store.ingest(image, _r("sized:1"))
    doc = json.loads(cli("inspect", "sized:1").stdout)[0]
    assert doc["Size"] == 1060
    sizes = cli("history", "-H=false", "--format", "{{.Size}}", "sized:1").stdout.split()
    assert sizes == ["10", "1050"]


def test_store_from_schema_4_counts_build_step_uses(store: Store, dockyard_root: Path) -> None:
    store.record_build_step("sha256:" + "a" * 64, "RUN true # buildkit")
    store.meta.conn.execute("ALTER TABLE build_cache DROP COLUMN usage_count")
    store.meta.conn.execute("PRAGMA user_version = 4")
    store.close()
    with Store(dockyard_root) as again:
        assert again.meta.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert [row.usage_count for row in again.meta.cache_steps()] == [1]
        row = again.build_step("sha256:" + "a" * 64)
        assert row is not None and row.usage_count == 2
        assert [row.usage_count for row in again.meta.cache_steps()] == [2]


def test_store_from_schema_1_is_migrated(store: Store, dockyard_root: Path) -> None:
    store.ingest(base_image(), _r("debian:12"))
    size = store.summaries()[0].size
    store.meta.conn.execute("ALTER TABLE layers DROP COLUMN content_size")
    store.meta.conn.execute("PRAGMA user_version = 1")
    store.close()
    with Store(dockyard_root) as again:
        assert again.meta.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert again.summaries()[0].size == size
        assert all(row.content_size == row.size for row in again.meta.layers())  # unknown: the tar length
        assert again.check().ok


def test_damaged_database_is_one_line(cli: Any, dockyard_root: Path) -> None:
    cli("images")
    (dockyard_root / "metadata.db").write_bytes(b"this is not a database" * 100)
    for name in ("metadata.db-wal", "metadata.db-shm"):
        (dockyard_root / name).unlink(missing_ok=True)
    res = cli("images", check=False)
    assert res.returncode == 1
    assert res.stderr.count("\n") == 1 and "database" in res.stderr and "Traceback" not in res.stderr


def test_truncated_compressed_archive_is_one_line(cli: Any, tmp_path: Path) -> None:
    raw = tmp_path / "a.tar"
    with open(raw, "wb") as f:
        docker_archive.write([(base_image(), ["debian:12"])], f)
    packed = gzip.compress(raw.read_bytes())
    bad = tmp_path / "cut.tar.gz"
    bad.write_bytes(packed[: len(packed) // 3])
    res = cli("load", "-i", bad, check=False)
    assert res.returncode == 1 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert cli("images", "-q").stdout == ""


def test_sqlite_is_really_sqlite(dockyard_root: Path, store: Store) -> None:
    # the metadata file is an ordinary SQLite database in WAL mode with synchronous FULL
    assert store.meta.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.meta.conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    with sqlite3.connect(dockyard_root / "metadata.db") as other:
        assert other.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 0
