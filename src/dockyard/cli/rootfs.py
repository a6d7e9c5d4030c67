"""``unpack`` and ``export``: an image's root filesystem into a directory or one tar. Parsing and rendering only;
the work is in :mod:`dockyard.rootfs`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dockyard.cli.common import UsageError, err, open_store, out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def cmd_unpack(args: argparse.Namespace) -> int:
    from dockyard import rootfs
    from dockyard.compat.gojson import marshal as go_json
    from dockyard.units import human_size

    with open_store(args) as store:
        report = rootfs.unpack(store, args.image, Path(args.dir), devices=args.devices, on_warning=err)
    if args.format == "json":
        doc = {"Image": args.image, "Directory": args.dir} | rootfs.report_json(report)
        out(go_json(doc) + "\n")
    elif not args.quiet:
        parts = [
            _plural(report.layers, "layer"),
            _plural(report.files, "file"),
            human_size(report.bytes),
            f"{report.skipped_devices} skipped",
            _plural(len(report.warnings), "warning"),
        ]
        out(f"Unpacked {args.image} into {args.dir}: {', '.join(parts)}\n")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from dockyard import rootfs

    if not args.output and sys.stdout.isatty():
        raise UsageError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    with open_store(args) as store:
        if args.output:
            rootfs.export(store, args.image, Path(args.output))
        else:
            sys.stdout.flush()
            rootfs.export_stream(store, args.image, sys.stdout.buffer)
            sys.stdout.buffer.flush()
    return 0


def add_parsers(sub: Any) -> None:
    """Add ``unpack`` and ``export`` to the top-level subparsers."""
    p = sub.add_parser("unpack", help="write an image's root filesystem into a directory, safely")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--devices", action="store_true", help="create device nodes (root only)")
    p.add_argument("--format", choices=("json",), help="'json': what was written, as one JSON object")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing when done")
    p.set_defaults(func=cmd_unpack)

    p = sub.add_parser("export", help="write an image's flattened root filesystem as one tar")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("-o", "--output", help="write to a file instead of STDOUT")
    p.set_defaults(func=cmd_export)
