"""``dockyard pull`` from a real registry, stopped by SIGTERM while its layers stream in concurrently:
exit 143, one line on stderr, no temp file left in the store, nothing recorded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from registry_util import Registry, push_image, unique_image

from dockyard.store.store import Store
from dockyard.transport.registry.client import RegistryClient

pytestmark = pytest.mark.interop


def test_sigterm_during_a_pull(registry: Registry, tmp_path: Path) -> None:
    image = unique_image("sigterm-pull", size=40 << 20, compression="gzip")  # two layers: copied concurrently
    push_image(RegistryClient(registry.host), "signals/big", image, "1")
    root = tmp_path / "store"
    env = {**os.environ, "DOCKYARD_ROOT": str(root), "NO_COLOR": "1", "TMPDIR": str(tmp_path)}
    caught = False
    for _attempt in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-m", "dockyard", "pull", f"{registry.host}/signals/big:1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        deadline = time.monotonic() + 60
        while not caught and time.monotonic() < deadline and proc.poll() is None:
            for f in (root / "tmp").glob("ingest-*"):
                try:
                    caught = f.stat().st_size >= 1 << 20
                except FileNotFoundError:
                    continue
                if caught:
                    proc.send_signal(signal.SIGTERM)
                    break
            time.sleep(0.002)
        _out, err = proc.communicate(timeout=60)
        if caught:
            break
        with Store(root) as store:  # finished first: remove it and try again
            store.remove(f"{registry.host}/signals/big:1")
    assert caught, "could not catch the pull in the middle of a layer"
    assert proc.returncode == 143, err.decode()
    assert err.decode().splitlines() == ["terminated"]
    assert list((root / "tmp").iterdir()) == []
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(("dockyard", "tmp"))]
    with Store(root) as store:
        report = store.check()
        assert report.ok, report.problems
        assert store.summaries() == []
        assert not report.unreferenced_blobs, report.unreferenced_blobs  # a finished layer is taken back too
