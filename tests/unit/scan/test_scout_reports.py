"""``dockyard scout cves --format sarif|cyclonedx`` and ``dockyard scout recommendations`` on the brief's example
(the bundled expat 2.5.0-r2 image on its ``python:3-alpine``-like base), the reports validated against their
schemas: SARIF 2.1.0 from ``../shared/schemas/``, CycloneDX 1.6 with cyclonedx-python-lib's own validator."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from fixtures_util import require_tool
from registry_util import start_registry

from dockyard.image.build import LayerSpec, build_image, directory, file
from dockyard.oci.platform import Platform
from dockyard.scan import sample
from dockyard.scan.reports import change_text
from dockyard.transport import docker_archive

SHARED = Path(os.environ.get("DOCKYARD_SHARED", Path(__file__).resolve().parents[3].parent / "shared"))
SARIF_SCHEMA = SHARED / "schemas" / "sarif-schema-2.1.0.json"
IMAGE = "myuser/tu-demo:latest"


def _alpine_base(expat: str, extra: list[Any] | None = None) -> Any:
    """The sample's base with another expat version in its apk database (and extra files)."""
    packages = [(n, expat if n == "expat" else v, o, d) for n, v, o, d in sample._APK]
    return build_image(
        [
            LayerSpec(
                [
                    directory("etc"),
                    file("etc/os-release", sample._OS_RELEASE),
                    file("etc/alpine-release", "3.19.1\n"),
                    directory("lib"),
                    directory("lib/apk"),
                    directory("lib/apk/db"),
                    file("lib/apk/db/installed", sample._apk_db(packages)),
                    *(extra or []),
                ],
                "/bin/sh -c #(nop) ADD file:alpine-minirootfs in / ",
            )
        ],
        platform=Platform("linux", "amd64"),
        config={"Cmd": ["python3"]},
    )


@pytest.fixture
def scout(cli: Any, tmp_path: Path) -> Any:
    archive = tmp_path / "demo.tar"
    docker_archive.write(
        [
            (sample.base_image(), ["python:3-alpine"]),
            (sample.app_image(), [IMAGE]),
            (_alpine_base("2.6.0-r0"), ["python:3.12-alpine"]),  # the fixed base
            # another build of the vulnerable base (a bigger one): no change, ranked after the current size-wise
            (_alpine_base("2.5.0-r2", [file("etc/motd", "x" * 4096)]), ["python:3.11-alpine"]),
        ],
        archive,
    )
    cli("load", "-q", "-i", str(archive))
    cli("db", "import", str(sample.write_osv(tmp_path / "osv")))
    return cli


def _sarif_validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"no SARIF schema at {SARIF_SCHEMA}")
    return jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text()))


def test_sarif_is_valid_and_names_rules_results_purls_and_layers(scout: Any) -> None:
    validator = _sarif_validator()
    res = scout("scout", "cves", "--format", "sarif", IMAGE)
    doc = json.loads(res.stdout)
    validator.validate(doc)
    assert doc["version"] == "2.1.0" and len(doc["runs"]) == 1
    run = doc["runs"][0]
    assert run["tool"]["driver"]["name"] == "dockyard"
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert list(rules) == ["CVE-2023-52425", "CVE-2023-52426"]
    assert rules["CVE-2023-52425"]["properties"]["security-severity"] == "7.5"
    assert rules["CVE-2023-52425"]["defaultConfiguration"]["level"] == "error"
    assert rules["CVE-2023-52426"]["properties"]["security-severity"] == "5.5"
    assert rules["CVE-2023-52426"]["defaultConfiguration"]["level"] == "warning"
    results = run["results"]
    assert [(r["ruleId"], r["ruleIndex"], r["level"]) for r in results] == [
        ("CVE-2023-52425", 0, "error"),
        ("CVE-2023-52426", 1, "warning"),
    ]
    purl = "pkg:apk/alpine/expat@2.5.0-r2?os_name=alpine&os_version=3.19"
    layer = json.loads(scout("inspect", IMAGE).stdout)[0]["RootFS"]["Layers"][0]
    for r in results:
        loc = r["locations"][0]
        assert loc["physicalLocation"]["artifactLocation"]["uri"] == "lib/apk/db/installed"
        assert loc["properties"] == {"purl": purl, "layer": layer}
        assert loc["logicalLocations"][0]["fullyQualifiedName"] == purl
        assert r["properties"]["fixedVersion"] == "2.6.0-r0"
    high = json.loads(scout("scout", "cves", "--format", "sarif", "--only-severity", "high", IMAGE).stdout)
    assert [r["ruleId"] for r in high["runs"][0]["results"]] == ["CVE-2023-52425"]  # the filters apply
    gate = scout("scout", "cves", "--format", "sarif", "--exit-code", IMAGE, check=False)
    assert gate.returncode == 2 and json.loads(gate.stdout)["runs"][0]["results"]


