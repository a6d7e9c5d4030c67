"""``make demo``: the main job on an embedded default — no registry, no network.

Writes the bundled sample images as a docker-archive, loads it into a fresh store, and shows
``images``, ``inspect``, ``history``, ``tag``, ``rmi``, ``save``, ``unpack`` and ``system df/check``.
"""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
from pathlib import Path

from dockyard.cli.main import main as cli
from dockyard.image import sample
from dockyard.transport import docker_archive


def _run(root: Path, *args: str) -> int:
    print(f"\n$ dockyard {' '.join(shlex.quote(a) for a in args)}", flush=True)
    code = cli(["--root", str(root), *args])
    sys.stdout.flush()
    if code != 0:
        raise SystemExit(f"demo step failed with exit code {code}: dockyard {' '.join(args)}")
    return code


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="dockyard-demo-") as tmp:
        work = Path(tmp)
        root = work / "store"
        archive = work / "sample.tar"
        with open(archive, "wb") as f:
            docker_archive.write(
                [(sample.base_image(), ["dockyard/sample:1.0"]), (sample.app_image(), ["dockyard/app:latest"])], f
            )
        print(f"sample docker-archive: {archive} ({archive.stat().st_size} bytes)")
        _run(root, "load", "-i", str(archive))
        _run(root, "images")
        _run(root, "tag", "dockyard/sample:1.0", "myuser/sample:v2")
        _run(root, "images", "--digests")
        _run(
            root,
            "inspect",
            "--format",
            "{{.Id}} {{.Os}}/{{.Architecture}} layers={{len .RootFS.Layers}}",
            "myuser/sample:v2",
        )
        _run(root, "inspect", "dockyard/app")
        _run(root, "history", "dockyard/app")
        _run(root, "system", "df", "-v")
        _run(root, "save", "--format", "oci", "-o", str(work / "app-oci.tar"), "dockyard/app")
        _run(root, "unpack", "dockyard/app", str(work / "rootfs"))
        print("\n$ ls -l rootfs/usr/bin rootfs/var/cache")
        for sub in ("usr/bin", "var/cache"):
            for entry in sorted((work / "rootfs" / sub).iterdir()):
                st = entry.lstat()
                print(f"{oct(st.st_mode)[-5:]} {st.st_size:6d} {sub}/{entry.name}")
        _run(root, "rmi", "myuser/sample:v2")
        _run(root, "rmi", "dockyard/app")
        _run(root, "images")
        _run(root, "system", "check")
    print("\ndemo finished: every step above ran against a fresh local store, no daemon, no network.")
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    raise SystemExit(main())
