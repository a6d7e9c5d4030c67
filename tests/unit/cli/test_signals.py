"""SIGTERM and SIGHUP end a command as Ctrl-C does (clean up, one line, exit 128+n); a SIGKILL's leftover is
removed by the next writer alone in the store and counted by ``image prune``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.cli.render import human_size
from dockyard.image.build import build_image, directory, file
from dockyard.store.store import Store
from dockyard.transport import docker_archive


@pytest.fixture(scope="module")
def big_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A docker-archive with one 48 MiB gzip layer of random bytes (slow enough to be caught mid-write)."""
    image = build_image([[directory("data"), file("data/blob.bin", os.urandom(48 << 20))]], compression="gzip")
    path = tmp_path_factory.mktemp("signals") / "big.tar"
    with open(path, "wb") as f:
        docker_archive.write([(image, ["big:1"])], f)
    return path


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The child's environment: its own TMPDIR, so that a leaked spool file would be seen."""
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    yield {**os.environ, "TMPDIR": str(systmp), "NO_COLOR": "1"}


def _dockyard(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "dockyard", "--root", str(root), *args]


def _wait_for_ingest(proc: subprocess.Popen[bytes], root: Path, least: int = 1 << 20) -> int:
    """Wait until a temp file of the ingest holds ``least`` bytes; returns its size (0 if the load finished)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        for f in (root / "tmp").glob("ingest-*"):
            try:
                size = f.stat().st_size
            except FileNotFoundError:
                continue
            if size >= least:
                return size
        time.sleep(0.005)
    return 0


def _temp_files(root: Path) -> list[Path]:
    return sorted((root / "tmp").iterdir()) if (root / "tmp").exists() else []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signal_during_a_load_cleans_up_and_exits_128_plus_n(
    signum: signal.Signals, big_archive: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    root = tmp_path / "store"
    for _attempt in range(5):
        proc = subprocess.Popen(
            _dockyard(root, "load", "-q", "-i", str(big_archive)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        caught = _wait_for_ingest(proc, root)
        if caught:
            proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
        if caught:
            break
        with Store(root) as store:  # finished before we could signal it: remove and retry
            store.remove("big:1")
    assert caught, "could not catch the load in the middle of a blob write"
    assert proc.returncode == 128 + signum, err.decode()
    lines = err.decode().splitlines()
    assert len(lines) == 1 and lines[0], lines
    assert out == b""
    assert _temp_files(root) == []
    assert os.listdir(env["TMPDIR"]) == []
    with Store(root) as store:
        report = store.check()
        assert report.ok, report.problems
        assert report.temp_files == [] and not report.unreferenced_blobs
        assert store.summaries() == []


def test_sigterm_while_reading_stdin_leaves_no_spool_file(
    big_archive: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    """``load`` from a pipe that delivers slowly: killed while spooling stdin, nothing of it is left."""
    root = tmp_path / "store"
    proc = subprocess.Popen(
        _dockyard(root, "load", "-q"), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert proc.stdin is not None
    with open(big_archive, "rb") as f:
        proc.stdin.write(f.read(4 << 20))  # the rest never comes: a throttled pipe
        proc.stdin.flush()
    systmp = Path(env["TMPDIR"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(p.stat().st_size >= 4 << 20 for p in systmp.iterdir()):
        time.sleep(0.01)
    assert [p.name for p in systmp.iterdir() if p.name.startswith("dockyard-load-")], "never spooled"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert out == b""
    assert proc.returncode == 143, err.decode()
    assert len(err.decode().splitlines()) == 1
    assert list(systmp.iterdir()) == []
    assert _temp_files(root) == []


def test_sigkill_leftover_is_counted_by_prune(big_archive: Path, tmp_path: Path, env: dict[str, str]) -> None:
    root = tmp_path / "store"
    leftover = 0
    for _attempt in range(5):
        proc = subprocess.Popen(
            _dockyard(root, "load", "-q", "-i", str(big_archive)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        if _wait_for_ingest(proc, root, 4 << 20):
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            leftover = sum(p.stat().st_size for p in _temp_files(root))
            break
        proc.wait()
        with Store(root) as store:
            store.remove("big:1")
    assert leftover >= 4 << 20, "could not catch the load in the middle of a blob write"
    with Store(root) as store:
        blobs_before = sum(store.blobs.size(d) for d in store.blobs.list())
    done = subprocess.run(
        _dockyard(root, "image", "prune", "-f"), capture_output=True, text=True, env=env, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    reported = re.search(r"^Total reclaimed space: (.+)$", done.stdout, re.M)
    assert reported is not None, done.stdout
    assert reported.group(1) == human_size(leftover + blobs_before)  # nothing is recorded: all of it goes
    assert _temp_files(root) == []


def test_hangup_stays_ignored_under_nohup(tmp_path: Path, env: dict[str, str]) -> None:
    """``nohup dockyard load ...``: SIGHUP was ignored when dockyard started, so the load goes on."""
    from dockyard.image.sample import base_image

    archive = tmp_path / "small.tar"
    with open(archive, "wb") as f:
        docker_archive.write([(base_image(), ["sample:1"])], f)
    data = archive.read_bytes()
    root = tmp_path / "store"
    proc = subprocess.Popen(
        _dockyard(root, "load", "-q"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),  # what nohup does
    )
    assert proc.stdin is not None
    proc.stdin.write(data[: len(data) // 2])
    proc.stdin.flush()
    systmp = Path(env["TMPDIR"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(p.stat().st_size > 0 for p in systmp.iterdir()):
        time.sleep(0.01)
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.2)
    out, err = proc.communicate(data[len(data) // 2 :], timeout=60)
    assert proc.returncode == 0, err.decode()
    assert out.decode() == "Loaded image: sample:1\n"
