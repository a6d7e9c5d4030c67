"""Output formats, validated against their schemas (CycloneDX 1.6's ships with cyclonedx-python-lib; SPDX 2.3's is in
../shared/schemas/), and the ``dockyard sbom`` command on the store and on an OCI layout."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sbom_images import mixed_image

from dockyard.scan.sbom.formats import render
from dockyard.scan.sbom.index import Sbom, build

SHARED = Path(os.environ.get("DOCKYARD_SHARED", Path(__file__).resolve().parents[4].parent / "shared"))
SPDX_SCHEMA = SHARED / "schemas" / "spdx-schema-2.3.json"


@pytest.fixture(scope="module")
def sbom() -> Sbom:
    return build(mixed_image())


def test_cyclonedx_validates_against_the_1_6_schema(sbom: Sbom) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    text = render(sbom, "cyclonedx", "example/app:1")
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, error
    doc = json.loads(text)
    assert doc["specVersion"] == "1.6"
    purls = {c.get("purl") for c in doc["components"]}
    assert "pkg:apk/alpine/expat@2.5.0-r2?os_name=alpine&os_version=3.19" in purls
    assert {c["type"] for c in doc["components"]} == {"library", "operating-system"}
    assert len(doc["components"]) == len(sbom.packages) + 1
    assert doc["metadata"]["component"]["name"] == "example/app:1"


def test_spdx_validates_against_the_2_3_schema(sbom: Sbom) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    if not SPDX_SCHEMA.exists():
        pytest.skip(f"{SPDX_SCHEMA} is not here")
    doc = json.loads(render(sbom, "spdx", "example/app:1"))
    jsonschema.validate(doc, json.loads(SPDX_SCHEMA.read_text()))
    assert doc["spdxVersion"] == "SPDX-2.3"
    refs = [r["referenceLocator"] for p in doc["packages"] for r in p.get("externalRefs", [])]
    assert sorted(refs) == sorted(p.purl for p in sbom.packages)
    contains = [r for r in doc["relationships"] if r["relationshipType"] == "CONTAINS"]
    assert len(contains) == len(sbom.packages) + 1  # and the OS


def test_json_round_trips(sbom: Sbom) -> None:
    doc = json.loads(render(sbom, "json", "x"))
    assert Sbom.from_doc(doc).packages == sbom.packages


def test_table(sbom: Sbom) -> None:
    lines = render(sbom, "table", "x").splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "TYPE", "SOURCE", "LAYER"]
    libcrypto = next(line for line in lines if line.startswith("libcrypto3 "))
    assert libcrypto.split() == ["libcrypto3", "3.1.4-r5", "apk", "openssl", "1"]
    assert len(lines) == len(sbom.packages) + 1


def test_cli_store_image_first_then_cached(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]

    layout = tmp_path / "layout"
    _write_layout(layout)
    cli("copy", f"oci:{layout}:app", "example/app:1")
    first = cli("sbom", "example/app:1", "--format", "json")
    assert "✓ Indexed 11 packages" in first.stderr
    doc = json.loads(first.stdout)
    assert doc["os"]["ecosystem"] == "Alpine:v3.19" and len(doc["packages"]) == 11
    second = cli("sbom", "example/app:1", "--format", "cyclonedx", "-o", tmp_path / "bom.json")
    assert "✓ SBOM of image already cached, 11 packages indexed" in second.stderr
    assert second.stdout == ""
    assert json.loads((tmp_path / "bom.json").read_text())["bomFormat"] == "CycloneDX"
    direct = cli("sbom", f"oci:{layout}:app")
    assert "expat" in direct.stdout and "already cached" in direct.stderr  # same image ID, from the layout


def test_cli_incomplete_scan_exits_3(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from dockyard.image.build import build_image, file

    layout = tmp_path / "layout"
    _write_layout(
        layout, build_image([[file("etc/alpine-release", "3.19.1\n"), file("lib/apk/db/installed", "junk\n")]])
    )
    proc = cli("sbom", f"oci:{layout}:app", check=False)
    assert proc.returncode == 3
    assert "lib/apk/db/installed" in proc.stderr and "incomplete" in proc.stderr


def _write_layout(layout: Path, image=None) -> None:  # type: ignore[no-untyped-def]
    from dockyard.image.transfer import put_image
    from dockyard.transport.oci_layout import LayoutDestination, RefName

    dest = LayoutDestination(layout, as_tar=False)
    try:
        put_image(dest, image if image is not None else mixed_image())
        dest.name([RefName("app")])
        dest.commit()
    finally:
        dest.close()


def test_cli_archives_written_by_save(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    layout = tmp_path / "layout"
    _write_layout(layout)
    cli("copy", f"oci:{layout}:app", "example/app:1")
    cli("save", "-o", tmp_path / "app.tar", "example/app:1")
    cli("save", "--format", "oci", "-o", tmp_path / "app-oci.tar", "example/app:1")
    stored = json.loads(cli("sbom", "example/app:1", "--format", "json", "--no-cache").stdout)["packages"]
    for where in (f"docker-archive:{tmp_path / 'app.tar'}", f"oci-archive:{tmp_path / 'app-oci.tar'}"):
        proc = cli("sbom", where, "--format", "json", "--no-cache")
        assert "✓ Indexed 11 packages" in proc.stderr
        assert json.loads(proc.stdout)["packages"] == stored
    missing = cli("sbom", "example/none:1", check=False)
    assert missing.returncode != 0 and "No such image" in missing.stderr


@pytest.mark.parametrize(("fmt", "fields"), [("cyclonedx", ("serialNumber",)), ("spdx", ("documentNamespace",))])
def test_kept_documents_are_new_documents(
    sbom: Sbom, tmp_path: Path, fmt: str, fields: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CycloneDX/SPDX document written again from the cache differs from the first only in its serial number
    (namespace) and creation time, and still validates; another name or other packages are not served from it."""
    from dockyard.scan.sbom import formats

    first = render(sbom, fmt, "example/app:1", cache_root=tmp_path)
    assert len(list((tmp_path / "rendered").iterdir())) == 1
    writer = formats.FORMATS[fmt]

    def not_again(*_: object) -> str:
        raise AssertionError("the kept document should have been used")

    monkeypatch.setitem(formats.FORMATS, fmt, not_again)
    again = render(sbom, fmt, "example/app:1", cache_root=tmp_path)
    monkeypatch.setitem(formats.FORMATS, fmt, writer)
    a, b = json.loads(first), json.loads(again)
    for field in fields:
        assert a.pop(field) != b.pop(field)
    if fmt == "cyclonedx":
        a["metadata"].pop("timestamp"), b["metadata"].pop("timestamp")
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.validation.json import JsonStrictValidator

        assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(again) is None
    else:
        a["creationInfo"].pop("created"), b["creationInfo"].pop("created")
        assert b["name"] == "example/app:1"
    assert a == b
    other = json.loads(render(sbom, fmt, "example/other:2", cache_root=tmp_path))
    assert "example/other:2" in json.dumps(other)
    assert len(list((tmp_path / "rendered").iterdir())) == 2


def test_progress_counts_layers_and_packages() -> None:
    calls: list[tuple[int, int, bool, int]] = []
    image = mixed_image()
    result = build(image, progress=lambda i, n, _d, cached, found: calls.append((i, n, cached, found)))
    layers = len(image.layers())
    assert [(i, n, c) for i, n, c, _ in calls] == [(i, layers, False) for i in range(layers)]
    counts = [f for *_, f in calls]
    assert counts == sorted(counts) and counts[-1] >= len(result.packages)
