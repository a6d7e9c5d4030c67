"""Trivy 0.76 as the matching peer: dockyard's findings (``db import`` of OSV records, then ``scout cves --format
json``) equal Trivy's (``trivy image --scanners vuln``, fully offline) on a database written from the same records
(tests/trivydb.py): on an image of real Python packages, on the real Debian bookworm minbase image and on an Alpine
3.11 image of real releases against the real Alpine records (for the two OS images, fixed versions compared too).

Differences that remain are rules where dockyard follows the OSV rules and Trivy does not; each is asserted:

- **non-PEP 440 version**: trivy-db turns every ``versions[]`` entry outside the ranges into an ``=V`` constraint and
  Trivy ORs an advisory's constraints into one PEP 440 specifier set; one unparseable version (``0.7.1.fix1`` in
  ipython's records, ``0.3.2d`` in joblib's) makes the set fail to parse and Trivy drops the whole advisory. dockyard
  skips only what it cannot parse and still evaluates the ranges: it reports the vulnerability.
- **several ``last_affected``**: trivy-db sets a range's end at each event in the record's order, so the last of
  several ``last_affected`` events wins (``mariadb``: ``<=3.4.8`` after ``3.3.18``); the OSV rules sort the events and
  the lowest one ends the range. dockyard does not report 3.4.0; Trivy does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
from fixtures_util import offline_prefix, peer_tool
from packaging.version import InvalidVersion, Version

from dockyard.image.build import build_image, file
from dockyard.transport import docker_archive

sys.path.insert(0, os.fspath(Path(__file__).resolve().parents[1]))
from trivydb import normalize_pypi, read_bolt, write_trivy_db

pytestmark = pytest.mark.interop

SHARED = Path(os.environ.get("DOCKYARD_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))
OSV = SHARED / "osv-data"
SITE = "usr/lib/python3.11/site-packages"

# Real releases that real PYSEC records affect (and two that show the documented differences).
PYTHON_PACKAGES = [
    ("Django", "3.2.0"),
    ("requests", "2.19.0"),
    ("urllib3", "1.24.1"),
    ("Jinja2", "2.10"),
    ("PyYAML", "5.3"),
    ("Pillow", "8.0.0"),
    ("Flask", "0.12"),
    ("cryptography", "3.2"),
    ("Werkzeug", "0.15.0"),
    ("setuptools", "65.0.0"),
    ("ipython", "7.16.0"),  # non-PEP 440 versions[] in its records: Trivy drops them
    ("joblib", "1.1.0"),  # the same (0.3.2d)
    ("mariadb", "3.4.0"),  # last_affected 3.3.18 then 3.4.8: Trivy takes 3.4.8
    ("avif", "0.8.1"),  # last_affected 0.8.0 then 0.8.1
]
DIST_INFO = "Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: a package\n"

Finding = tuple[str, ...]  # (package, installed version, record ID[, fixed version or ""])


def _need(path: Path) -> None:
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing")
        pytest.skip(f"{path} is missing")


def trivy_findings(archive: Path, cache: Path, *, fixed: bool = False) -> set[Finding]:
    proc = subprocess.run(
        [
            *offline_prefix(), peer_tool("trivy"), "image", "--input", os.fspath(archive), "--format", "json",
            "--scanners", "vuln", "--skip-version-check", "--disable-telemetry", "--skip-db-update",
            "--offline-scan", "--cache-dir", os.fspath(cache), "--quiet",
        ],
        check=True, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    doc = json.loads(proc.stdout)
    return {
        (v["PkgName"], v["InstalledVersion"], v["VulnerabilityID"], *([v.get("FixedVersion", "")] if fixed else []))
        for result in doc.get("Results") or []
        for v in result.get("Vulnerabilities") or []
    }


def dockyard_findings(cli: Any, archive: Path, *sources: Path, fixed: bool = False) -> set[Finding]:
    cli("db", "import", *sources)
    proc = cli("scout", "cves", "--format", "json", f"docker-archive:{archive}")
    return {
        (p["package"], p["version"], v["record"], *([v["fixed_version"] or ""] if fixed else []))
        for p in json.loads(proc.stdout)
        for v in p["vulnerabilities"]
    }


def _zip_records(path: Path) -> list[dict[str, Any]]:
    with zipfile.ZipFile(path) as z:
        return [json.loads(z.read(n)) for n in z.namelist() if n.endswith(".json")]


def _pep440(version: str) -> bool:
    try:
        Version(version)
    except InvalidVersion:
        return False
    return True


def _affected(records: Iterable[Mapping[str, Any]], rid: str, package: str) -> Mapping[str, Any]:
    record = next(r for r in records if r["id"] == rid)
    return next(a for a in record["affected"] if normalize_pypi(a["package"]["name"]) == normalize_pypi(package))


def _drops_non_pep440(affected: Mapping[str, Any]) -> bool:
    """Trivy's rule: one version of the advisory that is not PEP 440 drops it."""
    events = [v for r in affected.get("ranges", []) if r["type"] != "GIT" for e in r["events"] for v in e.values()]
    return any(not _pep440(v) for v in [*events, *affected.get("versions", [])] if v != "0")


def _several_last_affected(affected: Mapping[str, Any], version: str) -> bool:
    """Trivy's rule: the last of several ``last_affected`` ends the range, where OSV takes the lowest."""
    for rng in affected.get("ranges", []):
        last = [Version(e["last_affected"]) for e in rng["events"] if "last_affected" in e]
        if len(last) > 1 and min(last) < Version(version) <= last[-1]:
            return True
    return False


