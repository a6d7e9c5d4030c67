"""``unpack`` prints what it did as a human line or JSON; ``export`` writes to stdout without ``-o`` and
refuses a terminal, as ``save`` does."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any


def test_unpack_prints_a_human_line(samples: Any, tmp_path: Path) -> None:
    out = samples("unpack", "dockyard/app", tmp_path / "rootfs").stdout
    assert "UnpackReport" not in out
    assert re.fullmatch(
        rf"Unpacked dockyard/app into {re.escape(str(tmp_path / 'rootfs'))}: "
        r"3 layers, \d+ files, [0-9.]+k?B, 0 skipped, 0 warnings\n",
        out,
    ), out
    assert samples("unpack", "-q", "dockyard/app", tmp_path / "quiet").stdout == ""


def test_unpack_format_json(samples: Any, tmp_path: Path) -> None:
    dest = tmp_path / "rootfs"
    doc = json.loads(samples("unpack", "--format", "json", "dockyard/app", dest).stdout)
    layers = json.loads(samples("inspect", "--format", "{{json .RootFS.Layers}}", "dockyard/app").stdout)
    assert doc["Image"] == "dockyard/app" and doc["Directory"] == str(dest)
    assert doc["Layers"] == len(layers)
    assert doc["Warnings"] == [] and doc["SkippedDevices"] == 0
    # every regular file's bytes were written once at least: the bytes now on disk are not more
    on_disk = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file() and not p.is_symlink())
    assert doc["Bytes"] >= on_disk > 0
    assert doc["Files"] >= sum(1 for p in dest.rglob("*") if p.is_file() and not p.is_symlink()) - 1  # a hardlink


def test_export_without_output_writes_stdout(samples: Any, run_bytes: Any, tmp_path: Path) -> None:
    to_file = tmp_path / "rootfs.tar"
    samples("export", "dockyard/app", "-o", to_file)
    proc = run_bytes("export", "dockyard/app")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == to_file.read_bytes()
    with tarfile.open(to_file) as tar:
        assert "usr/bin/hello" in tar.getnames()
    missing = run_bytes("export", "nothing:here")
    assert missing.returncode == 1 and missing.stdout == b""


def test_export_refuses_a_terminal(samples: Any, dockyard_root: Path) -> None:
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "dockyard", "--root", str(dockyard_root), "export", "dockyard/app"],
            stdout=follower,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 2
    assert proc.stderr == b"Error: cowardly refusing to save to a terminal. Use the -o flag or redirect\n"
