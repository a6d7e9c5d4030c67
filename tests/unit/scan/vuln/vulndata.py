"""Helpers of the vulnerability-database tests: where the shared real OSV data is, and record writers."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

#: ``shared/`` beside the repository (the lead's layout and CI's: a copy of shared/ next to the clone)
SHARED = Path(os.environ.get("DOCKYARD_SHARED", Path(__file__).resolve().parents[5] / "shared"))
OSV_DATA = SHARED / "osv-data"
OSV_SAMPLES = SHARED / "osv-samples"


def need(path: Path) -> Path:
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing (shared/ must be beside the repository)")
        pytest.skip(f"{path} is missing")
    return path


def write_records(folder: Path, *records: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for rec in records:
        (folder / f"{rec['id']}.json").write_text(json.dumps(rec))
    return folder


def load_sample(relative: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(need(SHARED / relative).read_text())
    return data