def test_cyclonedx_has_the_components_and_a_valid_vulnerabilities_section(scout: Any) -> None:
    pytest.importorskip("jsonschema")
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    text = scout("scout", "cves", "--format", "cyclonedx", IMAGE).stdout
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    doc = json.loads(text)
    assert doc["specVersion"] == "1.6"
    names = sorted(c["name"] for c in doc["components"] if c["type"] == "library")
    assert names == ["busybox", "expat", "libffi", "musl", "python3", "zlib"]  # the SBOM's builder, reused
    expat = next(c for c in doc["components"] if c["name"] == "expat")
    vulns = {v["id"]: v for v in doc["vulnerabilities"]}
    assert list(vulns) == ["CVE-2023-52425", "CVE-2023-52426"]
    high = vulns["CVE-2023-52425"]
    assert high["ratings"] == [
        {
            "severity": "high",
            "score": 7.5,
            "method": "CVSSv31",
            "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
            "source": {"name": "NVD", "url": "https://nvd.nist.gov/vuln/detail/CVE-2023-52425"},
        }
    ]
    assert vulns["CVE-2023-52426"]["ratings"][0]["severity"] == "medium"
    assert high["recommendation"] == "Upgrade to 2.6.0-r0"
    assert high["affects"] == [
        {
            "ref": expat["bom-ref"],
            "versions": [
                {"version": "2.5.0-r2", "status": "affected"},
                {"range": "vers:alpine/<2.6.0-r0", "status": "affected"},
                {"version": "2.6.0-r0", "status": "unaffected"},
            ],
        }
    ]
    assert high["advisories"] and all(a["url"].startswith("https://") for a in high["advisories"])
    assert {r["id"] for r in high["references"]} == {"ALPINE-CVE-2023-52425"}
    assert high["source"]["name"] == "NVD"


def test_recommendations_name_the_fixed_tag_first(scout: Any) -> None:
    res = scout("scout", "recommendations", IMAGE)
    lines = res.stdout.splitlines()
    current = next(line for line in lines if line.lstrip().startswith("current"))
    fixed = next(line for line in lines if "python:3.12-alpine" in line and "Rebase" not in line)
    same = next(line for line in lines if "python:3.11-alpine" in line)
    assert "python:3-alpine" in current and "0C     1H     1M     0L" in current
    assert "0C     0H     0M     0L" in fixed and "-1H -1M" in fixed
    assert "+0" in same
    assert lines.index(fixed) < lines.index(same)
    assert "Rebase on python:3.12-alpine: -1H -1M" in res.stdout
    doc = json.loads(scout("scout", "recommendations", "--format", "json", IMAGE).stdout)
    assert doc["base"]["name"] == "python:3-alpine" and doc["base"]["counts"]["High"] == 1
    recs = doc["recommendations"]
    assert [r["name"] for r in recs] == ["python:3.12-alpine", "python:3.11-alpine"]
    assert recs[0]["counts"] == {"Critical": 0, "High": 0, "Medium": 0, "Low": 0, "Unknown": 0}
    assert recs[0]["change"] == "-1H -1M" and recs[1]["change"] == "+0"
    assert recs[1]["size"] > recs[0]["size"] > 0


