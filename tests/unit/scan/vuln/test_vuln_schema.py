"""The hand-written OSV schema check agrees with jsonschema on the real schema, real records and broken ones."""

from __future__ import annotations

import copy
import json
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from vulndata import OSV_DATA, OSV_SAMPLES, need

from dockyard.scan.vuln.schema import problems

jsonschema = pytest.importorskip("jsonschema")


@pytest.fixture(scope="module")
def validator() -> Any:
    schema = json.loads(need(OSV_SAMPLES / "osv-schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def _real_records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for zpath in (OSV_DATA / "PyPI" / "all.zip", OSV_DATA / "Alpine" / "all.zip"):
        with zipfile.ZipFile(need(zpath)) as zf:
            names = sorted(zf.namelist())
            records += [json.loads(zf.read(n)) for n in names[:: max(1, len(names) // 400)]]  # a spread sample
    for path in sorted((OSV_DATA / "Debian").rglob("*.json")) + sorted(OSV_SAMPLES.rglob("*.json")):
        if path.name != "osv-schema.json":
            records.append(json.loads(path.read_text()))
    return records


def _agree(validator: Any, record: Any) -> bool:
    expected_valid = not list(validator.iter_errors(record))
    got_valid = not problems(record)
    return expected_valid == got_valid


def test_real_records_agree(validator: Any) -> None:
    records = _real_records()
    assert len(records) > 1000
    disagree = [r.get("id") for r in records if not _agree(validator, r)]
    assert disagree == []


def test_the_four_known_bad_pypi_records_fail_only_in_git_ranges(validator: Any) -> None:
    with zipfile.ZipFile(need(OSV_DATA / "PyPI" / "all.zip")) as zf:
        for rid in ("PYSEC-2017-27", "PYSEC-2019-155", "PYSEC-2021-371", "PYSEC-2023-80"):
            record = json.loads(zf.read(f"{rid}.json"))
            found = problems(record)
            assert found and all(p.git_only for p in found), rid
            assert list(validator.iter_errors(record)), rid


def _base() -> dict[str, Any]:
    return json.loads(
        (need(OSV_SAMPLES / "osv-scanner-offline-dbs" / "Alpine" / "ALPINE-CVE-2025-26519.json")).read_text()
    )


Mutation = Callable[[dict[str, Any]], None]

MUTATIONS: dict[str, Mutation] = {
    "no id": lambda r: r.pop("id"),
    "no modified": lambda r: r.pop("modified"),
    "unknown top field": lambda r: r.update(extra=1),
    "id prefix": lambda r: r.update(id="NOPE-1"),
    "modified not a time": lambda r: r.update(modified="yesterday"),
    "modified without Z": lambda r: r.update(modified="2024-01-01T00:00:00"),
    "aliases not strings": lambda r: r.update(aliases=[1]),
    "fine: aliases null": lambda r: r.update(aliases=None),
    "unknown ecosystem": lambda r: r["affected"][0]["package"].update(ecosystem="Nonsense"),
    "package without name": lambda r: r["affected"][0]["package"].pop("name"),
    "range type": lambda r: r["affected"][0]["ranges"][0].update(type="SOMETHING"),
    "no events": lambda r: r["affected"][0]["ranges"][0].update(events=[]),
    "no introduced": lambda r: r["affected"][0]["ranges"][0].update(events=[{"fixed": "1.0-r0"}]),
    "two keys in one event": lambda r: r["affected"][0]["ranges"][0]["events"].append(
        {"introduced": "1", "fixed": "2"}
    ),
    "event value not a string": lambda r: r["affected"][0]["ranges"][0]["events"].append({"fixed": 2}),
    "fixed and last_affected": lambda r: r["affected"][0]["ranges"][0]["events"].append({"last_affected": "3"}),
    "GIT without repo": lambda r: r["affected"][0]["ranges"].append({"type": "GIT", "events": [{"introduced": "0"}]}),
    "GIT short sha": lambda r: r["affected"][0]["ranges"].append(
        {"type": "GIT", "repo": "x", "events": [{"introduced": "0"}, {"fixed": "abc123"}]}
    ),
    "severity type": lambda r: r.update(severity=[{"type": "CVSS_V9", "score": "x"}]),
    "bad CVSS v3 vector": lambda r: r.update(severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:Q"}]),
    "bad CVSS v4 vector": lambda r: r["severity"].__setitem__(0, {"type": "CVSS_V4", "score": "CVSS:4.0/AV:N"}),
    "severity at top and in affected": lambda r: r["affected"][0].update(
        severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}]
    ),
    "reference type": lambda r: r.update(references=[{"type": "BLOG", "url": "https://x"}]),
    "reference without url": lambda r: r.update(references=[{"type": "WEB"}]),
    "credits without name": lambda r: r.update(credits=[{"type": "FINDER"}]),
    "affected not an array": lambda r: r.update(affected={}),
    "versions not strings": lambda r: r["affected"][0].update(versions=[1, 2]),
    "ecosystem_specific not an object": lambda r: r["affected"][0].update(ecosystem_specific=[]),
    "fine: limit event": lambda r: r["affected"][0]["ranges"][0]["events"].append({"limit": "9"}),
    "fine: Ubuntu severity": lambda r: r.update(severity=[{"type": "Ubuntu", "score": "medium"}]),
    "fine: affected null": lambda r: r.update(affected=None),
    "fine: withdrawn": lambda r: r.update(withdrawn="2024-01-01T00:00:00.5Z"),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_broken_records_agree(validator: Any, name: str) -> None:
    record = copy.deepcopy(_base())
    MUTATIONS[name](record)
    assert _agree(validator, record), (name, [str(p) for p in problems(record)])
    assert bool(problems(record)) == (not name.startswith("fine:"))
