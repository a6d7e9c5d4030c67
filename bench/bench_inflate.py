"""Inflate of the Debian image's gzip layer: ISA-L on one thread (what pull does today) against rapidgzip in parallel.

    python bench/bench_inflate.py [--runs N]

The layer is the Debian bookworm minbase test fixture's (built by the test fixtures, cached). Each variant inflates
the whole blob and hashes the tar (the diff_id check pull keeps), from a file in the page cache:

* ``isal stream``    ``isal_zlib.decompressobj`` fed 1 MiB pieces, as ``layers.digesting`` does while a layer
                     streams in; it can overlap the download, and uses one core;
* ``isal inflate``   the same without the hash, to split inflate from sha256;
* ``zlib stream``    the standard library's zlib, for reference;
* ``rapidgzip -P N`` PyPI ``rapidgzip`` (parallel, needs the whole blob first: a seekable file), N threads
                     (0 = every core), read in 1 MiB pieces and hashed.

Measure only: rapidgzip is not a dependency of dockyard (``pip install rapidgzip`` to include it; without it its
lines say so). Prints medians and each variant's ratio to ``isal stream``; lower is better.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import zlib
from collections.abc import Callable
from pathlib import Path

from _common import fixtures_util, median_time
from isal import isal_zlib

PIECE = 1 << 20


def debian_gzip_layer() -> Path:
    """The (single) gzip layer blob of the Debian fixture's OCI layout."""
    layout = fixtures_util.ensure_debian_oci_layout()
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"]
    manifest = json.loads(_blob(layout, manifest_digest).read_bytes())
    gzip_layers = [layer for layer in manifest["layers"] if layer["mediaType"].endswith("gzip")]
    return _blob(layout, max(gzip_layers, key=lambda layer: int(layer["size"]))["digest"])


def _blob(layout: Path, digest: str) -> Path:
    algorithm, _, hexa = digest.partition(":")
    return layout / "blobs" / algorithm / hexa


def stream(path: Path, decompressobj: Callable[[int], object], hashed: bool = True) -> str:
    """Inflate ``path`` piece by piece (every gzip member), hashing the output: its sha256."""
    sha = hashlib.sha256()
    update = sha.update if hashed else (lambda _b: None)
    with open(path, "rb") as f:
        dec: object = decompressobj(31)
        while piece := f.read(PIECE):
            while piece:
                update(dec.decompress(piece))  # type: ignore[attr-defined]
                piece = b""
                if dec.eof:  # type: ignore[attr-defined]
                    piece = dec.unused_data.lstrip(b"\0")  # type: ignore[attr-defined]
                    dec = decompressobj(31)
        update(dec.flush())  # type: ignore[attr-defined]
    return sha.hexdigest()


def rapid(path: Path, threads: int) -> str:
    import rapidgzip

    sha = hashlib.sha256()
    with rapidgzip.open(str(path), parallelization=threads) as f:
        while piece := f.read(PIECE):
            sha.update(piece)
    return sha.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    runs = ap.parse_args().runs
    blob = debian_gzip_layer()
    size = blob.stat().st_size
    expected = stream(blob, isal_zlib.decompressobj)  # also brings the blob into the page cache
    tar_size = sum(len(b) for b in _inflated_pieces(blob))
    print(
        f"Debian bookworm minbase layer: {size / 1e6:.1f} MB gzip -> {tar_size / 1e6:.1f} MB tar; "
        f"{os.cpu_count()} cores; medians of {runs}",
        flush=True,
    )
    variants: list[tuple[str, Callable[[], str]]] = [
        ("isal stream (today, 1 thread)", lambda: stream(blob, isal_zlib.decompressobj)),
        ("isal inflate only (no sha256)", lambda: stream(blob, isal_zlib.decompressobj, hashed=False)),
        ("zlib stream (stdlib)", lambda: stream(blob, zlib.decompressobj)),
    ]
    try:
        import rapidgzip  # noqa: F401

        for threads in (1, 2, 0):
            variants.append((f"rapidgzip -P {threads}", lambda t=threads: rapid(blob, t)))
    except ImportError:
        print("rapidgzip: not installed (pip install rapidgzip): its lines are left out")
    base: float | None = None
    for label, fn in variants:
        if "no sha256" not in label:
            assert fn() == expected, f"{label}: wrong bytes"
        t = median_time(fn, runs)
        base = t if base is None else base
        print(f"  {label:32s} {t * 1000:7.1f} ms  {tar_size / t / 1e6:6.0f} MB/s tar  ratio {t / base:.2f}", flush=True)


def _inflated_pieces(path: Path) -> list[bytes]:
    out: list[bytes] = []
    with open(path, "rb") as f:
        dec = isal_zlib.decompressobj(31)
        while piece := f.read(PIECE):
            out.append(dec.decompress(piece))
    return out


if __name__ == "__main__":
    main()
