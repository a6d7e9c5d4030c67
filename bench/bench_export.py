"""``export`` of the two-layer Debian image: one read of each layer (contents spooled) against two reads.

    python bench/bench_export.py [--runs N]

Prints medians and the ratio one-pass / two-pass (lower is better for one-pass). The one-pass export keeps
every regular file's contents in a temporary file while it reads the layers (disk: the layers' uncompressed
file bytes), the two-pass one needs no temporary space.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _common import fixtures_util, median_time, report

from dockyard.layers.limits import Limits
from dockyard.layers.union import export


def _openers(layout: Path) -> list[Path]:
    def blob(digest: str) -> Path:
        alg, _, hex_ = digest.partition(":")
        return layout / "blobs" / alg / hex_

    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(blob(index["manifests"][0]["digest"]).read_text())
    return [blob(layer["digest"]) for layer in manifest["layers"]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    runs = ap.parse_args().runs
    layout = fixtures_util.ensure_debian_two_layer_oci_layout()
    paths = _openers(layout)
    openers = [(lambda p=p: open(p, "rb")) for p in paths]  # noqa: SIM115 - closed by the reader
    size = sum(p.stat().st_size for p in paths)
    print(f"image: Debian bookworm + a layer with whiteouts, {len(paths)} gzip layers, {size / 1e6:.1f} MB, "
          f"{runs} runs, medians", flush=True)  # fmt: skip
    limits = Limits.from_env()
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
        out = Path(tmp) / "rootfs.tar"

        def run(one_pass: bool) -> None:
            with open(out, "wb") as f:
                export(openers, f, limits, one_pass=one_pass)

        two = median_time(lambda: run(False), runs)
        one = median_time(lambda: run(True), runs)
        report("export, one read of each layer vs two", one, "two-pass export", two)


if __name__ == "__main__":
    main()
