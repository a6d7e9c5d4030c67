"""The Debian version order of the matcher against ``dpkg --compare-versions`` itself, on the versions of the real
Debian advisories in ``../shared/osv-data`` and ``../shared/osv-samples``."""

from __future__ import annotations

import functools
import itertools
import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from dockyard.scan.vuln.versions import debian

pytestmark = pytest.mark.interop

SHARED = Path(os.environ.get("DOCKYARD_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))


def _versions() -> list[str]:
    found: set[str] = set()
    folders = [SHARED / "osv-data" / "Debian", SHARED / "osv-samples" / "osv-scanner-offline-dbs" / "Debian"]
    for folder in folders:
        for path in sorted(folder.rglob("*.json")):
            for entry in json.loads(path.read_text()).get("affected", []):
                found.update(entry.get("versions", []))
                for rng in entry.get("ranges", []):
                    found.update(v for e in rng["events"] for v in e.values() if v != "0")
    return sorted(found)


def _dpkg_less(a: str, b: str) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", a, "lt", b], check=False).returncode == 0


def test_debian_order_equals_dpkg() -> None:
    if shutil.which("dpkg") is None:
        pytest.skip("dpkg is not installed")
    versions = _versions()
    if len(versions) < 100:
        if os.environ.get("CI"):
            pytest.fail(f"real Debian records missing under {SHARED}")
        pytest.skip(f"real Debian records missing under {SHARED}")
    ours = sorted(versions, key=debian.parse)
    # neighbours in our order must be in dpkg's order, and so must random pairs
    rnd = random.Random(12)
    pairs = list(itertools.pairwise(ours)) + [tuple(rnd.sample(versions, 2)) for _ in range(150)]
    wrong = []
    for a, b in pairs:
        mine = debian.parse(a) < debian.parse(b)
        if mine != _dpkg_less(a, b):
            wrong.append((a, b, mine))
    assert wrong == []
    assert len(pairs) > 400


def test_dpkg_sort_of_a_sample_matches() -> None:
    if shutil.which("dpkg") is None:
        pytest.skip("dpkg is not installed")
    sample = ["1:4.13+dfsg1-1", "4.13+dfsg1-1", "2.36-9+deb12u4", "2.36-9+deb12u10", "2.36-9", "2.36-9~bpo1", "2.36"]

    def cmp(a: str, b: str) -> int:
        return -1 if _dpkg_less(a, b) else (1 if _dpkg_less(b, a) else 0)

    assert sorted(sample, key=functools.cmp_to_key(cmp)) == sorted(sample, key=debian.parse)
