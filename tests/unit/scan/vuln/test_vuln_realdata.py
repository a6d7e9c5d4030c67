"""Every real record of ../shared/osv-data, through the matcher: the fixed version is never affected, a version
below every fix is, and the 25 live PyPI records whose ranges do not parse are named in warnings and still match
through versions[] where they have one."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from vulndata import OSV_DATA, need

from dockyard.scan.package import Package
from dockyard.scan.vuln.db import VulnDB
from dockyard.scan.vuln.match import match
from dockyard.scan.vuln.versions import InvalidVersion, order_for


def _records(zpath: Path) -> list[dict[str, Any]]:
    with zipfile.ZipFile(need(zpath)) as zf:
        return [json.loads(zf.read(n)) for n in sorted(zf.namelist())]


@pytest.fixture(scope="module")
def alpine_db(tmp_path_factory: pytest.TempPathFactory) -> VulnDB:
    db = VulnDB(tmp_path_factory.mktemp("alpine") / "vuln.db")
    db.import_paths([need(OSV_DATA / "Alpine" / "all.zip")])
    return db


def test_every_alpine_fix_bounds_its_range(alpine_db: VulnDB) -> None:
    checked = 0
    for i, record in enumerate(_records(OSV_DATA / "Alpine" / "all.zip")):
        if i % 8:
            continue  # a spread eighth of the 2,432 records keeps this under a few seconds
        for entry in record["affected"]:
            eco, name = entry["package"]["ecosystem"], entry["package"]["name"]
            order = order_for(eco)
            assert order is not None
            fixes = sorted((e["fixed"] for e in entry["ranges"][0]["events"] if "fixed" in e), key=order)
            lowest = fixes[0]
            at_fix = match([Package(name, lowest, eco, "", "apk")], None, alpine_db)
            assert record["id"] not in {f.id for f in at_fix}, (record["id"], eco, lowest)
            below = match([Package(name, "0.0.1-r0", eco, "", "apk")], None, alpine_db)
            hit = [f for f in below if f.id == record["id"]]
            assert [(f.fixed_version, f.affected_range) for f in hit] == [(lowest, f"<{lowest}")], (record["id"], eco)
            checked += 1
    assert checked > 1000


def test_live_pypi_records_with_unparsable_ranges_match_through_versions(tmp_path: Path) -> None:
    records = _records(OSV_DATA / "PyPI" / "all.zip")
    order = order_for("PyPI")
    assert order is not None

    def unparsable(entry: dict[str, Any]) -> bool:
        for rng in entry.get("ranges", []):
            for event in rng["events"] if rng["type"] == "ECOSYSTEM" else []:
                for value in event.values():
                    try:
                        value == "0" or order(value)
                    except InvalidVersion:
                        return True
        return False

    broken = [(r, e) for r in records if not r.get("withdrawn") for e in r["affected"] if unparsable(e)]
    assert len({r["id"] for r, _ in broken}) == 25  # as osv-data/README.md counts them
    with VulnDB(tmp_path / "vuln.db") as db:
        db.import_paths([need(OSV_DATA / "PyPI" / "all.zip")])
        warned: list[str] = []
        listed_ok = 0
        for record, entry in broken:
            listed = entry.get("versions") or []
            pkg = Package(entry["package"]["name"], listed[0] if listed else "0.0.1", "PyPI", "", "python")
            found = {f.id for f in match([pkg], None, db, on_warning=warned.append)}
            if listed:  # what versions[] lists is affected, whatever the ranges say
                assert record["id"] in found, (record["id"], listed[0])
                listed_ok += 1
        assert listed_ok >= 2
        # each record whose range could not be read is named in a warning, never a crash
        named = {r["id"] for r, _ in broken if any(r["id"] in w for w in warned)}
        assert named == {r["id"] for r, _ in broken}
