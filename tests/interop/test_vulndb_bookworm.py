"""The matcher on the real Debian bookworm minbase image of the test fixtures, against the real bookworm records of
``../shared/osv-data/Debian/Debian-12``, with ``dpkg --compare-versions`` as the oracle for fixed ranges.

The packages are read here from the image's dpkg status (each binary package with its ``Source:`` name and
version), as the SBOM's dpkg cataloger gives them; the expectation is what the records say (5 of them are stale:
they say "unfixed" where bookworm has a fix, and are reported as unfixed)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from debian.deb822 import Deb822

from dockyard.scan.package import OS, Package
from dockyard.scan.vuln.db import VulnDB
from dockyard.scan.vuln.match import match

pytestmark = pytest.mark.interop

SHARED = Path(os.environ.get("DOCKYARD_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))
RECORDS = SHARED / "osv-data" / "Debian" / "Debian-12"
STALE = {"DEBIAN-CVE-2023-4911", "DEBIAN-CVE-2023-4039", "DEBIAN-CVE-2023-29383", "DEBIAN-CVE-2024-22365"}
STALE |= {"DEBIAN-CVE-2024-28834"}


def _installed(rootfs: Path) -> list[Package]:
    packages = []
    with open(rootfs / "var/lib/dpkg/status", encoding="utf-8") as f:
        for para in Deb822.iter_paragraphs(f):
            if para.get("Status", "").split()[-1:] != ["installed"]:
                continue
            m = re.match(r"(\S+)(?:\s+\((.+)\))?", para.get("Source", para["Package"]))
            assert m is not None
            version = para["Version"]
            source, source_version = m.group(1), m.group(2) or version
            purl = f"pkg:deb/debian/{para['Package']}@{version}?arch={para.get('Architecture', '')}&distro=debian-12"
            packages.append(Package(para["Package"], version, "Debian:12", purl, "dpkg", source, source_version))
    return packages


def _dpkg_lt(a: str, b: str) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", a, "lt", b], check=False).returncode == 0


def test_bookworm_findings_are_what_the_records_say(debian_rootfs: Path, tmp_path: Path) -> None:
    if shutil.which("dpkg") is None:
        pytest.skip("dpkg is not installed")
    if not RECORDS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{RECORDS} is missing")
        pytest.skip(f"{RECORDS} is missing")
    packages = _installed(debian_rootfs)
    assert len(packages) == 88  # debootstrap --variant=minbase bookworm
    expected: set[tuple[str, str, str | None]] = set()  # (binary package, record id, fixed version)
    for path in sorted(RECORDS.glob("*.json")):
        record = json.loads(path.read_text())
        for entry in record["affected"]:
            events = entry["ranges"][0]["events"]
            fixed = next((e["fixed"] for e in events if "fixed" in e), None)
            for pkg in packages:
                if pkg.source != entry["package"]["name"]:
                    continue
                if fixed is None or _dpkg_lt(pkg.source_version, fixed):
                    expected.add((pkg.name, record["id"], fixed))
    with VulnDB(tmp_path / "vuln.db") as db:
        assert db.import_paths([RECORDS]).skipped == []
        findings = match(packages, OS("debian", "12", "Debian:12"), db)
    got = {(f.package.name, f.id, f.fixed_version) for f in findings}
    assert got == expected
    assert len({f.package.match_name for f in findings}) >= 15  # many source packages, each via its binaries
    # the stale records are reported as the records say: unfixed
    assert STALE & {f.id for f in findings} == STALE & {i for _, i, _ in expected}
    assert all(f.fixed_version is None for f in findings if f.id in STALE)
    # urgency gives the severity: unimportant -> Low; "not yet assigned" -> no rating without a CVSS
    by_id = {f.id: f for f in findings}
    assert by_id["DEBIAN-CVE-2011-3374"].severity.value == "Low"
    assert by_id["DEBIAN-CVE-2011-3374"].severity_source.value == "distribution"
    assert by_id["DEBIAN-CVE-2023-4911"].severity.value == "Unknown"
