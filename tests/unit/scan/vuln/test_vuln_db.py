"""The OSV database: real data imports cleanly, newer records replace older ones, bad input is named, and a
killed import leaves the old database usable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from vulndata import OSV_DATA, OSV_SAMPLES, need, write_records

from dockyard.scan.vuln.db import VulnDB


def _record(rid: str, modified: str, fixed: str = "1.0-r1", name: str = "pkg", **extra: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "id": rid,
        "modified": modified,
        "affected": [
            {
                "package": {"ecosystem": "Alpine:v3.19", "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
            }
        ],
    }
    rec.update(extra)
    return rec


def test_real_osv_data_imports_cleanly(vdb: VulnDB) -> None:
    result = vdb.import_paths(
        [need(OSV_DATA / "PyPI" / "all.zip"), need(OSV_DATA / "Alpine" / "all.zip"), need(OSV_DATA / "Debian")]
    )
    assert result.skipped == []
    assert result.warnings == []
    assert result.added == 7080 + 2432 + 758
    # the four upstream records whose only schema errors are malformed GIT commits are kept, and named
    assert sorted(s.name for s in result.tolerated) == [
        "PYSEC-2017-27",
        "PYSEC-2019-155",
        "PYSEC-2021-371",
        "PYSEC-2023-80",
    ]
    counts = {s.ecosystem: s.records for s in vdb.status()}
    assert counts == {"Alpine": 2432, "Debian": 758, "PyPI": 7080}
    assert all(s.imported_at is not None for s in vdb.status())
    sources = {s.ecosystem: s.source for s in vdb.status()}
    assert sources["PyPI"] == str(OSV_DATA / "PyPI" / "all.zip")
    assert sources["Debian"] == str(OSV_DATA / "Debian")
    # indexed by (ecosystem, name); PyPI names PEP 503-normalised on both sides
    assert "PYSEC-2020-176" in {r.id for r in vdb.candidates("PyPI", "PyYAML")}
    assert {r.id for r in vdb.candidates("PyPI", "pyyaml")} == {r.id for r in vdb.candidates("PyPI", "PyYAML")}
    assert len(vdb.candidates("Alpine:v3.11", "musl")) > 0


def test_real_osv_samples_import_cleanly(vdb: VulnDB) -> None:
    folders = [p for p in sorted(need(OSV_SAMPLES).iterdir()) if p.is_dir()]
    result = vdb.import_paths(folders)
    assert result.skipped == [] and result.tolerated == [] and result.warnings == []
    # 37 files; some ids appear in two folders (the osv-scanner GIT/ copies of PyPI records)
    assert result.read == 37
    assert vdb.count() == 37 - result.unchanged - result.older - result.replaced


def test_newer_modified_replaces_and_older_is_ignored(vdb: VulnDB, tmp_path: Path) -> None:
    first = write_records(tmp_path / "a", _record("ALPINE-CVE-2024-0001", "2024-01-01T00:00:00Z", "1.0-r1"))
    vdb.import_paths([first])
    newer = write_records(tmp_path / "b", _record("ALPINE-CVE-2024-0001", "2024-02-01T00:00:00.5Z", "1.0-r2"))
    result = vdb.import_paths([newer])
    assert (result.added, result.replaced) == (0, 1)
    stored = vdb.get("ALPINE-CVE-2024-0001")
    assert stored is not None
    assert stored.data["affected"][0]["ranges"][0]["events"][1] == {"fixed": "1.0-r2"}
    older = write_records(tmp_path / "c", _record("ALPINE-CVE-2024-0001", "2023-12-31T00:00:00Z", "9.9-r9"))
    result = vdb.import_paths([older])
    assert (result.added, result.replaced, result.older) == (0, 0, 1)
    stored = vdb.get("ALPINE-CVE-2024-0001")
    assert stored is not None and stored.data["modified"] == "2024-02-01T00:00:00.5Z"
    # a replaced record's package rows are replaced too, not added to
    renamed = write_records(
        tmp_path / "d", _record("ALPINE-CVE-2024-0001", "2024-03-01T00:00:00Z", "1.0-r3", name="other")
    )
    vdb.import_paths([renamed])
    assert vdb.candidates("Alpine:v3.19", "pkg") == []
    assert [r.id for r in vdb.candidates("Alpine:v3.19", "other")] == ["ALPINE-CVE-2024-0001"]


def test_a_zip_that_is_not_osv_is_named_never_a_crash(vdb: VulnDB, tmp_path: Path) -> None:
    not_zip = tmp_path / "all.zip"
    not_zip.write_bytes(b"<html>not found</html>")
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("package.json", json.dumps({"name": "left-pad", "version": "1.3.0"}))
        zf.writestr("broken.json", "{not json")
        zf.writestr("README.md", "hello")
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("notes.txt", "nothing")
    result = vdb.import_paths([not_zip, other, empty])
    assert result.read == 0 and vdb.count() == 0
    assert any(str(not_zip) in w and "not an OSV zip" in w for w in result.warnings)
    assert any(str(empty) in w for w in result.warnings)
    assert {s.name for s in result.skipped} == {"package.json", "broken.json"}
    assert any("not JSON" in s.reason for s in result.skipped)


def test_broken_range_and_unknown_ecosystem_are_skipped_and_named(vdb: VulnDB, tmp_path: Path) -> None:
    broken = _record("ALPINE-CVE-2024-0002", "2024-01-01T00:00:00Z")
    broken["affected"][0]["ranges"][0]["events"] = [{"fixed": "1.0-r1"}]  # no introduced
    unknown = _record("ALPINE-CVE-2024-0003", "2024-01-01T00:00:00Z")
    unknown["affected"][0]["package"]["ecosystem"] = "Plan9"
    good = _record("ALPINE-CVE-2024-0004", "2024-01-01T00:00:00Z")
    result = vdb.import_paths([write_records(tmp_path / "in", broken, unknown, good)])
    assert result.added == 1
    reasons = {s.name: s.reason for s in result.skipped}
    assert set(reasons) == {"ALPINE-CVE-2024-0002", "ALPINE-CVE-2024-0003"}
    assert "introduced" in reasons["ALPINE-CVE-2024-0002"]
    assert "Plan9" in reasons["ALPINE-CVE-2024-0003"]


_SLOW_IMPORT = """
import sys, time
from pathlib import Path
from dockyard.scan.vuln.db import VulnDB
db = VulnDB(Path(sys.argv[1]))
def slow(n):
    if n == 50:
        print("importing", flush=True)
    if n > 50:
        time.sleep(0.001)
