"""Golden files for ``images``, ``history``, ``inspect`` and ``system df`` on deterministic images (the synthetic
builder's fixed timestamps and bytes; relative times counted from a fixed clock, ``views.clock``).
``pytest --update-golden`` rewrites them; the comparison is byte for byte."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from golden_util import check_golden

from dockyard import views
from dockyard.cli.main import main
from dockyard.image.base import StaticImage
from dockyard.image.build import LayerSpec, build_image, directory, file
from dockyard.image.sample import app_image, base_image
from dockyard.oci import reference as refs
from dockyard.store.store import Store

#: "now" for the relative columns: CREATED stays "2 years ago" whatever the year the tests run in
CLOCK = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
APP_DIGEST = "sha256:" + "ab" * 32


def _wide_image() -> StaticImage:
    """Names and commands wider than Docker's columns: CJK (two columns a character), a long CREATED BY, a
    comment, an author, <>& that Go's JSON escapes; created long ago (history shows dates before 2000 as N/A)."""
    first = [directory("srv"), file("srv/日本語.txt", "こんにちは\n")]
    second = [file("srv/big.bin", b"x" * 123_456)]
    return build_image(
        [
            LayerSpec(first, "/bin/sh -c echo 日本語 > /srv/日本語.txt && true", "made <by> hand & co"),
            LayerSpec(second, "/bin/sh -c dd if=/dev/zero of=/srv/big.bin bs=1 count=123456 # and more"),
        ],
        created="1999-12-31T23:59:59Z",
        author="Golden <golden@example.com>",
        config={"Env": ["A=<b>&c"], "Cmd": ["/bin/true"], "Labels": {"golden": "yes"}},
        empty_history=[(2, '/bin/sh -c #(nop)  CMD ["/bin/true"]')],
    )


@pytest.fixture
def golden_store(dockyard_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(views, "clock", lambda: CLOCK)
    with Store(dockyard_root) as store:
        store.ingest(base_image(), [refs.parse("dockyard/sample:1.0"), refs.parse("registry.example:5000/base:v1")])
        store.ingest(
            app_image(), [refs.parse("dockyard/app:latest")], repo_digests=[refs.parse(f"dockyard/app@{APP_DIGEST}")]
        )
        store.ingest(_wide_image(), [refs.parse("golden/wide:1")])
    return dockyard_root


@pytest.fixture
def run(golden_store: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., str]:
    """The CLI in this process (so the fixed clock holds): its stdout, with the store's path made constant."""

    def run(*args: str) -> str:
        capsys.readouterr()
        status = main(["--root", os.fspath(golden_store), *args])
        captured = capsys.readouterr()
        assert status == 0, captured.err
        return captured.out.replace(os.fspath(golden_store), "$DOCKYARD_ROOT")

    return run


CASES = {
    "images.txt": ["images"],
    "images-digests.txt": ["images", "--digests"],
    "images-no-trunc.txt": ["images", "--no-trunc"],
    "images-json.txt": ["images", "--format", "json"],
    "images-table-template.txt": ["images", "--format", "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.Size}}"],
    "history-app.txt": ["history", "dockyard/app"],
    "history-wide.txt": ["history", "golden/wide:1"],
    "history-wide-no-trunc.txt": ["history", "--no-trunc", "golden/wide:1"],
    "history-wide-raw.txt": ["history", "-H=false", "golden/wide:1"],
    "history-wide-json.txt": ["history", "--format", "json", "golden/wide:1"],
    "inspect-app.json": ["inspect", "dockyard/app"],
    "inspect-wide.json": ["inspect", "golden/wide:1"],
    "inspect-two.json": ["inspect", "dockyard/sample:1.0", "golden/wide:1"],
    "system-df.txt": ["system", "df"],
    "system-df-v.txt": ["system", "df", "-v"],
    "system-df-json.txt": ["system", "df", "--format", "json"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(run: Callable[..., str], request: pytest.FixtureRequest, name: str) -> None:
    check_golden(request.config, name, run(*CASES[name]))
