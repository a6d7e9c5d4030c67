"""``dockyard db import|status|update`` end to end, ``update`` against an HTTP server on 127.0.0.1."""

from __future__ import annotations

import functools
import json
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from vulndata import OSV_DATA, need, write_records

from dockyard.scan.vuln.db import VulnDB


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def osv_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, served folder): a plain HTTP server on 127.0.0.1 laid out as osv.dev's bucket."""
    served = tmp_path / "bucket"
    (served / "Alpine").mkdir(parents=True)
    shutil.copy(need(OSV_DATA / "Alpine" / "all.zip"), served / "Alpine" / "all.zip")
    handler = functools.partial(_Quiet, directory=str(served))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", served
    finally:
        server.shutdown()
        server.server_close()


def _bad(tmp_path: Path) -> Path:
    good = {
        "id": "ALPINE-CVE-2024-0001",
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "Alpine:v3.19", "name": "expat"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.6.0-r0"}]}],
            }
        ],
    }
    broken = json.loads(json.dumps(good))
    broken["id"] = "ALPINE-CVE-2024-0002"
    broken["affected"][0]["ranges"][0]["events"] = [{"fixed": "2.6.0-r0"}]
    return write_records(tmp_path / "records", good, broken)


def test_import_names_skipped_records_with_v(cli: Any, tmp_path: Path) -> None:
    folder = _bad(tmp_path)
    quiet = cli("db", "import", folder)
    assert "Imported 1 record: 1 new" in quiet.stdout
    assert "Skipped 1 record that failed the OSV schema (-v names them)" in quiet.stdout
    assert "ALPINE-CVE-2024-0002" not in quiet.stdout
    loud = cli("db", "import", "-v", folder)
    assert "skipped ALPINE-CVE-2024-0002" in loud.stdout and "no introduced event" in loud.stdout
    assert "1 unchanged" in loud.stdout


def test_import_of_something_that_is_not_osv_warns(cli: Any, tmp_path: Path) -> None:
    junk = tmp_path / "all.zip"
    junk.write_text("<html>")
    proc = cli("db", "import", junk, check=False)
    assert proc.returncode == 1
    assert f"Warning: {junk}: not an OSV zip" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_status(cli: Any, tmp_path: Path, dockyard_root: Path) -> None:
    empty = cli("db", "status")
    assert "(0 records)" in empty.stdout and "db import" in empty.stdout
    cli("db", "import", _bad(tmp_path))
    table = cli("db", "status").stdout.splitlines()
    assert table[0] == f"Database: {dockyard_root / 'vuln.db'} (1 record)"
    assert table[1].split() == ["ECOSYSTEM", "RECORDS", "IMPORTED", "AGE"]
    assert table[2].split()[:2] == ["Alpine", "1"] and table[2].endswith("ago")
    doc = json.loads(cli("db", "status", "--format", "json").stdout)
    assert doc["Records"] == 1
    assert doc["Ecosystems"][0]["Ecosystem"] == "Alpine" and doc["Ecosystems"][0]["AgeSeconds"] >= 0


def test_update_from_a_local_server(cli: Any, osv_server: tuple[str, Path], dockyard_root: Path) -> None:
    url, _ = osv_server
    proc = cli("db", "update", "--url", url, "--ecosystem", "Alpine")
    assert "Downloaded Alpine" in proc.stderr
    assert "Imported 2,432 records: 2,432 new" in proc.stdout
    with VulnDB(dockyard_root / "vuln.db") as db:
        status = {s.ecosystem: (s.records, s.source) for s in db.status()}
    assert status == {"Alpine": (2432, url)}
    # the next update fetches what the database holds, by default; nothing changed upstream
    again = cli("db", "update", "--url", url)
    assert "2,432 unchanged" in again.stdout


def test_update_failures_say_so_in_one_line_and_keep_the_database(
    cli: Any, osv_server: tuple[str, Path], tmp_path: Path, dockyard_root: Path
) -> None:
    url, _ = osv_server
    cli("db", "import", _bad(tmp_path))
    # one ecosystem served, one missing: nothing is imported, not even the one that arrived
    missing = cli("db", "update", "--url", url, "--ecosystem", "Alpine", "--ecosystem", "Nope", check=False)
    assert missing.returncode == 1
    assert missing.stderr.splitlines()[-1] == (
        f"Error: cannot update the vulnerability database: {url}/Nope/all.zip answered 404 File not found; "
        "the database is unchanged"
    )
    # no server at all
    dead = "http://127.0.0.1:9"
    down = cli("db", "update", "--url", dead, check=False)
    assert down.returncode == 1
    lines = down.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"Error: cannot update the vulnerability database: {dead}/Alpine/all.zip"
    )
    assert lines[0].endswith("the database is unchanged")
    with VulnDB(dockyard_root / "vuln.db") as db:
        assert db.count() == 1 and [s.ecosystem for s in db.status()] == ["Alpine"]


def _stalling_server(stop: threading.Event) -> tuple[str, threading.Thread]:
    """An HTTP server that promises 10 MB, sends 6 MiB of it, then waits: a download caught in the middle."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n" + b"PK" * (3 << 20))
            stop.wait(60)
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", thread


def test_a_killed_update_leaves_nothing_the_next_one_does_not_remove(
    cli: Any, osv_server: tuple[str, Path], dockyard_root: Path
) -> None:
    import signal
    import subprocess
    import sys
    import time

    stop = threading.Event()
    stalling, thread = _stalling_server(stop)
    dockyard_root.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "dockyard", "db", "update", "--url", stalling, "--ecosystem", "Alpine"]
    proc = subprocess.Popen(argv, env=cli.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        partial: list[Path] = []
        while time.monotonic() < deadline and not partial:
            partial = [p for p in dockyard_root.glob(".osv-download-*/*") if p.stat().st_size > 0]
            time.sleep(0.05)
        assert partial, "the update never started writing its download"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        stop.set()
        proc.kill()
        thread.join(5)
    leftovers = list(dockyard_root.glob(".osv-download-*"))
    assert len(leftovers) == 1  # what SIGKILL leaves: nothing can clean up inside the process
    # a live process's download is not touched by another update
    live = dockyard_root / f".osv-download-{os.getpid()}-abcd"
    live.mkdir()
    url, _ = osv_server
    assert "Imported 2,432 records" in cli("db", "update", "--url", url, "--ecosystem", "Alpine").stdout
    assert list(dockyard_root.glob(".osv-download-*")) == [live]