def test_recommendations_without_a_base_image(scout: Any) -> None:
    res = scout("scout", "recommendations", "python:3-alpine", check=False)
    assert res.returncode == 1 and "No base image of python:3-alpine" in res.stderr


def test_change_text() -> None:
    current = {"Critical": 0, "High": 1, "Medium": 1, "Low": 0}
    assert change_text(current, {"Critical": 0, "High": 0, "Medium": 0, "Low": 0}) == "-1H -1M"
    assert change_text(current, dict(current)) == "+0"
    assert change_text(current, {"Critical": 2, "High": 1, "Medium": 0, "Low": 3}) == "+2C -1M +3L"


def _finding(package: Any, vid: str, severity: Any, *, score: float | None, fixed: str | None, rng: str) -> Any:
    from dockyard.scan.vuln.match import Finding
    from dockyard.scan.vuln.severity import SeveritySource

    return Finding(
        package=package,
        id=vid,
        aliases=(),
        severity=severity,
        severity_source=SeveritySource.CVSS_V3 if score is not None else SeveritySource.NONE,
        cvss_score=score,
        affected_range=rng,
        fixed_version=fixed,
        summary="",
        url=f"https://osv.dev/vulnerability/{vid}",
    )


def test_reports_of_shared_unfixed_and_unscored_vulnerabilities() -> None:
    """Two packages with one CVE (one rule, two results; one vulnerability, two affects, two fixes), an unfixed
    Debian finding (no recommendation, ``vers:deb/*``) and a PyPI one without a score (SARIF's default 2.0 for
    Low): both documents still valid."""
    validator = _sarif_validator()
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    from dockyard.scan.package import OS, Package
    from dockyard.scan.reports import to_cyclonedx, to_sarif
    from dockyard.scan.sbom.result import Sbom
    from dockyard.scan.scout import ImageReport, Part
    from dockyard.scan.vuln.severity import Severity

    layer = "sha256:" + "1" * 64
    libc = Package(
        "libc6",
        "2.36-9",
        "Debian:12",
        "pkg:deb/debian/libc6@2.36-9?distro=debian-12",
        "dpkg",
        "glibc",
        "2.36-9",
        layer,
        "var/lib/dpkg/status",
    )
    bin_ = Package(
        "libc-bin",
        "2.36-9",
        "Debian:12",
        "pkg:deb/debian/libc-bin@2.36-9?distro=debian-12",
        "dpkg",
        "glibc",
        "2.36-9",
        layer,
        "var/lib/dpkg/status",
    )
    req = Package(
        "requests",
        "2.0.0",
        "PyPI",
        "pkg:pypi/requests@2.0.0",
        "python",
        layer=layer,
        path="usr/lib/python3/dist-packages/requests-2.0.0.dist-info/METADATA",
    )
    sbom = Sbom("sha256:" + "2" * 64, OS("debian", "12", "Debian:12"), (libc, bin_, req), (layer,))
    findings = [
        _finding(libc, "CVE-2023-4911", Severity.HIGH, score=7.8, fixed="2.36-9+deb12u3", rng="<2.36-9+deb12u3"),
        _finding(bin_, "CVE-2023-4911", Severity.HIGH, score=7.8, fixed="2.36-9+deb12u4", rng="<2.36-9+deb12u4"),
        _finding(libc, "CVE-2010-4756", Severity.LOW, score=None, fixed=None, rng=">=0"),
        _finding(req, "GHSA-xxxx-yyyy-zzzz", Severity.LOW, score=None, fixed="2.31.0", rng=">=0.1, <2.31.0"),
    ]
    report = ImageReport(Part("app", sbom.image_id, "2" * 12, sbom, tuple(findings)))
    sarif = to_sarif(report, findings, "app")
    validator.validate(sarif)
    run = sarif["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [
        "CVE-2023-4911",
        "CVE-2010-4756",
        "GHSA-xxxx-yyyy-zzzz",
    ]
    assert [r["ruleId"] for r in run["results"]].count("CVE-2023-4911") == 2
    assert run["tool"]["driver"]["rules"][1]["properties"]["security-severity"] == "2.0"
    assert run["tool"]["driver"]["rules"][2]["name"] == "LanguageVulnerability"
    cdx = to_cyclonedx(report, findings, "app")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(cdx)) is None
    vulns = {v["id"]: v for v in cdx["vulnerabilities"]}
    glibc = vulns["CVE-2023-4911"]
    assert [a["ref"] for a in glibc["affects"]] == [bin_.purl, libc.purl]
    assert glibc["recommendation"] == "Upgrade libc-bin to 2.36-9+deb12u4; Upgrade libc6 to 2.36-9+deb12u3"
    unfixed = vulns["CVE-2010-4756"]
    assert "recommendation" not in unfixed and unfixed["ratings"] == [
        {"severity": "low", "source": {"name": "NVD", "url": "https://nvd.nist.gov/vuln/detail/CVE-2010-4756"}}
    ]
    assert unfixed["affects"][0]["versions"][1] == {"range": "vers:deb/*", "status": "affected"}
    ghsa = vulns["GHSA-xxxx-yyyy-zzzz"]
    assert ghsa["affects"][0]["versions"][1]["range"] == "vers:pypi/>=0.1|<2.31.0"
    assert ghsa["source"] == {"name": "OSV", "url": "https://osv.dev/vulnerability/GHSA-xxxx-yyyy-zzzz"}


