"""Helpers of the build tests: the dockyard command on a store, a store prepared with the Debian base (and its
unpacked snapshot) and cheap clones of it, a tiny HTTP server and a ``git daemon`` on 127.0.0.1."""

from __future__ import annotations

import contextlib
import http.server
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from fixtures_util import ensure_debian_docker_archive

from dockyard.image.base import Image
from dockyard.store.store import Store

#: The build corpus: one directory per Dockerfile feature.
CORPUS = Path(__file__).resolve().parents[1] / "testdata" / "build"


def dockyard(root: Path, *args: str | os.PathLike[str], check: bool = True, timeout: float = 600,
             env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """``python -m dockyard --root ROOT ARGS`` (stdout and stderr captured)."""
    argv = [sys.executable, "-m", "dockyard", "--root", os.fspath(root), *(os.fspath(a) for a in args)]
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, check=False)  # fmt: skip
    if check and proc.returncode != 0:
        pytest.fail(f"dockyard {' '.join(argv[4:])} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def prepare_store(root: Path) -> Path:
    """A store holding ``debian:bookworm`` and its unpacked snapshot (a first RUN made it)."""
    dockyard(root, "load", "-i", ensure_debian_docker_archive())
    ctx = root.parent / f"{root.name}-warmup"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM debian:bookworm\nRUN echo warm-up-the-snapshot > /warmup\n")
    dockyard(root, "build", "-t", "warmup:1", "--progress", "plain", ctx)
    shutil.rmtree(ctx)
    return root


def clone_store(prepared: Path, dest: Path) -> Path:
    """A copy of a prepared store: immutable blobs and snapshots hard-linked, the rest copied."""
    dest.mkdir(parents=True)
    for entry in prepared.iterdir():
        target = dest / entry.name
        if entry.name == "blobs":
            subprocess.run(["cp", "-al", entry, target], check=True)
        elif entry.name == "build":
            target.mkdir()
            for sub in entry.iterdir():
                if sub.name == "snapshots":
                    subprocess.run(["cp", "-al", sub, target / sub.name], check=True)
                else:
                    subprocess.run(["cp", "-a", sub, target / sub.name], check=True)
        else:
            subprocess.run(["cp", "-a", entry, target], check=True)
    return dest


def store_image(root: Path, ref: str) -> Image:
    """The image ``ref`` in the store at ``root`` (read eagerly enough for listings: the store stays open)."""
    store = Store(root)
    return store.image(ref)


@contextlib.contextmanager
def http_server(directory: Path) -> Iterator[str]:
    """A tiny HTTP server for ``directory`` on 127.0.0.1; yields its base URL."""
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=os.fspath(directory), **kw)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def git_daemon(base: Path) -> Iterator[str]:
    """``git daemon`` serving the repositories under ``base`` on 127.0.0.1; yields ``git://127.0.0.1:PORT``."""
    port = free_port()
    proc = subprocess.Popen(
        ["git", "daemon", "--export-all", "--reuseaddr", f"--base-path={base}", "--listen=127.0.0.1",
         f"--port={port}", os.fspath(base)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"git daemon did not start: {proc.stderr.read() if proc.stderr else b''!r}")
            time.sleep(0.05)
        yield f"git://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


_STEP = re.compile(r"^#(\d+) \[(?:[\w.-]+ )?(\d+)/(\d+)\] (.*)$", re.M)


def steps(progress: str) -> dict[str, str]:
    """``--progress plain`` output -> {instruction text: "CACHED" | "DONE" | "ERROR"} for the numbered steps
    (``[k/n] ...``) except FROM."""
    result: dict[str, str] = {}
    for m in _STEP.finditer(progress):
        number, text = m.group(1), m.group(4)
        if text.startswith("FROM "):
            continue
        status = re.search(rf"^#{number} (CACHED|DONE|ERROR)\b", progress, re.M)
        result[text] = status.group(1) if status else "?"
    return result


def write(context: Path, files: dict[str, str]) -> Path:
    context.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = context / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return context
