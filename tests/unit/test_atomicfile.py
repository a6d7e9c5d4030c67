"""Temporary names that carry their owner's pid, and the sweep of what dead owners left."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dockyard.atomicfile import owned_prefix, sweep_dead


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid  # reaped: no process has this pid until it is reused


def test_sweep_takes_only_dead_owners_entries(tmp_path: Path) -> None:
    dead = _dead_pid()
    (tmp_path / f".pull-{dead}-x1").write_bytes(b"half a database")
    (tmp_path / f".pull-{dead}-x1-wal").write_bytes(b"")
    (tmp_path / f".pull-{dead}-dir").mkdir()
    (tmp_path / f".pull-{dead}-dir" / "f").write_bytes(b"1")
    mine = tmp_path / f"{owned_prefix('.pull-')}x2"
    mine.write_bytes(b"in progress")
    (tmp_path / ".pull-notapid-x3").write_bytes(b"")  # not a name this module gave
    (tmp_path / "vuln.db").write_bytes(b"")
    assert mine.name.startswith(f".pull-{os.getpid()}-")
    assert sweep_dead(tmp_path, ".pull-") == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, ".pull-notapid-x3", "vuln.db"])
    assert sweep_dead(tmp_path / "missing", ".pull-") == 0
