"""``dockyard scout quickview|cves|recommendations`` (also ``dockyard scan ...``): Docker Scout's shapes, offline.
Parsing and rendering only; the work is in :mod:`dockyard.scan.scout` and :mod:`dockyard.scan.reports`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from dockyard.cli.common import UsageError, confirm, err, open_store, out

#: Exit codes: 2 when ``--exit-code`` is given and something was found (as Scout); 3 when the scan is incomplete.
FOUND = 2
INCOMPLETE = 3


def _report(args: argparse.Namespace, then: Callable[[Any, Any, Any], Any] | None = None) -> Any:
    """The scan of ``args.image``; ``then(store, db, report)``, when given, runs with the store and database
    still open and its answer is returned beside the report."""
    from dockyard.cli.scan import layer_progress
    from dockyard.oci.platform import Platform
    from dockyard.scan import scout
    from dockyard.scan.vuln.db import VulnDB

    platform = Platform.parse(args.platform) if args.platform else None
    progress = layer_progress()
    extra = None
    with open_store(args) as store:
        db = VulnDB(store.vuln_db_path)
        if db.count() == 0:
            db.close()
            raise UsageError("the vulnerability database is empty: run `dockyard db import PATH` (or `db update`)")
        try:
            report = scout.analyze(
                store,
                args.image,
                db,
                platform=platform,
                ignore_unfixed=getattr(args, "ignore_unfixed", False),
                progress=progress,
            )
            if then is not None:
                extra = then(store, db, report)
        finally:
            db.close()
    sbom = report.target.sbom
    if sbom.cached:
        err(f"    ✓ SBOM of image already cached, {len(sbom.packages)} packages indexed")
    else:
        err(f"    ✓ Indexed {len(sbom.packages)} packages")
    return report if then is None else (report, extra)


def _finish(report: Any, found: bool, args: argparse.Namespace) -> int:
    for warning in (*report.target.sbom.warnings, *report.warnings):
        err(f"    ! {warning}")
    if not report.complete:
        err("    ✗ The scan is incomplete: some layers or package databases could not be read (see above)")
        return INCOMPLETE
    if found and getattr(args, "exit_code", False):
        return FOUND
    return 0


def cmd_quickview(args: argparse.Namespace) -> int:
    from dockyard.scan import scout

    report = _report(args)
    target = scout.counts(report.target.findings)
    base = scout.counts(report.base.findings) if report.base is not None else None
    if args.format == "json":
        doc: dict[str, Any] = {
            "target": {"name": args.image, "digest": report.target.digest, "counts": target},
            "base": None
            if report.base is None
            else {"name": report.base.name, "digest": report.base.digest, "counts": base},
            "packages": len(report.target.sbom.packages),
            "complete": report.complete,
        }
        out(json.dumps(doc, indent=2) + "\n")
    else:
        name_width = max(len(args.image), len(report.base.name) if report.base else 0, 28)
        rows = [("Target", args.image, scout.count_text(target)), ("  digest", report.target.digest, "")]
        if report.base is not None and base is not None:
            rows.append(("Base image", report.base.name, scout.count_text(base)))
        out("\n")
        for label, name, text in rows:
            line = f"{label:<18} │  {name:<{name_width}}  │"
            out((line + ("    " + text if text else "")).rstrip() + "\n")
        total = sum(target.values())  # every vulnerability, those without a severity too
        packages = len({(f.package.name, f.package.version) for f in report.target.findings})
        vulns = "vulnerability" if total == 1 else "vulnerabilities"
        out(f"\n  {total} {vulns} in {packages} package{'' if packages == 1 else 's'}")
        if report.base is not None:
            own = sum(1 for f in report.target.findings if not report.from_base(f))
            out(f"; {total - own if total >= own else 0} come with the base image {report.base.name}")
        out("\n")
    return _finish(report, bool(report.target.findings), args)


def cmd_cves(args: argparse.Namespace) -> int:
    from dockyard.scan import scout

    report = _report(args)
    groups = scout.package_groups(
        report.target.findings,
        only_severity=[s for v in args.only_severity or [] for s in v.split(",") if s],
        only_fixed=args.only_fixed,
        ignore_unfixed=args.ignore_unfixed,
        only_package=[p for v in args.only_package or [] for p in v.split(",") if p],
    )
    vulns = sum(len(g.findings) for g in groups)
    if args.format == "json":
        out(json.dumps([_group_doc(g, report) for g in groups], indent=2) + "\n")
    elif args.format in ("sarif", "cyclonedx"):
        from dockyard.scan import reports

        findings = [f for g in groups for f in g.findings]
        render = reports.to_sarif if args.format == "sarif" else reports.to_cyclonedx
        out(json.dumps(render(report, findings, args.image), indent=2) + "\n")
    else:
        noun = "package" if len(groups) == 1 else "packages"
        vnoun = "vulnerability" if vulns == 1 else "vulnerabilities"
        mark = "✗" if groups else "✓"
        err(f"    {mark} Detected {len(groups)} vulnerable {noun} with {vulns} {vnoun}")
        if groups:
            out("\n## Packages and Vulnerabilities\n")
        for g in groups:
            c = scout.counts(g.findings)
            out(f"  {scout.count_text(c)}  {g.package.name} {g.package.version}\n")
            out(f"{g.package.purl}\n")
            if report.from_base(g.findings[0]):
                out(f"      (from the base image {report.base.name if report.base else ''})\n")
            for f in g.findings:
                out(f"\n    ✗ {f.severity.value.upper()} {scout.display_id(f)}\n")
                out(f"      {f.url}\n")
                out(f"      Affected range : {f.affected_range}\n")
                out(f"      Fixed version  : {f.fixed_version or 'not fixed'}\n")
                if f.cvss_score is not None:
                    out(f"      CVSS Score     : {f.cvss_score}\n")
            out("\n")
    return _finish(report, bool(groups), args)


def _group_doc(group: Any, report: Any) -> dict[str, Any]:
    from dockyard.scan import scout

    return {
        "package": group.package.name,
        "version": group.package.version,
        "purl": group.package.purl,
        "layer": group.package.layer,
        "from_base": report.from_base(group.findings[0]),
        "vulnerabilities": [
            {
                "id": scout.display_id(f),
                "record": f.id,
                "aliases": list(f.aliases),
                "severity": f.severity.value,
                "severity_source": f.severity_source.value,
                "cvss_score": f.cvss_score,
                "affected_range": f.affected_range,
                "fixed_version": f.fixed_version,
                "url": f.url,
                "summary": f.summary,
            }
            for f in group.findings
        ],
    }


def _registry_tags(args: argparse.Namespace) -> Callable[[str], list[str]]:
    def tags(repository: str) -> list[str]:
        from dockyard import remote_ops
        from dockyard.cli.remote import registry_client

        repo = remote_ops.repository_of(repository)
        with registry_client(args, repo.domain) as client:
            return [t for t in remote_ops.list_tags(client, repo.path) if not t.startswith("sha256-")]

    return tags


def cmd_recommendations(args: argparse.Namespace) -> int:
    from dockyard.scan import reports, scout

    def then(store: Any, db: Any, report: Any) -> Any:
        if report.base is None:
            return None
        return reports.recommendations(
            store,
            report,
            db,
            ignore_unfixed=args.ignore_unfixed,
            registry_tags=_registry_tags(args) if args.registry else None,
            progress=lambda name: err(f"    … scanning {name}"),
        )

    report, recs = _report(args, then)
    if recs is None:
        err(f"    ✗ No base image of {args.image} in the store: nothing to recommend")
        code = _finish(report, False, args)
        return code or 1
    if args.format == "json":
        out(json.dumps(recs.as_dict(), indent=2) + "\n")
    else:
        from dockyard.units import human_size

        rows = [("", "BASE IMAGE", "VULNERABILITIES", "CHANGE", "SIZE")]
        for c in (recs.base, *recs.candidates):
            rows.append(
                (
                    "current" if c.current else "",
                    c.name,
                    scout.count_text(c.counts),
                    "" if c.current else c.change,
                    human_size(c.size),
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        out(f"\n## Recommended fixes for {args.image} (base image {recs.base.name})\n\n")
        for row in rows:
            out("  " + "   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n")
        if not recs.candidates:
            where = "its registry" if args.registry else "the store"
            out(f"\n  No other tag of {recs.base.name.rsplit(':', 1)[0]} in {where}.\n")
        else:
            best = recs.candidates[0]
            if best.change.startswith("-") and "+" not in best.change:
                out(f"\n  Rebase on {best.name}: {best.change}\n")
            else:
                out(f"\n  No tag in the store has fewer vulnerabilities than {recs.base.name}.\n")
    return _finish(report, False, args)


def _humanize(size: int) -> str:
    from dockyard.units import humanize_bytes

    return humanize_bytes(size)


def _cache_table(key: str, size: str, entries: Any, total: int) -> str:
    """Scout's cache table: the digest column centred under its header, ``│`` and ``┼`` between, then the total."""
    sizes = [_humanize(e.size) for e in entries]
    left = 2 + 71 + 1  # two spaces, a sha256 digest, one space
    right = max([len(size), *map(len, sizes)]) + 3
    lines = [f"{key.center(left)}│ {size}", "─" * left + "┼" + "─" * right]
    lines += [f"  {e.key} │ {s}" for e, s in zip(entries, sizes, strict=True)]
    return "\n".join(lines) + f"\n\nTotal: {_humanize(total)}\n"


