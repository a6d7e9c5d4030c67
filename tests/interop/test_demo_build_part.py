"""``make demo``'s build part: it runs here (root, runc, QEMU), and under CI it never skips."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard import demo

# binfmt_misc is one for the whole host: every module that registers or removes QEMU runs in one xdist worker
pytestmark = pytest.mark.xdist_group("binfmt")


def test_the_demo_builds_its_two_platform_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reason = demo.build_unavailable()
    if os.environ.get("CI"):
        assert reason is None, f"under CI the demo's build part must run: {reason}"
    elif reason is not None:
        pytest.skip(reason)
    demo._build_part(tmp_path, tmp_path / "store")
    shown = capsys.readouterr().out
    assert "linux_amd64: hello from x86_64 (linux/amd64); built on linux/amd64" in shown
    assert "linux_arm64: hello from aarch64 (linux/arm64); built on linux/amd64" in shown
    assert "skipped" not in shown
