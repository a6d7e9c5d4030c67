"""``dockyard images`` with 200 images in the store (target <= 150 ms), against ``podman images`` in the same run.

python bench/bench_images_startup.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, median_time, report, which

sys.path.insert(0, str(ROOT / "src"))

from dockyard.image.build import build_image, file
from dockyard.transport import docker_archive

N = 200


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="dy-", dir="/tmp") as tmp:
        work = Path(tmp)
        base = [file("etc/os-release", "ID=bench\n")]
        images = []
        for i in range(N):
            image = build_image(
                [base, [file(f"app/{i}.txt", f"image {i}\n")]], created=f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}Z"
            )
            images.append((image, [f"bench/app{i % 20}:v{i}"]))
        archive = work / "200.tar"
        docker_archive.write(images, archive)
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        root = work / "store"
        subprocess.run(
            [sys.executable, "-m", "dockyard", "--root", str(root), "load", "-q", "-i", str(archive)],
            check=True,
            stdout=subprocess.DEVNULL,
            env=env,
        )
        cmd = [sys.executable, "-m", "dockyard", "--root", str(root), "images"]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
        assert out.count("\n") == N + 1, out[:200]
        bare = median_time(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), 11)
        ours = median_time(lambda: subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env), 11)
        print(f"python -c pass: {bare * 1000:.0f} ms (interpreter floor)")
        print(f"dockyard images, {N} images: {ours * 1000:.0f} ms (target <= 150 ms)")
        peer = None
        if which("podman"):
            pod = [
                "podman",
                "--root",
                str(work / "p"),
                "--runroot",
                str(work / "r"),
                "--storage-driver",
                "vfs",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
            ]
            subprocess.run([*pod, "load", "-q", "-i", str(archive)], check=True, stdout=subprocess.DEVNULL)
            listed = subprocess.run([*pod, "images", "-q"], check=True, capture_output=True, text=True).stdout
            assert listed.count("\n") == N, listed[:200]
            peer = median_time(lambda: subprocess.run([*pod, "images"], check=True, stdout=subprocess.DEVNULL), 11)
            subprocess.run(["rm", "-rf", str(work / "p")], check=False)
        report(f"images ({N} images)", ours, "podman images", peer)


if __name__ == "__main__":
    main()
