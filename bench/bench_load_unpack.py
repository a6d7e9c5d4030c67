"""Load + unpack of the Debian bookworm image: dockyard against umoci unpack and podman load, one run.

    python bench/bench_load_unpack.py [--runs N]

Prints medians and ratios (dockyard / peer); lower is better for dockyard.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _common import dockyard, fixtures_util, fresh, median_time, report, sh, which


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    runs = ap.parse_args().runs
    layout = fixtures_util.ensure_debian_oci_layout()
    archive = fixtures_util.ensure_debian_docker_archive()
    size = archive.stat().st_size
    print(f"image: Debian bookworm minbase, docker-archive {size / 1e6:.1f} MB, {runs} runs, medians", flush=True)
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
        work = Path(tmp)
        root = work / "store"
        out = work / "rootfs"

        # 1. load a docker-archive into a fresh store: dockyard load vs podman load
        ours_load = median_time(
            lambda: dockyard("load", "-q", "-i", str(archive), root=root), runs, setup=lambda: fresh(root)
        )
        peer_load = None
        if which("podman"):
            state = Path(tempfile.mkdtemp(prefix="pd", dir="/tmp"))
            pod = fixtures_util.podman_command(state)

            def podman_load() -> None:
                sh(*pod, "load", "-q", "-i", str(archive))

            peer_load = median_time(podman_load, runs, setup=lambda: fresh(state))
            fixtures_util.remove_tree(state)
        report("load docker-archive", ours_load, "podman load", peer_load)

        # 2. unpack the image's rootfs: dockyard unpack vs umoci unpack (from the OCI layout, gzip layer)
        fresh(root)
        dockyard("load", "-q", "-i", str(layout), "--name", "debian", root=root)
        ours_unpack = median_time(
            lambda: dockyard("unpack", "-q", "debian:bookworm", str(out), root=root),
            runs,
            setup=lambda: fixtures_util.remove_tree(out) if out.exists() else None,
        )
        peer_unpack = None
        if which("umoci"):
            bundle = work / "bundle"
            peer_unpack = median_time(
                lambda: sh("umoci", "unpack", "--image", f"{layout}:bookworm", str(bundle)),
                runs,
                setup=lambda: fixtures_util.remove_tree(bundle) if bundle.exists() else None,
            )
        report("unpack rootfs", ours_unpack, "umoci unpack", peer_unpack)

        # 3. load + unpack end to end: umoci reads the layout in place; podman's vfs driver unpacks while loading
        if peer_unpack is not None:
            report("load+unpack", ours_load + ours_unpack, "umoci unpack", peer_unpack)
        if peer_load is not None:
            report("load+unpack", ours_load + ours_unpack, "podman load (vfs unpacks)", peer_load)


if __name__ == "__main__":
    main()
