"""``dockyard build`` on bad input: errors name the Dockerfile and line, a failing RUN says its exit code and last
output and leaves nothing behind (no tag, no mount, no runc state), sources outside the context are "not found",
a .dockerignore may exclude the Dockerfile, and a build killed with SIGKILL mid-RUN is cleaned up by the next one.
Needs root and runc."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from build_util import clone_store, dockyard

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(os.geteuid() != 0, reason="RUN steps need root (runc, overlayfs mounts)"),
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed (Debian package runc)"),
]


@pytest.fixture
def store(prepared: Path, tmp_path: Path) -> Iterator[Path]:
    root = clone_store(prepared, tmp_path / "root")
    yield root
    assert mounts_under(root) == []


def mounts_under(path: Path) -> list[str]:
    """Mount points under ``path`` (from /proc/self/mountinfo)."""
    prefix = os.fspath(path.resolve())
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return found


def context(tmp_path: Path, dockerfile: str, files: dict[str, str] | None = None, name: str = "ctx") -> Path:
    ctx = tmp_path / name
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    for rel, text in (files or {}).items():
        (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
        (ctx / rel).write_text(text)
    return ctx


def failed_build(store: Path, ctx: Path, *args: str) -> str:
    """Build that must fail; its stderr."""
    proc = dockyard(store, "build", "-t", "bad:1", "--progress", "plain", *args, ctx, check=False)
    assert proc.returncode != 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


def images(store: Path) -> str:
    return dockyard(store, "images", "--all", "--quiet", "--no-trunc").stdout


def leftovers(store: Path) -> list[str]:
    """What a build left in the store's build work directory (temporary layers, overlays, runc state)."""
    work = store / "build" / "work"
    return sorted(p.name for p in work.iterdir()) if work.is_dir() else []


def sleepers(tag: str) -> list[int]:
    """Processes running the killed RUN (their command line says ``sleep TAG``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if f"sleep {tag}".encode() in (entry / "cmdline").read_bytes().replace(b"\0", b" "):
                    found.append(int(entry.name))
    return found


def test_syntax_error_names_file_and_line(store: Path, tmp_path: Path) -> None:
    ctx = context(tmp_path, "FROM debian:bookworm\nRUN true\nCOPY --bogus=1 a /a\n")
    err = failed_build(store, ctx)
    assert "Dockerfile:3" in err and "bogus" in err, err


def test_syntax_error_in_named_dockerfile(store: Path, tmp_path: Path) -> None:
    ctx = context(tmp_path, "FROM debian:bookworm\n")
    (ctx / "build.Dockerfile").write_text("FROM debian:bookworm\n\nENV\n")
    err = failed_build(store, ctx, "-f", os.fspath(ctx / "build.Dockerfile"))
    assert "build.Dockerfile:3" in err, err


def test_unknown_instruction(store: Path, tmp_path: Path) -> None:
    ctx = context(tmp_path, "FROM debian:bookworm\nFOO bar\n")
    err = failed_build(store, ctx)
    assert "Dockerfile:2" in err and "unknown instruction: FOO" in err, err


def test_failing_run_leaves_nothing(store: Path, tmp_path: Path) -> None:
    before = images(store)
    ctx = context(tmp_path, (
        "FROM debian:bookworm\nRUN echo first-line > /a\n"
        "RUN echo line-one; echo line-two; echo last-words >&2; exit 7\n"
    ))  # fmt: skip
    err = failed_build(store, ctx)
    assert "exit code: 7" in err, err
    assert "last-words" in err and "line-two" in err, err
    assert "Dockerfile:3" in err, err
    assert images(store) == before
    assert mounts_under(store) == []
    assert leftovers(store) == []


def test_copy_missing_file(store: Path, tmp_path: Path) -> None:
    ctx = context(tmp_path, "FROM debian:bookworm\nCOPY missing.txt /x\n")
    err = failed_build(store, ctx)
    assert "Dockerfile:2" in err and '"/missing.txt": not found' in err, err


def test_copy_parent_path_is_not_found(store: Path, tmp_path: Path) -> None:
    """``COPY ../x`` resolves inside the context root, as BuildKit does: not found, even when ../x exists."""
    (tmp_path / "x").write_text("outside the context\n")
    ctx = context(tmp_path, "FROM debian:bookworm\nCOPY ../x /x\n")
    err = failed_build(store, ctx)
    assert "not found" in err, err


def test_copy_symlink_out_of_context_is_not_found(store: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_text("outside the context\n")
    ctx = context(tmp_path, "FROM debian:bookworm\nCOPY escape/outside.txt /x\n")
    (ctx / "escape").symlink_to("..")
    err = failed_build(store, ctx)
    assert "not found" in err, err
    ctx2 = context(tmp_path, "FROM debian:bookworm\nCOPY abs /x\n", name="ctx2")
    (ctx2 / "abs").symlink_to(tmp_path / "outside.txt")
    err = failed_build(store, ctx2)
    assert "not found" in err, err


def test_dockerignore_excluding_the_dockerfile_still_builds(store: Path, tmp_path: Path) -> None:
    files = {"a.txt": "a\n", ".dockerignore": "Dockerfile\n"}
    ctx = context(tmp_path, "FROM debian:bookworm\nCOPY a.txt /a.txt\n", files)
    dockyard(store, "build", "-t", "ok:1", "--progress", "plain", ctx)
    (ctx / "Dockerfile").write_text("FROM debian:bookworm\nCOPY Dockerfile /Dockerfile\n")
    err = failed_build(store, ctx)
    assert '"/Dockerfile": not found' in err, err


@contextlib.contextmanager
def killed_mid_run(store: Path, tmp_path: Path) -> Iterator[str]:
    """A build SIGKILLed while its RUN (``sleep TAG``, a duration no other test uses at the same time) runs, then
    another build in the same store; yields TAG; at exit, kills what the killed build started that still runs."""
    tag = f"29.{secrets.randbelow(10**6):06d}"
    ctx = context(tmp_path, f"FROM debian:bookworm\nRUN echo started-sleeping && sleep {tag}\n")
    argv = [sys.executable, "-m", "dockyard", "--root", os.fspath(store), "build", "-t", "killed:1", "--progress",
            "plain", os.fspath(ctx)]  # fmt: skip
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 60
        seen = b""
        while b"started-sleeping" not in seen:
            line = proc.stderr.readline()
            assert line and time.monotonic() < deadline, seen.decode(errors="replace")
            seen += line
        time.sleep(0.5)
        assert mounts_under(store) != []  # the RUN's overlay is mounted now
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        other = context(tmp_path, "FROM debian:bookworm\nRUN echo after > /after\n", name="next")
        dockyard(store, "build", "-t", "next:1", "--progress", "plain", other)
        yield tag
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for pid in sleepers(tag):  # the killed RUN, when the next build did not stop it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_sigkill_mid_run_is_cleaned_by_the_next_build(store: Path, tmp_path: Path) -> None:
    with killed_mid_run(store, tmp_path):
        assert mounts_under(store) == []
        assert leftovers(store) == []
        assert "killed" not in dockyard(store, "images").stdout
        check = dockyard(store, "system", "check")
        assert "OK" in check.stdout, check.stdout


def test_sigkill_mid_run_container_is_killed_by_the_next_build(store: Path, tmp_path: Path) -> None:
    with killed_mid_run(store, tmp_path) as tag:
        assert sleepers(tag) == [], "the killed build's RUN is still running"
