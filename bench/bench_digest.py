"""One-pass layer digesting (distribution digest + diff_id) against the shell doing the same two hashes.

    python bench/bench_digest.py

The peer is what a script would run: ``sha256sum blob`` and ``gzip -dc blob | sha256sum`` (``zstd -dc`` for zstd),
two passes over the blob. dockyard's ``copy_and_digest`` also writes the blob to disk on the way.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from _common import median_time, report

from dockyard.layers.compression import Compression, compress
from dockyard.layers.digesting import copy_and_digest


def _data() -> bytes:
    rnd = os.urandom(1 << 20)
    text = b"".join(b"line %d of some config file with words\n" % i for i in range(25_000))
    chunk = rnd + text + bytes(1 << 20)
    return chunk * (200 * 10**6 // len(chunk))


def main() -> None:
    data = _data()
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
        for kind, tool in ((Compression.GZIP, "gzip"), (Compression.ZSTD, "zstd")):
            blob = Path(tmp) / f"layer.{kind.value}"
            with open(blob, "wb") as f:
                compress(io.BytesIO(data), f, kind)
            out = Path(tmp) / "copy"

            def ours(blob: Path = blob, out: Path = out) -> None:
                with open(blob, "rb") as src, open(out, "wb") as dst:
                    d = copy_and_digest(src, dst)
                assert d.uncompressed_size == len(data)

            t_ours = median_time(ours, 3)
            peer = None
            if shutil.which(tool):

                def shell(blob: Path = blob, tool: str = tool) -> None:
                    subprocess.run(
                        f"sha256sum {blob} >/dev/null && {tool} -dc {blob} | sha256sum >/dev/null",
                        shell=True,
                        check=True,
                    )

                peer = median_time(shell, 3)
            mb = len(data) / 1e6
            print(f"{kind.value}: {blob.stat().st_size / 1e6:.0f} MB blob, {mb:.0f} MB tar, {mb / t_ours:.0f} MB/s")
            report(f"digest {kind.value} layer", t_ours, f"sha256sum + {tool} -dc | sha256sum", peer)


if __name__ == "__main__":
    main()