def cmd_cache_df(args: argparse.Namespace) -> int:
    from dockyard.scan.sbom.cachedisk import IMAGES, LAYERS, RENDERED, usage

    with open_store(args) as store:
        use = usage(store.cache_dir / "sbom")
    out(f"dockyard's temporary data to generate SBOMs is located at:\n   {use.root / LAYERS}\n\n")
    out(_cache_table("Layer diff_id", "Size", use.layers, use.temporary - use.rendered))
    if use.rendered:
        out(f"Kept CycloneDX and SPDX documents ({use.root / RENDERED}): {_humanize(use.rendered)}\n")
    out(f"\n\ndockyard's cached SBOMs are located at:\n   {use.root / IMAGES}\n\n")
    out(_cache_table("Image ID", "Size of SBOM", use.images, use.sboms))
    return 0


def cmd_cache_prune(args: argparse.Namespace) -> int:
    from dockyard.scan.sbom.cachedisk import prune

    what = "all temporary data and all cached SBOMs" if args.sboms else "all temporary data"
    if not args.force and not confirm(f"? Are you sure to delete {what}? [y/N] "):
        return 0
    with open_store(args) as store:
        freed = prune(store.cache_dir / "sbom", sboms=args.sboms)
    out("    ✓ temporary data deleted\n")
    if args.sboms:
        out("    ✓ cached SBOMs deleted\n")
    out(f"Total reclaimed space: {_humanize(freed)}\n")
    return 0


