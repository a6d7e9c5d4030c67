"""``dockyard db import|status|update|push|pull``: the offline OSV vulnerability database. Parsing and rendering
only; the work is in :mod:`dockyard.scan.vuln.db`, ``.update`` and ``.artifact``. Imports stay inside the commands."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.cli.common import err, out

if TYPE_CHECKING:
    from dockyard.scan.vuln.db import ImportResult, VulnDB


def _open(args: argparse.Namespace) -> VulnDB:
    from dockyard.scan.vuln.db import VulnDB, default_path

    root = args.root or os.environ.get("DOCKYARD_ROOT")
    return VulnDB(default_path(Path(root) if root else None))


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _report(result: ImportResult, verbose: bool) -> int:
    for warning in result.warnings:
        err(f"Warning: {warning}")
    out(
        f"Imported {_plural(result.read, 'record')}: {result.added:,} new, {result.replaced:,} replaced, "
        f"{result.unchanged:,} unchanged, {result.older:,} older than the stored ones (ignored)\n"
    )
    if result.skipped:
        hint = "" if verbose else " (-v names them)"
        out(f"Skipped {_plural(len(result.skipped), 'record')} that failed the OSV schema{hint}\n")
        if verbose:
            for s in result.skipped:
                out(f"  skipped {s.name} ({s.source}): {s.reason}\n")
    if result.tolerated:
        out(f"Kept {_plural(len(result.tolerated), 'record')} whose only schema errors are in GIT ranges (not used)\n")
        if verbose:
            for s in result.tolerated:
                out(f"  kept {s.name} ({s.source}): {s.reason}\n")
    return 0 if result.read or not (result.warnings or result.skipped) else 1


def cmd_db_import(args: argparse.Namespace) -> int:
    with _open(args) as db:
        result = db.import_paths([Path(p) for p in args.paths])
    return _report(result, args.verbose)


def cmd_db_status(args: argparse.Namespace) -> int:
    import json
    from datetime import UTC, datetime

    from dockyard.units import since

    with _open(args) as db:
        rows = db.status()
        total = db.count()
        where = db.path
    now = datetime.now(UTC)
    if args.format == "json":
        doc = {
            "Path": str(where),
            "Records": total,
            "Ecosystems": [
                {
                    "Ecosystem": r.ecosystem,
                    "Records": r.records,
                    "ImportedAt": r.imported_at.isoformat().replace("+00:00", "Z") if r.imported_at else None,
                    "AgeSeconds": int((now - r.imported_at).total_seconds()) if r.imported_at else None,
                    "Source": r.source,
                }
                for r in rows
            ],
        }
        out(json.dumps(doc, indent=2) + "\n")
        return 0
    out(f"Database: {where} ({_plural(total, 'record')})\n")
    if not rows:
        out("No records yet: dockyard db import PATH... or dockyard db update\n")
        return 0
    table = [("ECOSYSTEM", "RECORDS", "IMPORTED", "AGE")]
    for r in rows:
        when = r.imported_at.strftime("%Y-%m-%dT%H:%M:%SZ") if r.imported_at else "-"
        table.append((r.ecosystem, str(r.records), when, since(r.imported_at, now) if r.imported_at else "-"))
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        out("   ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() + "\n")
    return 0


def cmd_db_update(args: argparse.Namespace) -> int:
    from dockyard.scan.vuln.update import update
    from dockyard.units import human_size

    def progress(ecosystem: str, size: int) -> None:
        err(f"Downloaded {ecosystem} ({human_size(size)})")

    with _open(args) as db:
        result = update(db, url=args.url, ecosystems=args.ecosystem or (), on_download=progress)
    return _report(result, args.verbose)


def _artifact(args: argparse.Namespace, push: bool) -> int:
    from dockyard.cli.remote import registry_client
    from dockyard.oci import reference as refs
    from dockyard.scan.vuln import artifact
    from dockyard.scan.vuln.db import default_path
    from dockyard.units import human_size

    root = args.root or os.environ.get("DOCKYARD_ROOT")
    path = default_path(Path(root) if root else None)
    ref = refs.parse(args.ref)
    with registry_client(args, ref.domain) as client:
        moved = artifact.push(path, client, ref) if push else artifact.pull(client, ref, path)
    verb = "Pushed" if push else "Pulled"
    out(f"{verb} {moved.records:,} records ({human_size(moved.size)} compressed): {ref.familiar()}@{moved.digest}\n")
    return 0


def cmd_db_push(args: argparse.Namespace) -> int:
    return _artifact(args, push=True)


def cmd_db_pull(args: argparse.Namespace) -> int:
    return _artifact(args, push=False)


def add_parsers(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add the ``db`` group to the top-level subparsers."""
    group = sub.add_parser("db", help="the offline vulnerability database (OSV records)")
    dsub = group.add_subparsers(dest="db_command", metavar="COMMAND", parser_class=parser_class, required=True)
    p = dsub.add_parser("import", help="import osv.dev all.zip files, folders of OSV JSON, or single records")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("-v", "--verbose", action="store_true", help="name every record skipped, and why")
    p.set_defaults(func=cmd_db_import)
    p = dsub.add_parser("status", help="records per ecosystem, import time and age")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_db_status)
    p = dsub.add_parser("update", help="download the ecosystems' all.zip files again and import them")
    p.add_argument("--url", help="base URL of the OSV zips (default osv.dev's bucket, or $DOCKYARD_OSV_URL)")
    p.add_argument(
        "--ecosystem", action="append", metavar="NAME", help="an ecosystem to fetch (default: those in the database)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="name every record skipped, and why")
    p.set_defaults(func=cmd_db_update)
    p = dsub.add_parser("push", help="put the database into a registry as an OCI artifact (pin its digest)")
    p.add_argument("ref", metavar="REF")
    p.set_defaults(func=cmd_db_push)
    p = dsub.add_parser("pull", help="replace the database with the artifact a registry holds (REF or REF@DIGEST)")
    p.add_argument("ref", metavar="REF")
    p.set_defaults(func=cmd_db_pull)