@pytest.mark.interop
def test_recommendations_from_a_registry(cli: Any, tmp_path: Path) -> None:
    """``--registry``: the base repository's tags in a real registry (CNCF Distribution on 127.0.0.1), each
    streamed without being stored; the tag of the current base image itself is left out."""
    registry = start_registry(tmp_path / "registry", binary=require_tool("docker-registry"))
    try:
        repo = f"{registry.host}/python"
        pushed = tmp_path / "pushed.tar"
        docker_archive.write(
            [
                (sample.base_image(), [f"{repo}:3-alpine"]),
                (_alpine_base("2.6.0-r0"), [f"{repo}:3.12-alpine"]),
                (_alpine_base("2.5.0-r2", [file("etc/motd", "x" * 4096)]), [f"{repo}:3.11-alpine"]),
            ],
            pushed,
        )
        other = ("--root", str(tmp_path / "pusher"))
        cli(*other, "load", "-q", "-i", str(pushed))
        for tag in ("3-alpine", "3.12-alpine", "3.11-alpine"):
            cli(*other, "push", "-q", f"{repo}:{tag}")
        local = tmp_path / "local.tar"
        docker_archive.write([(sample.base_image(), [f"{repo}:3-alpine"]), (sample.app_image(), [IMAGE])], local)
        cli("load", "-q", "-i", str(local))
        cli("db", "import", str(sample.write_osv(tmp_path / "osv")))
        before = cli("images", "-q", "--no-trunc").stdout
        store_only = json.loads(cli("scout", "recommendations", "--format", "json", IMAGE).stdout)
        assert store_only["recommendations"] == []  # the store holds no other tag
        doc = json.loads(cli("scout", "recommendations", "--registry", "--format", "json", IMAGE).stdout)
        assert doc["base"]["name"] == f"{repo}:3-alpine"
        recs = doc["recommendations"]
        assert [r["name"] for r in recs] == [f"{repo}:3.12-alpine", f"{repo}:3.11-alpine"]
        assert [r["change"] for r in recs] == ["-1H -1M", "+0"]
        assert recs[1]["size"] > recs[0]["size"] > 0
        assert cli("images", "-q", "--no-trunc").stdout == before  # read, not stored
        text = cli("scout", "recommendations", "--registry", IMAGE).stdout
        assert f"Rebase on {repo}:3.12-alpine: -1H -1M" in text
    finally:
        registry.stop()
