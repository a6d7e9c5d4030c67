"""Pull/push progress rendering: Docker's plain lines when piped, rich bars on a terminal."""

from __future__ import annotations

import pytest

from dockyard.cli.progress import Progress
from dockyard.events import PullEvent

EVENTS = [
    PullEvent("abc", "Pulling fs layer"),
    PullEvent("abc", "Downloading", 100_000, 1_000_000),
    PullEvent("def", "Already exists"),
    PullEvent("abc", "Verifying Checksum", 1_000_000, 1_000_000),
    PullEvent("abc", "Download complete"),
    PullEvent("abc", "Pull complete"),
]


def test_plain_lines_skip_byte_progress(capsys: pytest.CaptureFixture[str]) -> None:
    with Progress(tty=False) as progress:
        progress.line("v1: Pulling from x")
        for e in EVENTS:
            progress(e)
        progress.line("Digest: sha256:0")
    assert capsys.readouterr().out.splitlines() == [
        "v1: Pulling from x",
        "abc: Pulling fs layer",
        "def: Already exists",
        "abc: Verifying Checksum",
        "abc: Download complete",
        "abc: Pull complete",
        "Digest: sha256:0",
    ]


def test_terminal_bars_end_with_each_layer_state(capsys: pytest.CaptureFixture[str]) -> None:
    with Progress(tty=True) as progress:
        for e in EVENTS:
            progress(e)
        progress.line("Digest: sha256:0")
    out = capsys.readouterr().out
    assert "abc: Pull complete" in out and "def: Already exists" in out and out.rstrip().endswith("Digest: sha256:0")


def test_quiet_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with Progress(quiet=True, tty=False) as progress:
        for e in EVENTS:
            progress(e)
        progress.line("Digest: sha256:0")
    assert capsys.readouterr().out == ""
