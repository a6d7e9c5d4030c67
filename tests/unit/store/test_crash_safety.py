"""Two dockyard processes at once, and a process killed mid-load: both end in a clean ``system check``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dockyard.image.build import build_image, directory, file
from dockyard.image.sample import app_image, base_image
from dockyard.store.store import Store
from dockyard.transport import docker_archive

_LOAD_LOOP = """
import sys
from pathlib import Path
from dockyard.archive import load
from dockyard.store.store import Store
root, archive, rounds, names = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
deleted = 0
for i in range(rounds):
    with Store(root) as store:
        load(store, archive)
        if i % 2:  # odd rounds remove every name, so the image is deleted and its unshared blobs freed
            records = [r for name in names for r in store.remove(name)]
            deleted += sum(r.kind == "Deleted" for r in records)
assert deleted >= rounds // 2, deleted
"""

_CHECK_LOOP = """
import sys
from pathlib import Path
from dockyard.store.store import Store
root, rounds = Path(sys.argv[1]), int(sys.argv[2])
for _ in range(rounds):
    with Store(root) as store:
        report = store.check()
        assert report.ok, report.problems
"""


def _write(path: Path, images: list[tuple[object, list[str]]]) -> Path:
    with open(path, "wb") as f:
        docker_archive.write(images, f)  # type: ignore[arg-type]
    return path


def test_two_processes_at_once(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.tar", [(base_image(), ["sample:a", "rm-a:1"])])
    b = _write(tmp_path / "b.tar", [(app_image(), ["app:b", "rm-b:1"])])
    root = tmp_path / "store"
    Store(root).close()
    procs = [
        subprocess.Popen([sys.executable, "-c", _LOAD_LOOP, str(root), str(p), "13", *names], stderr=subprocess.PIPE)
        for p, names in ((a, ["sample:a", "rm-a:1"]), (b, ["app:b", "rm-b:1"]))
    ]
    # a third process checks the store while the two load and delete: it must never see damage
    procs.append(subprocess.Popen([sys.executable, "-c", _CHECK_LOOP, str(root), "40"], stderr=subprocess.PIPE))
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    with Store(root) as store:
        report = store.check()
        assert report.ok, report.problems
        names = sorted(t.familiar() for s in store.summaries() for t in s.tags)
        assert names == ["app:b", "rm-a:1", "rm-b:1", "sample:a"]  # the last (even) round kept both images
        assert not report.unreferenced_blobs


def test_killed_mid_load_leaves_a_clean_store(tmp_path: Path) -> None:
    big = os.urandom(48 << 20)
    image = build_image([[directory("data"), file("data/blob.bin", big)]], compression="gzip")
    archive = _write(tmp_path / "big.tar", [(image, ["big:1"])])
    root = tmp_path / "store"
    with Store(root) as store:
        from dockyard.archive import load

        load(store, _write(tmp_path / "small.tar", [(base_image(), ["sample:1"])]))
        blobs_before = sorted(p.name for p in (store.paths.blobs / "sha256").iterdir())
    killed_mid_write = False
    for _attempt in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-m", "dockyard", "--root", str(root), "load", "-q", "-i", str(archive)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            tmp_files = list((root / "tmp").glob("ingest-*"))
            if tmp_files and any(f.stat().st_size > (1 << 20) for f in tmp_files if f.exists()):
                proc.send_signal(signal.SIGKILL)
                killed_mid_write = True
                break
            time.sleep(0.005)
        proc.wait()
        if killed_mid_write:
            break
        # finished before we could kill it: remove and retry
        with Store(root) as store:
            store.remove("big:1")
    assert killed_mid_write, "could not catch the load in the middle of a blob write"
    with Store(root) as store:
        report = store.check()
        assert report.ok, report.problems
        assert [t.familiar() for s in store.summaries() for t in s.tags] == ["sample:1"]
        # no partial blob is visible under blobs/
        assert sorted(p.name for p in (store.paths.blobs / "sha256").iterdir()) == blobs_before
    done = subprocess.run(
        [sys.executable, "-m", "dockyard", "--root", str(root), "load", "-i", str(archive)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Loaded image: big:1" in done.stdout
    with Store(root) as store:
        assert store.check().ok
        assert store.check().temp_files == []  # the next load, alone in the store, removed the dead writer's file


def test_many_processes_open_a_new_store_at_once(tmp_path: Path) -> None:
    root = tmp_path / "fresh-store"
    code = "import sys; from dockyard.store.store import Store; Store(__import__('pathlib').Path(sys.argv[1])).close()"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(root)], stderr=subprocess.PIPE) for _ in range(6)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    with Store(root) as store:
        assert store.meta.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.check().ok
