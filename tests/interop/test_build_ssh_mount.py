"""``--ssh`` and ``RUN --mount=type=ssh``: the agent socket is bound into the step at ``SSH_AUTH_SOCK``, reachable
there, and leaves nothing in the layer; a required socket that was not forwarded is an error naming it."""

from __future__ import annotations

import socket
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from build_util import clone_store, dockyard, store_image


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Path]:
    """A listening unix socket (a stand-in for ssh-agent's: minbase Debian has no client to speak to it)."""
    path = tmp_path / "agent.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(4)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.sendall(b"agent-says-hi\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path
    stop.set()
    thread.join(2)
    server.close()


def test_ssh_socket_is_mounted_and_not_kept(prepared: Path, tmp_path: Path, agent: Path) -> None:
    root = clone_store(prepared, tmp_path / "store")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM debian:bookworm\n"
        "RUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo \"$SSH_AUTH_SOCK\" > /ssh-path && echo ok > /ssh-ok\n"
    )
    dockyard(root, "build", "-q", "-t", "ssh:1", "--ssh", f"default={agent}", ctx)
    image = store_image(root, "ssh:1")
    with tarfile.open(fileobj=image.layers()[-1].open()) as tar:
        names = sorted(m.name for m in tar.getmembers())
        path = tar.extractfile("ssh-path").read().decode().strip()  # type: ignore[union-attr]
    assert names == ["ssh-ok", "ssh-path"]  # no socket, no /run/buildkit mount point
    assert path.startswith("/run/buildkit/ssh_agent.")


def test_a_required_ssh_socket_must_be_forwarded(prepared: Path, tmp_path: Path) -> None:
    root = clone_store(prepared, tmp_path / "store")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM debian:bookworm\nRUN --mount=type=ssh,required=true true\n")
    proc = dockyard(root, "build", "-q", ctx, check=False)
    assert proc.returncode != 0 and "no SSH key default forwarded" in proc.stderr
