"""Golden files: CLI output compared byte for byte with a file under ``tests/golden/``.

``pytest --update-golden`` (the option is declared in ``tests/conftest.py``) writes the files instead of comparing;
review the diff with ``git diff tests/golden`` before committing it. Trivy and docker/cli keep their expected
output this way: Docker's columns and spacing are part of dockyard's contract.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


def check_golden(config: pytest.Config, name: str, actual: str) -> None:
    """Compare ``actual`` with ``tests/golden/NAME`` byte for byte (or write it under ``--update-golden``)."""
    path = GOLDEN_DIR / name
    data = actual.encode("utf-8")
    if config.getoption("update_golden"):
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
        return
    if not path.exists():
        pytest.fail(f"golden file {path} is missing: run `pytest --update-golden` and review it", pytrace=False)
    expected = path.read_bytes()
    if data != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.decode("utf-8", "replace").splitlines(keepends=True),
                actual.splitlines(keepends=True),
                f"tests/golden/{name}",
                "actual",
            )
        )
        pytest.fail(f"output differs from tests/golden/{name} (`pytest --update-golden` to accept):\n{diff}")
