"""Matching, rule by rule (see dockyard.scan.vuln.match), on real records and records in their real shapes."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from vulndata import OSV_DATA, OSV_SAMPLES, load_sample, need, write_records

from dockyard.scan.package import OS, Package
from dockyard.scan.vuln.db import VulnDB
from dockyard.scan.vuln.match import Finding, match, match_packages
from dockyard.scan.vuln.severity import Severity, SeveritySource

BOOKWORM = OS("debian", "12", "Debian:12", "Debian GNU/Linux 12 (bookworm)")
ALPINE_319 = OS("alpine", "3.19.1", "Alpine:v3.19", "Alpine Linux v3.19")


def deb(binary: str, source: str, version: str, eco: str = "Debian:12") -> Package:
    return Package(binary, version, eco, f"pkg:deb/debian/{binary}@{version}", "dpkg", source, version)


def apk(name: str, version: str, origin: str = "", eco: str = "Alpine:v3.19") -> Package:
    return Package(
        name, version, eco, f"pkg:apk/alpine/{name}@{version}", "apk", origin or name, version if origin else ""
    )


def py(name: str, version: str) -> Package:
    return Package(name, version, "PyPI", f"pkg:pypi/{name}@{version}", "python")


def by_id(findings: list[Finding]) -> dict[str, Finding]:
    return {f.id: f for f in findings}


@pytest.fixture(scope="module")
def real_db(tmp_path_factory: pytest.TempPathFactory) -> VulnDB:
    """The real shared data: PyPI all.zip, the Debian records, and the osv-scanner / Trivy samples."""
    db = VulnDB(tmp_path_factory.mktemp("real") / "vuln.db")
    db.import_paths(
        [
            need(OSV_DATA / "PyPI" / "all.zip"),
            need(OSV_DATA / "Debian"),
            need(OSV_SAMPLES / "osv-scanner-offline-dbs"),
            need(OSV_SAMPLES / "trivy-db-osv"),
        ]
    )
    return db


# --- rule 1: withdrawn, ecosystem and release ------------------------------------------------------------------


def test_withdrawn_in_the_past_is_skipped_in_the_future_counts(real_db: VulnDB) -> None:
    # PYSEC-2022-42969 (py <= 1.11.0) was withdrawn in 2024; withdrawn_after_now (scipy < 0.12.1) says 3001
    found = by_id(match([py("py", "1.11.0"), py("scipy", "0.11.0")], None, real_db))
    assert "PYSEC-2022-42969" not in found
    assert found["PYSEC-2019-156"].fixed_version == "0.12.1"
    assert found["PYSEC-2019-156"].affected_range == "<0.12.1"
    # before its withdrawal the py record counted
    then = datetime(2023, 1, 1, tzinfo=UTC)
    assert "PYSEC-2022-42969" in by_id(match([py("py", "1.11.0")], None, real_db, now=then))


def test_release_must_match_when_both_carry_one(vdb: VulnDB, tmp_path: Path) -> None:
    vdb.import_paths(
        [
            write_records(
                tmp_path / "r", load_sample("osv-samples/osv-scanner-offline-dbs/Alpine/ALPINE-CVE-2025-26519.json")
            )
        ]
    )
    # the v3.19 entry: fixed in 1.2.4_git20230717-r5; the v3.18 entry: fixed in 1.2.4-r3
    f319 = match([apk("musl", "1.2.4_git20230717-r4")], ALPINE_319, vdb)
    assert [(f.id, f.fixed_version, f.affected_range) for f in f319] == [
        ("ALPINE-CVE-2025-26519", "1.2.4_git20230717-r5", ">=0.9.13, <1.2.4_git20230717-r5")
    ]
    f318 = match([apk("musl", "1.2.4-r2", eco="Alpine:v3.18")], None, vdb)
    assert [f.fixed_version for f in f318] == ["1.2.4-r3"]
    assert match([apk("musl", "1.2.4-r2", eco="Alpine:v3.15")], None, vdb) == []  # no entry for v3.15
    assert match([apk("musl", "1.2.4_git20230717-r5")], ALPINE_319, vdb) == []  # the fixed version itself
    assert match([apk("musl", "1.2.4_git20230717-r6")], ALPINE_319, vdb) == []
    assert match([apk("musl", "0.9.12-r0")], ALPINE_319, vdb) == []  # below the non-zero introduced
    # another ecosystem's base name never matches
    assert match([deb("musl", "musl", "1.2.3-1")], BOOKWORM, vdb) == []
    # a package without a release matches every release's entry (here the first that affects it: v3.16's)
    assert [f.fixed_version for f in match([apk("musl", "1.2.3-r3", eco="Alpine")], None, vdb)] == ["1.2.3-r4"]


# --- rule 2: source packages, origins, PEP 503 names ---------------------------------------------------------


def test_debian_matches_the_source_package_and_version(real_db: VulnDB) -> None:
    libc6 = deb("libc6", "glibc", "2.36-9+deb12u3")
    found = by_id(match([libc6], BOOKWORM, real_db))
    assert set(found) == {
        "DEBIAN-CVE-2018-20796",  # unimportant, no fix
        "DEBIAN-CVE-2023-4911",  # stale record: says unfixed (see osv-data/README.md)
        "DEBIAN-CVE-2023-6246",  # fixed in 2.36-9+deb12u4
        "DSA-5611-1",  # the DSA of three CVEs: a finding of its own
        "DEBIAN-CVE-2024-2961",  # merged with DSA-5673-1 (one CVE)
    }
    assert found["DEBIAN-CVE-2023-6246"].fixed_version == "2.36-9+deb12u4"
    assert found["DSA-5611-1"].fixed_version == "2.36-9+deb12u4"
    assert found["DEBIAN-CVE-2023-4911"].fixed_version is None
    assert found["DEBIAN-CVE-2023-4911"].affected_range == ">=0"
    assert found["DEBIAN-CVE-2024-2961"].aliases == ("CVE-2024-2961", "DSA-5673-1")
    assert all(f.package is libc6 for f in found.values())
    # the binary name alone finds nothing: advisories name the source package
    assert match([Package("libc6", "2.36-9+deb12u3", "Debian:12", "p", "dpkg")], BOOKWORM, real_db) == []
    # a later bookworm glibc leaves only the records without a fix
    later = by_id(match([deb("libc6", "glibc", "2.36-9+deb12u7")], BOOKWORM, real_db))
    assert set(later) == {"DEBIAN-CVE-2018-20796", "DEBIAN-CVE-2023-4911"}
    # another release's package does not see Debian:12 records
    assert match([deb("libc6", "glibc", "2.31-13", eco="Debian:11")], None, real_db) == []


def test_one_cve_on_two_source_packages(real_db: VulnDB) -> None:
    pkgs = [deb("libgcrypt20", "libgcrypt20", "1.10.1-3"), deb("gnupg1", "gnupg1", "1.4.23-1.1")]
    found = match(pkgs, BOOKWORM, real_db)
    assert sorted((f.package.name, f.id) for f in found if f.id == "DEBIAN-CVE-2018-6829") == [
        ("gnupg1", "DEBIAN-CVE-2018-6829"),
        ("libgcrypt20", "DEBIAN-CVE-2018-6829"),
    ]


def test_alpine_matches_the_origin(vdb: VulnDB, tmp_path: Path) -> None:
    vdb.import_paths(
        [
            write_records(
                tmp_path / "r", load_sample("osv-samples/osv-scanner-offline-dbs/Alpine/ALPINE-CVE-2025-26519.json")
            )
        ]
    )
    # musl-utils is built from musl: its origin is what the advisory names
    found = match([apk("musl-utils", "1.2.4_git20230717-r4", origin="musl")], ALPINE_319, vdb)
    assert [f.id for f in found] == ["ALPINE-CVE-2025-26519"]
    assert match([apk("musl-utils", "1.2.4_git20230717-r4")], ALPINE_319, vdb) == []


def test_pypi_names_are_pep503_normalised(real_db: VulnDB) -> None:
    found = by_id(match([py("Flask_Cors", "3.0.8")], None, real_db))
    assert found["PYSEC-2020-43"].fixed_version == "3.0.9"
    assert "PYSEC-2020-43" not in by_id(match([py("flask.cors", "3.0.9")], None, real_db))


# --- rule 3: versions[] and ranges ------------------------------------------------------------------------------


def test_dla_with_versions_list(real_db: VulnDB) -> None:
    found = match([deb("libxml2", "libxml2", "2.9.4+dfsg1-2.2+deb9u6", eco="Debian:9")], None, real_db)
    assert [(f.id, f.affected_range, f.fixed_version) for f in found] == [
        ("DLA-3012-1", "<2.9.4+dfsg1-2.2+deb9u7", "2.9.4+dfsg1-2.2+deb9u7")
    ]
    assert match([deb("libxml2", "libxml2", "2.9.4+dfsg1-2.2+deb9u7", eco="Debian:9")], None, real_db) == []


def test_pypi_last_affected_is_inclusive_and_unfixed(vdb: VulnDB, tmp_path: Path) -> None:
    # Trivy's copy of PYSEC-2023-120 (aiohttp): introduced 0, last_affected 3.8.4, introduced 4.0.1,
    # last_affected 4.0.1 (the PyPI all.zip holds a later version of the record, fixed in 3.8.5)
    vdb.import_paths([write_records(tmp_path / "r", load_sample("osv-samples/trivy-db-osv/PYSEC-2023-120.json"))])
    f = by_id(match([py("aiohttp", "3.8.4")], None, vdb))["PYSEC-2023-120"]
    assert (f.affected_range, f.fixed_version) == ("<=3.8.4", None)
    assert "PYSEC-2023-120" not in by_id(match([py("aiohttp", "3.8.5")], None, vdb))
    f = by_id(match([py("aiohttp", "4.0.1")], None, vdb))["PYSEC-2023-120"]
    assert f.affected_range == ">=4.0.1, <=4.0.1"


def test_fixed_is_exclusive_and_pre_releases_order(real_db: VulnDB) -> None:
    # PYSEC-2020-176: PyYAML fixed in 5.2b1
    assert by_id(match([py("PyYAML", "5.1.2")], None, real_db))["PYSEC-2020-176"].fixed_version == "5.2b1"
    assert "PYSEC-2020-176" not in by_id(match([py("PyYAML", "5.2b1")], None, real_db))
    assert "PYSEC-2020-176" not in by_id(match([py("PyYAML", "5.2")], None, real_db))


def _pysec(rid: str, events: list[dict[str, str]], versions: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "package": {"ecosystem": "PyPI", "name": "wasmtime", "purl": "pkg:pypi/wasmtime"},
        "ranges": [{"type": "ECOSYSTEM", "events": events}],
    }
    if versions is not None:
        entry["versions"] = versions
    rec: dict[str, Any] = {"id": rid, "modified": "2024-01-01T00:00:00Z", "affected": [entry]}
    rec.update(extra)
    return rec


def test_several_ends_after_one_introduced_the_lowest_wins(vdb: VulnDB, tmp_path: Path) -> None:
    # wasmtime's real shape: one introduced, several last_affected, out of version order
    rec = _pysec("PYSEC-2023-9001", [{"introduced": "0"}, {"last_affected": "6.0.1"}, {"last_affected": "4.0.0"}])
    several = _pysec("PYSEC-2023-9002", [{"introduced": "0"}, {"fixed": "2.0.1"}, {"fixed": "1.0.1"}])
    two = _pysec(
        "PYSEC-2023-9003",
        [{"introduced": "0"}, {"fixed": "1.0.0"}, {"introduced": "3.0.0"}, {"fixed": "3.0.2"}],
    )
    vdb.import_paths([write_records(tmp_path / "r", rec, several, two)])

    def ids(version: str) -> dict[str, Finding]:
        return by_id(match([py("wasmtime", version)], None, vdb))

    assert ids("4.0.0")["PYSEC-2023-9001"].affected_range == "<=4.0.0"
    assert "PYSEC-2023-9001" not in ids("5.0.0")
    assert ids("1.0.0")["PYSEC-2023-9002"].fixed_version == "1.0.1"
    assert "PYSEC-2023-9002" not in ids("1.5.0")
    assert set(ids("0.9")) == {"PYSEC-2023-9001", "PYSEC-2023-9002", "PYSEC-2023-9003"}
    assert "PYSEC-2023-9003" not in ids("2.0.0")
    assert ids("3.0.1")["PYSEC-2023-9003"].affected_range == ">=3.0.0, <3.0.2"
    assert "PYSEC-2023-9003" not in ids("3.0.2")


def test_git_ranges_are_ignored_never_fatal(real_db: VulnDB, vdb: VulnDB, tmp_path: Path) -> None:
    # PYSEC-2023-74 (requests): a GIT range and ECOSYSTEM introduced 2.3.0 fixed 2.31.0: the ECOSYSTEM range decides
    assert by_id(match([py("requests", "2.30.0")], None, real_db))["PYSEC-2023-74"].fixed_version == "2.31.0"
    assert "PYSEC-2023-74" not in by_id(match([py("requests", "2.2.0")], None, real_db))
    # a GIT-only record: only its versions[] list can match
    git_only = {
        "id": "PYSEC-2021-9001",
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "boost-py"},
                "ranges": [{"type": "GIT", "repo": "https://example.org/x.git", "events": [{"introduced": "0"}]}],
                "versions": ["1.2.0"],
            }
        ],
    }
    vdb.import_paths([write_records(tmp_path / "g", git_only)])
    assert [(f.id, f.affected_range) for f in match([py("boost_py", "1.2")], None, vdb)] == [
        ("PYSEC-2021-9001", "=1.2")
    ]
    assert match([py("boost-py", "1.3.0")], None, vdb) == []


def test_an_unparsable_range_falls_back_to_versions_with_a_warning(vdb: VulnDB, tmp_path: Path) -> None:
    # the real shape of 25 live PyPI records: last_affected "2.6.0-NA" is not PEP 440
    rec = _pysec("PYSEC-2024-9001", [{"introduced": "0"}, {"last_affected": "2.6.0-NA"}], versions=["2.5.0", "2.6.0"])
    vdb.import_paths([write_records(tmp_path / "r", rec)])
    warnings: list[str] = []
    found = match([py("wasmtime", "2.5.0"), py("wasmtime", "2.5.1")], None, vdb, on_warning=warnings.append)
    assert [(f.package.version, f.id, f.affected_range, f.fixed_version) for f in found] == [
        ("2.5.0", "PYSEC-2024-9001", "=2.5.0", None)
    ]
    assert len(warnings) == 1 and "PYSEC-2024-9001" in warnings[0] and "2.6.0-NA" in warnings[0]


def test_semver_ranges_for_go_and_npm(real_db: VulnDB) -> None:
    runc = Package("github.com/opencontainers/runc", "v1.0.2", "Go", "p", "go")
    f = by_id(match([runc], None, real_db))["GO-2022-0274"]
    assert (f.fixed_version, f.affected_range) == ("1.1.0", ">=1.0.1-0.20211012131345-9c444070ec7b, <1.1.0")
    old = Package("github.com/opencontainers/runc", "v1.0.0", "Go", "p", "go")
    assert "GO-2022-0274" not in by_id(match([old], None, real_db))
    ansi = Package("ansi-html", "0.0.7", "npm", "p", "npm")
    f = by_id(match([ansi], None, real_db))["GHSA-whgm-jr23-g3j9"]
    assert (f.fixed_version, f.severity, f.severity_source, f.cvss_score) == (
        "0.0.8",
        Severity.HIGH,
        SeveritySource.CVSS_V3,
        7.5,
    )


# --- rule 4: unfixed ----------------------------------------------------------------------------------------------


def test_unfixed_has_no_fixed_version_and_can_be_hidden(real_db: VulnDB) -> None:
    shadow = deb("login", "shadow", "1:4.13+dfsg1-1")
    everything = by_id(match([shadow], BOOKWORM, real_db))
    assert set(everything) == {"DEBIAN-CVE-2007-5686", "DEBIAN-CVE-2023-29383"}
    assert all(f.fixed_version is None and not f.fixed for f in everything.values())
    assert match([shadow], BOOKWORM, real_db, ignore_unfixed=True) == []
    libc = match([deb("libc6", "glibc", "2.36-9+deb12u3")], BOOKWORM, real_db, ignore_unfixed=True)
    assert {f.id for f in libc} == {"DEBIAN-CVE-2023-6246", "DSA-5611-1", "DEBIAN-CVE-2024-2961"}


# --- rule 5: severity -----------------------------------------------------------------------------------------------


def _debian_cve(rid: str, urgency: str, package: str = "zlib") -> dict[str, Any]:
    return {
        "id": rid,
        "modified": "2024-01-01T00:00:00Z",
        "upstream": [rid.removeprefix("DEBIAN-")],
        "affected": [
            {
                "package": {"ecosystem": "Debian:12", "name": package},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
                "ecosystem_specific": {"urgency": urgency},
            }
        ],
    }


def test_severity_debian_urgency_first(vdb: VulnDB, tmp_path: Path) -> None:
    records = [
        _debian_cve("DEBIAN-CVE-2024-0001", "unimportant"),
        _debian_cve("DEBIAN-CVE-2024-0002", "low"),
        _debian_cve("DEBIAN-CVE-2024-0003", "medium"),
        _debian_cve("DEBIAN-CVE-2024-0004", "high"),
        _debian_cve("DEBIAN-CVE-2024-0005", "not yet assigned"),
        # the CVE record of 0004 with a critical CVSS: the distribution's own "high" still wins
        {
            "id": "CVE-2024-0004",
            "modified": "2024-01-01T00:00:00Z",
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        },
        # and the CVE record of 0005 rates it: severity from an alias present in the database
        {
            "id": "CVE-2024-0005",
            "modified": "2024-01-01T00:00:00Z",
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
        },
    ]
    vdb.import_paths([write_records(tmp_path / "r", *records)])
    found = by_id(match([deb("zlib1g", "zlib", "1:1.2.13.dfsg-1")], BOOKWORM, vdb))
    got = {rid: (f.severity, f.severity_source) for rid, f in found.items()}
    assert got == {
        "DEBIAN-CVE-2024-0001": (Severity.LOW, SeveritySource.DISTRIBUTION),
        "DEBIAN-CVE-2024-0002": (Severity.LOW, SeveritySource.DISTRIBUTION),
        "DEBIAN-CVE-2024-0003": (Severity.MEDIUM, SeveritySource.DISTRIBUTION),
        "DEBIAN-CVE-2024-0004": (Severity.HIGH, SeveritySource.DISTRIBUTION),
        "DEBIAN-CVE-2024-0005": (Severity.HIGH, SeveritySource.CVSS_V3),
    }
    assert found["DEBIAN-CVE-2024-0004"].cvss_score == 9.8  # the score is still shown
    assert found["DEBIAN-CVE-2024-0005"].cvss_score == 7.5
    assert found["DEBIAN-CVE-2024-0005"].severity_record == "CVE-2024-0005"


def test_severity_cvss_v4_before_v3_then_database_specific(vdb: VulnDB, tmp_path: Path) -> None:
    both = _pysec(
        "PYSEC-2024-9101",
        [{"introduced": "0"}],
        severity=[
            {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
            {"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:L/SA:N"},
        ],
    )
    words = _pysec("PYSEC-2024-9102", [{"introduced": "0"}], database_specific={"severity": "MODERATE"})
    nothing = _pysec("PYSEC-2024-9103", [{"introduced": "0"}])
    vdb.import_paths([write_records(tmp_path / "r", both, words, nothing)])
    found = by_id(match([py("wasmtime", "1.0")], None, vdb))
    assert (found["PYSEC-2024-9101"].severity_source, found["PYSEC-2024-9101"].cvss_score) == (
        SeveritySource.CVSS_V4,
        6.9,
    )
    assert found["PYSEC-2024-9101"].severity == Severity.MEDIUM
    assert (found["PYSEC-2024-9102"].severity, found["PYSEC-2024-9102"].severity_source) == (
        Severity.MEDIUM,
        SeveritySource.DATABASE,
    )
    assert (found["PYSEC-2024-9103"].severity, found["PYSEC-2024-9103"].severity_source) == (
        Severity.UNKNOWN,
        SeveritySource.NONE,
    )


def test_real_cvss_v4_record(real_db: VulnDB) -> None:
    # GHSA-3pxv-7cmr-fjr4 (log4j-core, CVSS v4 and database_specific MODERATE). Maven has no version order here:
    # its versions[] list still matches, with a warning naming the ecosystem.
    warnings: list[str] = []
    log4j = Package("org.apache.logging.log4j:log4j-core", "2.0-beta1", "Maven", "p", "maven")
    found = by_id(match([log4j], None, real_db, on_warning=warnings.append))
    f = found["GHSA-3pxv-7cmr-fjr4"]
    assert (f.severity, f.severity_source, f.cvss_score) == (Severity.MEDIUM, SeveritySource.CVSS_V4, 6.9)
    assert any("Maven" in w for w in warnings)


def test_the_demo_expat_findings(vdb: VulnDB, tmp_path: Path) -> None:
    """The brief's example: expat 2.5.0-r2 on Alpine 3.19, CVE-2023-52425 (High 7.5), CVE-2023-52426 (Medium 5.5)."""

    def rec(cve: str, vector: str) -> dict[str, Any]:
        return {
            "id": f"ALPINE-{cve}",
            "modified": "2024-02-10T00:00:00Z",
            "upstream": [cve],
            "severity": [{"type": "CVSS_V3", "score": vector}],
            "affected": [
                {
                    "package": {
                        "ecosystem": "Alpine:v3.19",
                        "name": "expat",
                        "purl": "pkg:apk/alpine/expat?arch=source",
                    },
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.6.0-r0"}]}],
                }
            ],
            "references": [{"type": "ADVISORY", "url": f"https://security.alpinelinux.org/vuln/{cve}"}],
        }

    vdb.import_paths(
        [
            write_records(
                tmp_path / "r",
                rec("CVE-2023-52425", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"),
                rec("CVE-2023-52426", "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H"),
            )
        ]
    )
    found = match([apk("expat", "2.5.0-r2")], ALPINE_319, vdb)
    doc = found[0].as_dict()
    assert (doc["severity"], doc["severity_source"], doc["cvss_vector"]) == (
        "High",
        "cvss_v3",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
    )
    assert doc["package"]["purl"] == "pkg:apk/alpine/expat@2.5.0-r2" and doc["fixed_version"] == "2.6.0-r0"
    assert [(f.id, f.severity, f.cvss_score, f.affected_range, f.fixed_version, f.url) for f in found] == [
        (
            "ALPINE-CVE-2023-52425",
            Severity.HIGH,
            7.5,
            "<2.6.0-r0",
            "2.6.0-r0",
            "https://security.alpinelinux.org/vuln/CVE-2023-52425",
        ),
        (
            "ALPINE-CVE-2023-52426",
            Severity.MEDIUM,
            5.5,
            "<2.6.0-r0",
            "2.6.0-r0",
            "https://security.alpinelinux.org/vuln/CVE-2023-52426",
        ),
    ]


# --- rule 6: one finding per (package, vulnerability) ---------------------------------------------------------


def test_aliases_and_the_same_cve_merge_into_one_finding(vdb: VulnDB, tmp_path: Path) -> None:
    pysec = _pysec("PYSEC-2024-9201", [{"introduced": "0"}, {"fixed": "2.0"}], aliases=["GHSA-aaaa-bbbb-cccc"])
    ghsa = _pysec(
        "GHSA-aaaa-bbbb-cccc",
        [{"introduced": "0"}, {"fixed": "2.0"}],
        aliases=["PYSEC-2024-9201", "CVE-2024-9201"],
        severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    )
    other = _pysec("PYSEC-2024-9202", [{"introduced": "0"}, {"fixed": "3.0"}], aliases=["CVE-2024-9202"])
    vdb.import_paths([write_records(tmp_path / "r", pysec, ghsa, other)])
    found = match([py("wasmtime", "1.0")], None, vdb)
    assert [(f.id, f.aliases) for f in found] == [
        ("PYSEC-2024-9201", ("CVE-2024-9201", "GHSA-aaaa-bbbb-cccc")),
        ("PYSEC-2024-9202", ("CVE-2024-9202",)),
    ]
    # the merged finding takes its severity from the alias record in the group
    assert (found[0].severity, found[0].cvss_score) == (Severity.CRITICAL, 9.8)


def test_the_distributions_record_is_preferred(vdb: VulnDB, tmp_path: Path) -> None:
    debian = _debian_cve("DEBIAN-CVE-2024-0007", "medium")
    generic = copy.deepcopy(debian)
    generic.update(id="CVE-2024-0007", upstream=[])
    generic["affected"][0]["package"]["ecosystem"] = "Debian"  # not a distribution release: less specific
    generic["affected"][0].pop("ecosystem_specific")
    ubuntu = copy.deepcopy(generic)
    ubuntu.update(id="UBUNTU-CVE-2024-0007", upstream=["CVE-2024-0007"])
    ubuntu["affected"][0]["package"]["ecosystem"] = "Ubuntu:22.04:LTS"
    vdb.import_paths([write_records(tmp_path / "r", generic, debian, ubuntu)])
    found = match([deb("zlib1g", "zlib", "1:1.2.13.dfsg-1")], BOOKWORM, vdb)
    assert [(f.id, f.aliases, f.severity) for f in found] == [
        ("DEBIAN-CVE-2024-0007", ("CVE-2024-0007",), Severity.MEDIUM)
    ]


# --- bad input ----------------------------------------------------------------------------------------------------


def test_bad_package_versions_and_unknown_ecosystems_warn(real_db: VulnDB) -> None:
    warnings: list[str] = []
    pkgs = [
        py("django", "not a version"),
        Package("thing", "1.0", "Plan9", "p", "other"),
        deb("libc6", "glibc", "2.36-9+deb12u3"),
    ]
    result = match_packages(pkgs, BOOKWORM, real_db, on_warning=warnings.append)
    assert warnings == result.warnings
    assert any("django" in w and "not a version" in w for w in warnings)
    assert any("Plan9" in w for w in warnings)
    assert {f.package.name for f in result.findings} == {"libc6"}  # the rest still matched


def test_packages_take_the_release_of_the_os(vdb: VulnDB, tmp_path: Path) -> None:
    vdb.import_paths(
        [
            write_records(
                tmp_path / "r", load_sample("osv-samples/osv-scanner-offline-dbs/Alpine/ALPINE-CVE-2025-26519.json")
            )
        ]
    )
    found = match([apk("musl", "1.2.4_git20230717-r4", eco="Alpine")], ALPINE_319, vdb)
    assert [f.fixed_version for f in found] == ["1.2.4_git20230717-r5"]
