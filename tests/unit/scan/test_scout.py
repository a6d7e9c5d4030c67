"""``dockyard scout quickview|cves`` on the brief's example: the bundled Alpine-shaped image on a
``python:3-alpine``-like base with ``expat 2.5.0-r2``, against OSV records written from CVE-2023-52425/52426."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dockyard.scan import sample
from dockyard.transport import docker_archive


@pytest.fixture
def scout(cli: Any, tmp_path: Path) -> Any:
    archive = tmp_path / "demo.tar"
    docker_archive.write(
        [(sample.base_image(), ["python:3-alpine"]), (sample.app_image(), ["myuser/tu-demo:latest"])], archive
    )
    cli("load", "-q", "-i", str(archive))
    cli("db", "import", str(sample.write_osv(tmp_path / "osv")))
    return cli


def test_quickview_as_the_brief(scout: Any) -> None:
    res = scout("scout", "quickview", "myuser/tu-demo:latest")
    lines = res.stdout.splitlines()
    target = next(line for line in lines if line.startswith("Target"))
    base = next(line for line in lines if line.startswith("Base image"))
    digest = next(line for line in lines if line.strip().startswith("digest"))
    assert "myuser/tu-demo:latest" in target and target.endswith("0C     1H     1M     0L")
    assert "python:3-alpine" in base and base.endswith("0C     1H     1M     0L")
    image_digest = json.loads(scout("inspect", "myuser/tu-demo:latest").stdout)[0]["Descriptor"]["digest"]
    assert image_digest[7:19] in digest
    assert "✓ Indexed" in res.stderr or "already cached" in res.stderr
    again = scout("scout", "quickview", "myuser/tu-demo:latest")
    assert "✓ SBOM of image already cached, 6 packages indexed" in again.stderr
    doc = json.loads(scout("scout", "quickview", "--format", "json", "myuser/tu-demo:latest").stdout)
    assert doc["target"]["counts"]["High"] == 1 and doc["base"]["name"] == "python:3-alpine"


def test_cves_as_the_brief(scout: Any) -> None:
    res = scout("scout", "cves", "myuser/tu-demo:latest")
    assert "✗ Detected 1 vulnerable package with 2 vulnerabilities" in res.stderr
    out = res.stdout
    assert "0C     1H     1M     0L  expat 2.5.0-r2" in out
    assert "pkg:apk/alpine/expat@2.5.0-r2?os_name=alpine&os_version=3.19" in out
    assert "✗ HIGH CVE-2023-52425" in out and "✗ MEDIUM CVE-2023-52426" in out
    assert out.index("CVE-2023-52425") < out.index("CVE-2023-52426")  # most severe first
    assert out.count("Affected range : <2.6.0-r0") == 2 and out.count("Fixed version  : 2.6.0-r0") == 2
    high = scout("scout", "cves", "--only-severity", "high", "myuser/tu-demo:latest")
    assert "CVE-2023-52425" in high.stdout and "CVE-2023-52426" not in high.stdout
    none = scout("scout", "cves", "--only-package", "musl", "myuser/tu-demo:latest")
    assert "✓ Detected 0 vulnerable packages with 0 vulnerabilities" in none.stderr
    gate = scout("scout", "cves", "--exit-code", "myuser/tu-demo:latest", check=False)
    assert gate.returncode == 2
    doc = json.loads(scout("scout", "cves", "--format", "json", "myuser/tu-demo:latest").stdout)
    assert [v["id"] for v in doc[0]["vulnerabilities"]] == ["CVE-2023-52425", "CVE-2023-52426"]
    assert doc[0]["from_base"] is True and doc[0]["vulnerabilities"][0]["severity_source"] == "cvss_v3"


def test_base_image_alone_and_an_empty_database(scout: Any, cli: Any, tmp_path: Path) -> None:
    res = scout("scout", "quickview", "python:3-alpine")
    assert "Base image" not in res.stdout  # nothing below a one-layer base
    empty = cli("--root", str(tmp_path / "other"), "scout", "cves", "python:3-alpine", check=False)
    assert empty.returncode != 0 and empty.stderr.count("\n") == 1


def test_an_incomplete_scan_says_so_and_exits_3(cli: Any, tmp_path: Path) -> None:
    """A package database that cannot be read: what was found is printed, what was missed is said, exit 3 (a CI
    gate must not pass on a partial scan)."""
    from dockyard.image.build import build_image, directory, file

    broken = build_image(
        [
            [
                directory("etc"),
                file("etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n"),
                directory("lib"),
                directory("lib/apk"),
                directory("lib/apk/db"),
                file("lib/apk/db/installed", "P:expat\nV:2.5.0-r2\no:expat\n\n\x00\x01garbage without fields\n"),
            ]
        ]
    )
    archive = tmp_path / "broken.tar"
    docker_archive.write([(broken, ["broken/apk:1"])], archive)
    cli("load", "-q", "-i", str(archive))
    cli("db", "import", str(sample.write_osv(tmp_path / "osv")))
    res = cli("scout", "cves", "broken/apk:1", check=False)
    assert res.returncode == 3
    assert "CVE-2023-52425" in res.stdout  # what was found is reported
    assert "lib/apk/db/installed" in res.stderr and "incomplete" in res.stderr


def test_counts_show_the_unspecified_as_scout_does() -> None:
    from dockyard.scan.scout import count_text

    base = {"Critical": 0, "High": 1, "Medium": 1, "Low": 0, "Unknown": 0}
    assert count_text(base) == "0C     1H     1M     0L"
    assert count_text({**base, "Unknown": 17}) == "0C     1H     1M     0L     17?"


def test_cache_df_and_prune_as_scout(scout: Any, cli: Any) -> None:
    """``scout cache df`` lists each layer's analysis and each image's SBOM; ``cache prune`` asks first, removes
    the temporary data, and with ``--sboms`` the cached SBOMs too; a scan after either still gives the same SBOM."""
    scout("scout", "quickview", "myuser/tu-demo:latest")
    image_ids = {
        json.loads(scout("inspect", ref).stdout)[0]["Id"] for ref in ("myuser/tu-demo:latest", "python:3-alpine")
    }
    diff_ids = set(json.loads(scout("inspect", "myuser/tu-demo:latest").stdout)[0]["RootFS"]["Layers"])
    df = scout("scout", "cache", "df").stdout
    temporary, sboms = df.split("cached SBOMs are located at:")
    assert {line.split()[0] for line in temporary.splitlines() if line.startswith("  sha256:")} == diff_ids
    assert {line.split()[0] for line in sboms.splitlines() if line.startswith("  sha256:")} == image_ids
    assert "│ Size of SBOM" in sboms and sboms.rstrip().splitlines()[-1].startswith("Total: ")

    kept = scout("scout", "cache", "prune", input="n\n")
    assert "Are you sure to delete all temporary data?" in kept.stderr and "deleted" not in kept.stdout
    assert scout("scout", "cache", "df").stdout == df

    res = scout("scout", "cache", "prune", "-f")
    assert "✓ temporary data deleted" in res.stdout and "cached SBOMs" not in res.stdout
    after = scout("scout", "cache", "df").stdout.split("cached SBOMs are located at:")
    assert "  sha256:" not in after[0] and after[1] == sboms
    assert "already cached, 6 packages" in scout("scout", "quickview", "myuser/tu-demo:latest").stderr

    res = scout("scout", "cache", "prune", "--sboms", "-f")
    assert "✓ cached SBOMs deleted" in res.stdout and not res.stdout.endswith("Total reclaimed space: 0 B\n")
    assert "  sha256:" not in scout("scout", "cache", "df").stdout
    again = scout("scout", "quickview", "myuser/tu-demo:latest")
    assert "✓ Indexed 6 packages" in again.stderr and again.stdout.count("0C     1H     1M     0L") == 2


def test_cache_prune_removes_what_a_killed_prune_left(tmp_path: Path) -> None:
    from dockyard.scan.sbom.cachedisk import prune, usage

    root = tmp_path / "sbom"
    (root / "layers" / "ab12").mkdir(parents=True)
    (root / "layers" / "ab12" / "changes.json").write_text("{}")
    (root / ".layers.prune-99" / "cd34").mkdir(parents=True)  # renamed away, then the process was killed
    (root / ".layers.prune-99" / "cd34" / "apk-1.json").write_text("[1, 2]")
    (root / "images").mkdir()
    (root / "images" / "ef56-7.json").write_text("{}")
    assert [e.key for e in usage(root).layers] == ["sha256:ab12"]
    assert prune(root) == 2 + 6
    assert sorted(p.name for p in root.iterdir()) == ["images"]
    assert [(e.key, e.size) for e in usage(root).images] == [("sha256:ef56", 2)]