db.import_paths([Path(sys.argv[2])], on_record=slow)
print("finished", flush=True)
"""


def test_a_killed_import_leaves_the_old_database_usable(tmp_path: Path) -> None:
    path = tmp_path / "vuln.db"
    old = write_records(tmp_path / "old", _record("ALPINE-CVE-2024-0001", "2024-01-01T00:00:00Z"))
    with VulnDB(path) as db:
        db.import_paths([old])
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_IMPORT, str(path), str(need(OSV_DATA / "PyPI" / "all.zip"))],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "importing"
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL  # killed in the middle, not finished
    with VulnDB(path) as db:
        assert db.count() == 1
        assert {s.ecosystem: s.records for s in db.status()} == {"Alpine": 1}
        assert [r.id for r in db.candidates("Alpine:v3.19", "pkg")] == ["ALPINE-CVE-2024-0001"]
        assert db.candidates("PyPI", "django") == []
        # and it takes the next import
        result = db.import_paths(
            [write_records(tmp_path / "new", _record("ALPINE-CVE-2024-0009", "2024-01-01T00:00:00Z"))]
        )
        assert result.added == 1 and db.count() == 2


def test_store_paths_name_the_database(tmp_path: Path) -> None:
    from dockyard.scan.vuln.db import default_path
    from dockyard.store.paths import StorePaths

    assert StorePaths(tmp_path).vuln_db == tmp_path / "vuln.db"
    assert default_path(tmp_path) == tmp_path / "vuln.db"


@pytest.mark.parametrize("shape", ["dir", "file"])
def test_single_files_and_folders(vdb: VulnDB, tmp_path: Path, shape: str) -> None:
    folder = write_records(tmp_path / "in", _record("ALPINE-CVE-2024-0001", "2024-01-01T00:00:00Z"))
    target = folder if shape == "dir" else folder / "ALPINE-CVE-2024-0001.json"
    assert vdb.import_paths([target]).added == 1


def test_a_second_writer_waits_then_fails_cleanly(tmp_path: Path) -> None:
    import sqlite3

    from dockyard.scan.vuln.db import VulnDBError

    path = tmp_path / "vuln.db"
    folder = write_records(tmp_path / "in", _record("ALPINE-CVE-2024-0001", "2024-01-01T00:00:00Z"))
    with VulnDB(path) as db:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another import in progress
        db._conn.execute("PRAGMA busy_timeout=100")
        with pytest.raises(VulnDBError, match="nothing was imported"):
            db.import_paths([folder])
        holder.execute("ROLLBACK")
        holder.close()
        assert db.import_paths([folder]).added == 1
