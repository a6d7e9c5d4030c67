"""``dockyard sbom``: parsing and rendering only; the work is in :mod:`dockyard.scan.sbom`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from dockyard.cli.common import err, open_store, out

#: Exit status of a scan that could not read everything (a layer, a package database): never a silent pass.
INCOMPLETE = 3


def layer_progress() -> Callable[[int, int, str, bool, int], None]:
    """The layers read or found cached and the package records found so far, one line rewritten in place on a
    terminal (nothing otherwise)."""
    tty = sys.stderr.isatty()

    def progress(index: int, total: int, diff_id: str, cached: bool, found: int) -> None:
        if tty:
            state = "cached" if cached else "read"
            sys.stderr.write(f"\r  layer {index + 1}/{total} {diff_id[7:19]} {state}, {found} packages found\x1b[K")
            if index + 1 == total:
                sys.stderr.write("\r\x1b[K")

    return progress


def cmd_sbom(args: argparse.Namespace) -> int:
    from dockyard.oci.platform import Platform
    from dockyard.scan.sbom import formats, sbom
    from dockyard.scan.sbom.source import open_image

    platform = Platform.parse(args.platform) if args.platform else None
    progress = layer_progress()
    with open_store(args) as store, open_image(args.image, store, platform=platform) as (image, _loc):
        cache_root = None if args.no_cache else store.cache_dir / "sbom"
        result = sbom(image, cache_root=cache_root, progress=progress)
    text = formats.render(result, args.format, args.image, cache_root=cache_root)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        out(text)
    n = len(result.packages)
    if result.cached:
        err(f"✓ SBOM of image already cached, {n} packages indexed")
    else:
        err(f"✓ Indexed {n} packages")
    for warning in result.warnings:
        err(f"! {warning}")
    if not result.complete:
        err(f"✗ The SBOM is incomplete: {len(result.warnings)} file(s) or layer(s) could not be read")
        return INCOMPLETE
    return 0


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("sbom", help="list the packages an image holds (an SBOM), offline")
    p.add_argument(
        "image", metavar="IMAGE", help="a store image, or oci:DIR, oci-archive:FILE, docker-archive:FILE, docker://REF"
    )
    p.add_argument("--format", choices=("table", "json", "cyclonedx", "spdx"), default="table")
    p.add_argument("-o", "--output", metavar="FILE", help="write the SBOM to FILE instead of STDOUT")
    p.add_argument("--platform", help="the platform to pick from a multi-platform image (default: this host's)")
    p.add_argument("--no-cache", action="store_true", help="read every layer again and keep nothing")
    p.set_defaults(func=cmd_sbom)