def test_the_written_db_reads_back(tmp_path: Path) -> None:
    """The re-read check of the bbolt writer, on a tree big enough for branch pages and an overflowing value."""
    records = [
        {
            "id": f"PYSEC-0000-{i}",
            "summary": "x" * (9000 if i == 7 else 10),
            "affected": [{"package": {"ecosystem": "PyPI", "name": f"pkg{i % 300}"}, "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": f"1.{i}"}]}]}],
        }
        for i in range(3000)
    ]  # fmt: skip
    tree = write_trivy_db(tmp_path, records)
    assert len(tree[b"vulnerability"]) == 3000  # type: ignore[arg-type]
    assert read_bolt(tmp_path / "db" / "trivy.db") == tree


def test_python_image_findings_equal_trivys(cli: Any, tmp_path: Path) -> None:
    zip_path = OSV / "PyPI" / "all.zip"
    _need(zip_path)
    records = _zip_records(zip_path)
    layer = [
        file(f"{SITE}/{name}-{version}.dist-info/METADATA", DIST_INFO.format(name=name, version=version))
        for name, version in PYTHON_PACKAGES
    ]
    archive = tmp_path / "py.tar"
    docker_archive.write([(build_image([layer]), ["pyapp:latest"])], archive)
    write_trivy_db(tmp_path / "trivy", records)

    # dockyard names Python packages by their PEP 503 name, Trivy by the METADATA's Name: compare normalised.
    trivy = {(normalize_pypi(p), v, i) for p, v, i in trivy_findings(archive, tmp_path / "trivy")}
    ours = {(normalize_pypi(p), v, i) for p, v, i in dockyard_findings(cli, archive, zip_path)}
    assert len(ours & trivy) > 100  # a real comparison, not two empty sets
    common = {p for p, _, _ in ours & trivy}
    assert common >= {"django", "requests", "urllib3", "jinja2", "pillow", "cryptography", "pyyaml"}

    only_ours, only_trivy = ours - trivy, trivy - ours
    print(f"{len(ours & trivy)} common findings; only dockyard: {sorted(only_ours)}; only Trivy: {sorted(only_trivy)}")
    for package, version, rid in only_ours:
        assert _drops_non_pep440(_affected(records, rid, package)), (package, version, rid)
    for package, version, rid in only_trivy:
        assert _several_last_affected(_affected(records, rid, package), version), (package, version, rid)
    # Both documented rules are exercised here, on the packages chosen for them.
    assert {p for p, _, _ in only_ours} == {"ipython", "joblib"}
    assert {p for p, _, _ in only_trivy} == {"mariadb", "avif"}
    assert ("ipython", "7.16.0", "PYSEC-2022-12") in only_ours
    assert ("mariadb", "3.4.0", "PYSEC-2026-217") in only_trivy


def test_debian_image_findings_equal_trivys(cli: Any, debian_docker_archive: Path, tmp_path: Path) -> None:
    folder = OSV / "Debian" / "Debian-12"
    _need(folder)
    records = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    write_trivy_db(tmp_path / "trivy", records)

    trivy = trivy_findings(debian_docker_archive, tmp_path / "trivy", fixed=True)
    ours = dockyard_findings(cli, debian_docker_archive, folder, fixed=True)
    assert len(trivy) > 30
    print(f"{len(ours)} findings, {len(trivy)} from Trivy")
    assert ours == trivy


ALPINE_PACKAGES = [  # (package, origin, version): real releases that real ALPINE-CVE records for v3.11 affect
    ("curl", "curl", "7.61.1-r0"),
    ("libcurl", "curl", "7.61.1-r0"),
    ("tcpdump", "tcpdump", "4.9.2-r0"),
    ("mariadb", "mariadb", "10.3.10-r0"),
    ("imagemagick", "imagemagick", "7.0.8.30-r0"),
    ("wireshark", "wireshark", "2.6.3-r0"),
    ("musl", "musl", "1.1.24-r2"),
]


def test_alpine_image_findings_equal_trivys(cli: Any, tmp_path: Path) -> None:
    """The writer's ``alpine 3.11`` buckets (origin package -> ID -> FixedVersion), apk version order on both sides."""
    zip_path = OSV / "Alpine" / "all.zip"
    _need(zip_path)
    installed = "".join(
        f"C:Q1{i:027d}=\nP:{name}\nV:{version}\nA:x86_64\nL:MIT\no:{origin}\n\n"
        for i, (name, origin, version) in enumerate(ALPINE_PACKAGES)
    )
    layer = [
        file("etc/alpine-release", "3.11.6\n"),
        file("etc/os-release", 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.11.6\n'),
        file("lib/apk/db/installed", installed),
    ]
    archive = tmp_path / "alpine.tar"
    docker_archive.write([(build_image([layer]), ["alpine-app:latest"])], archive)
    write_trivy_db(tmp_path / "trivy", _zip_records(zip_path))

    trivy = trivy_findings(archive, tmp_path / "trivy", fixed=True)
    ours = dockyard_findings(cli, archive, zip_path, fixed=True)
    assert len(trivy) > 30
    assert {f[0] for f in trivy} >= {"curl", "libcurl", "tcpdump", "mariadb", "imagemagick", "wireshark"}
    print(f"{len(ours)} findings, {len(trivy)} from Trivy")
    assert ours == trivy
