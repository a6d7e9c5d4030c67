"""Container records and ``system df|check``: parsing and rendering only; the work is in :mod:`dockyard.views`
and the store."""

from __future__ import annotations

import argparse
from typing import Any

from dockyard.cli.common import err, open_store, out


def emit(docs: Any, fmt: str | None, headers: dict[str, str], cols: list[str], kind: str) -> int:
    from dockyard.cli.main import _emit  # Docker's three outputs (json, template, table), shared with `images`

    return _emit(docs, fmt, headers, cols, kind)


_CONTAINER_HEADERS = {
    "ID": "CONTAINER ID",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED",
    "Status": "STATUS",
    "Ports": "PORTS",
    "Names": "NAMES",
    "LocalVolumes": "LOCAL VOLUMES",
    "Size": "SIZE",
}
_PS_COLUMNS = ["ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names"]
_DF_HEADERS = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"}
_DF_IMAGE_HEADERS = {
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "ID": "IMAGE ID",
    "CreatedSince": "CREATED",
    "Size": "SIZE",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
    "Containers": "CONTAINERS",
}
_DF_VOLUME_HEADERS = {"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"}
_DF_CACHE_HEADERS = {
    "ID": "CACHE ID",
    "CacheType": "CACHE TYPE",
    "Size": "SIZE",
    "CreatedSince": "CREATED",
    "LastUsedSince": "LAST USED",
    "UsageCount": "USAGE",
    "Shared": "SHARED",
}
_DF_CONTAINER_COLUMNS = ["ID", "Image", "Command", "LocalVolumes", "Size", "RunningFor", "Status", "Names"]


# --- containers ----------------------------------------------------------------------------------------------


def cmd_container_create(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        row = store.container_create(args.image, args.name)
    out(row.id + "\n")
    return 0


def cmd_container_ls(args: argparse.Namespace) -> int:
    from dockyard import views

    with open_store(args) as store:
        docs = views.container_docs(store, trunc=not args.no_trunc)
    if args.quiet:
        for d in docs:
            out(d["ID"] + "\n")
        return 0
    return emit(docs, args.format, _CONTAINER_HEADERS, _PS_COLUMNS, "container")


def cmd_container_rm(args: argparse.Namespace) -> int:
    from dockyard.errors import DockyardError

    status = 0
    with open_store(args) as store:
        for name in args.containers:
            try:
                store.container_remove(name)
                out(name + "\n")
            except DockyardError as exc:
                err(f"Error: {exc}")
                status = 1
    return status


# --- system --------------------------------------------------------------------------------------------------


def cmd_system_df(args: argparse.Namespace) -> int:
    from dockyard import views
    from dockyard.cli import render

    with open_store(args) as store:
        du = store.disk_usage()
        containers = views.container_docs(store) if args.verbose else []
    if not args.verbose:
        status = emit(views.disk_usage_docs(du), args.format, _DF_HEADERS, list(_DF_HEADERS), "diskUsage")
        if not args.format:
            total, freed = render.human_size(du.blob_bytes), render.human_size(du.reclaimable_bytes)
            out(f"\nBytes on disk (blobs as stored, compressed): {total}, {freed} reclaimable\n")
        return status
    images = views.disk_usage_image_docs(du, trunc=not args.format)
    cache = views.disk_usage_cache_docs(du, trunc=not args.format)
    if args.format:
        doc = {"Images": images, "Containers": containers, "Volumes": [], "BuildCache": cache}
        return emit([doc], args.format, {}, [], "diskUsage")
    out("Images space usage:\n\n")
    emit(images, None, _DF_IMAGE_HEADERS, list(_DF_IMAGE_HEADERS), "image")
    out("\nContainers space usage:\n\n")
    emit(containers, None, _CONTAINER_HEADERS, _DF_CONTAINER_COLUMNS, "container")
    out("\nLocal Volumes space usage:\n\n")
    emit([], None, _DF_VOLUME_HEADERS, list(_DF_VOLUME_HEADERS), "volume")
    out(f"\nBuild cache usage: {render.human_size(du.cache_size)}\n\n")
    emit(cache, None, _DF_CACHE_HEADERS, list(_DF_CACHE_HEADERS), "buildCache")
    out(f"\nBytes on disk (blobs as stored, compressed): {render.human_size(du.blob_bytes)}\n")
    return 0


def cmd_system_check(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        report = store.check(rehash=not args.quick)
    for p in report.problems:
        out(f"ERROR: {p}\n")
    if report.unreferenced_blobs:
        out(f"note: {len(report.unreferenced_blobs)} unreferenced blobs (reclaimable with `dockyard image prune`)\n")
    if report.temp_files:
        out(f"note: {len(report.temp_files)} leftover temporary files from interrupted writes\n")
    if report.ok:
        out(f"store OK: {report.blobs_checked} blobs verified\n")
        return 0
    out(f"store DAMAGED: {len(report.problems)} problems\n")
    return 1


def add_parsers(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add the ``container`` and ``system`` groups to the top-level subparsers."""
    container = sub.add_parser("container", help="container records (which images are in use)")
    csub = container.add_subparsers(
        dest="container_command", metavar="COMMAND", parser_class=parser_class, required=True
    )
    p = csub.add_parser("create", help="create a container record for an image")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--name")
    p.set_defaults(func=cmd_container_create)
    p = csub.add_parser("ls", aliases=["list", "ps"], help="list containers")
    p.add_argument("-a", "--all", action="store_true", help="accepted: every container record is shown")
    p.add_argument("-q", "--quiet", action="store_true", help="only show container IDs")
    p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    p.add_argument("--format", help="'json', or a Go template such as '{{.ID}} {{.Image}}'")
    p.set_defaults(func=cmd_container_ls)
    p = csub.add_parser("rm", aliases=["remove"], help="remove containers")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.add_argument("-f", "--force", action="store_true")
    p.set_defaults(func=cmd_container_rm)

    system = sub.add_parser("system", help="manage the store")
    ssub = system.add_subparsers(dest="system_command", metavar="COMMAND", parser_class=parser_class, required=True)
    p = ssub.add_parser(
        "df",
        help="show disk usage",
        description="SIZE counts each layer once, in the unit of `images`' SIZE (the bytes of the files the "
        "layers unpack to); the bytes the store's blobs take on disk follow on a line of their own.",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show detailed information on space usage")
    p.add_argument("--format", help="'json', 'table ...', or a Go template such as '{{.Type}}: {{.Size}}'")
    p.set_defaults(func=cmd_system_df)
    p = ssub.add_parser("check", help="verify every blob and reference in the store")
    p.add_argument("--quick", action="store_true", help="skip re-hashing blobs")
    p.set_defaults(func=cmd_system_check)
