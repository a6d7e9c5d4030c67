"""``dockyard build`` errors found before anything runs (no root needed): the Dockerfile's syntax, unknown
instructions and flags, a missing Dockerfile, each named with file and line, and nothing written to the store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def build(root: Path, ctx: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "dockyard", "--root", os.fspath(root), "build", "-t", "x:1", "--progress", "plain",
            *args, os.fspath(ctx)]  # fmt: skip
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(
    ("dockerfile", "where", "words"),
    [
        ("FROM scratch\nFOO bar\n", "Dockerfile:2", "unknown instruction: FOO"),
        ("FROM scratch\nCOPY --nope a /a\n", "Dockerfile:2", "nope"),
        ("FROM scratch\n\nRUN <<EOF\necho never ends\n", "Dockerfile:3", "unterminated heredoc"),
        ("FROM scratch\nONBUILD ONBUILD RUN true\n", "Dockerfile:2", "ONBUILD"),
        ("COPY a /a\n", "Dockerfile:1", "no build stage in current context"),
        ("FROM scratch\nHEALTHCHECK --interval=banana CMD true\n", "Dockerfile:2", "banana"),
    ],
    ids=["unknown-instruction", "unknown-flag", "unterminated-heredoc", "onbuild-onbuild", "no-from", "bad-duration"],
)
def test_dockerfile_errors_name_file_and_line(dockerfile: str, where: str, words: str, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    proc = build(tmp_path / "root", ctx)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    assert where in proc.stderr and words in proc.stderr, proc.stderr


def test_missing_dockerfile(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    proc = build(tmp_path / "root", ctx)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "Dockerfile" in proc.stderr and "no such file" in proc.stderr, proc.stderr


def test_named_dockerfile_errors_use_its_name(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "app.Dockerfile").write_text("FROM scratch\nWORKDIR\n")
    proc = build(tmp_path / "root", ctx, "-f", os.fspath(ctx / "app.Dockerfile"))
    assert proc.returncode != 0 and "app.Dockerfile:2" in proc.stderr, proc.stderr