def _common(p: argparse.ArgumentParser, formats: str = "table (default) or json") -> None:
    p.add_argument(
        "image", metavar="IMAGE", help="a store image, or oci:DIR, oci-archive:FILE, docker-archive:FILE, docker://REF"
    )
    p.add_argument("--platform", help="os/arch[/variant] of a multi-platform image (default: this host)")
    p.add_argument("--format", default="table", help=formats)
    p.add_argument("--exit-code", "-e", action="store_true", help="exit 2 when vulnerabilities are found")


def add_parsers(sub: Any) -> None:
    for command in ("scout", "scan"):
        group = sub.add_parser(command, help="vulnerabilities of an image, offline (Docker Scout's commands)")
        gsub = group.add_subparsers(dest=f"{command}_command", metavar="COMMAND", required=True)
        p = gsub.add_parser("quickview", help="vulnerability counts of an image and of its base image")
        _common(p)
        p.add_argument("--ignore-unfixed", action="store_true", help="leave out vulnerabilities without a fix")
        p.set_defaults(func=cmd_quickview)
        p = gsub.add_parser("cves", help="the vulnerable packages of an image and their vulnerabilities")
        _common(p, "table (default), json, sarif (SARIF 2.1.0) or cyclonedx (CycloneDX 1.6 with vulnerabilities)")
        p.add_argument("--only-severity", action="append", help="critical, high, medium, low (comma-separated)")
        p.add_argument("--only-fixed", action="store_true", help="only vulnerabilities with a fix")
        p.add_argument("--ignore-unfixed", action="store_true", help="leave out vulnerabilities without a fix")
        p.add_argument("--only-package", action="append", help="only these packages (comma-separated)")
        p.set_defaults(func=cmd_cves)
        p = gsub.add_parser(
            "recommendations", help="the other tags of the base image's repository, with their vulnerabilities"
        )
        _common(p)
        p.add_argument("--ignore-unfixed", action="store_true", help="leave out vulnerabilities without a fix")
        p.add_argument(
            "--registry",
            action="store_true",
            help="the tags of the base repository in its registry (streamed, not stored) instead of the store's",
        )
        p.set_defaults(func=cmd_recommendations)
        cache = gsub.add_parser("cache", help="the scanner's cache: disk usage, prune")
        csub = cache.add_subparsers(dest=f"{command}_cache_command", metavar="COMMAND", required=True)
        csub.add_parser("df", help="show the scanner's disk usage").set_defaults(func=cmd_cache_df)
        p = csub.add_parser("prune", help="remove temporary or cached data")
        p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
        p.add_argument("--sboms", action="store_true", help="prune cached SBOMs too")
        p.set_defaults(func=cmd_cache_prune)
