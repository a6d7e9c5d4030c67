"""Registry commands of the CLI: pull, push, copy. Parsing and rendering only."""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from typing import Any

from dockyard.cli.common import UsageError, open_store, out


def _insecure(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(getattr(args, "insecure_registry", None) or ())


class _FirstLine:
    """Docker's ``TAG: Pulling from REPO``, shown before the pull's first event: a pull that fails before it
    starts (registry unreachable, no such tag) prints nothing of itself."""

    def __init__(self, progress: Any, text: str) -> None:
        self.progress = progress
        self.text: str | None = text

    def show(self) -> None:
        if self.text is not None:
            self.progress.line(self.text)
            self.text = None

    def __call__(self, event: Any) -> None:
        self.show()
        self.progress(event)


def cmd_pull(args: argparse.Namespace) -> int:
    from dockyard import pull as pulling
    from dockyard.cli.progress import Progress
    from dockyard.oci import reference as refs
    from dockyard.oci.platform import Platform
    from dockyard.transport import remote

    ref = refs.parse(args.name)
    platform = Platform.parse(args.platform) if args.platform else None
    if args.max_concurrent_downloads < 1:
        raise UsageError("--max-concurrent-downloads must be at least 1")
    insecure = _insecure(args)
    with open_store(args) as store, Progress(quiet=args.quiet) as progress:
        client = remote.client_for(ref.domain, insecure=insecure)
        try:
            if args.all_tags:
                wanted = pulling.tags_to_pull(client, ref)
            else:
                if ref.tag is None and ref.digest is None:
                    progress.line("Using default tag: latest")
                wanted = [ref.with_default_tag()]
            updated = False
            last: Any = None
            for one in wanted:
                shown = str(one.digest) if one.digest is not None else one.tag
                header = _FirstLine(progress, f"{shown}: Pulling from {one.path}")
                last = pulling.pull(
                    store,
                    one,
                    platform=platform,
                    client=client,
                    max_concurrent=args.max_concurrent_downloads,
                    on_event=header,
                )
                header.show()
                updated = updated or last.updated
                progress.line(f"Digest: {last.digest}")
        finally:
            client.close()
        final = ref.untagged() if args.all_tags else last.ref
        status = "Downloaded newer image" if updated else "Image is up to date"
        progress.line(f"Status: {status} for {final.familiar()}")
    out(f"{final}\n")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from dockyard import push as pushing
    from dockyard.cli.progress import Progress
    from dockyard.oci import reference as refs
    from dockyard.oci.platform import Platform
    from dockyard.transport import remote

    ref = refs.parse(args.name)
    platform = Platform.parse(args.platform) if args.platform else None
    if args.max_concurrent_uploads < 1:
        raise UsageError("--max-concurrent-uploads must be at least 1")
    with open_store(args) as store, Progress(quiet=args.quiet) as progress:
        wanted = pushing.tags_to_push(store, ref) if args.all_tags else [ref.with_default_tag()]
        progress.line(f"The push refers to repository [{ref.untagged()}]")
        client = remote.client_for(ref.domain, insecure=_insecure(args))
        try:
            for one in wanted:
                result = pushing.push(
                    store,
                    one,
                    platform=platform,
                    compression=None if args.compression == "none" else args.compression,
                    client=client,
                    on_event=progress,
                    max_concurrent=args.max_concurrent_uploads,
                )
                for note in result.notes:
                    progress.line(note)
                progress.line(f"{one.tag}: digest: {result.digest} size: {result.size}")
        finally:
            client.close()
    if args.quiet:
        out(f"{ref.untagged() if args.all_tags else wanted[0]}\n")
    return 0


def cmd_copy(args: argparse.Namespace) -> int:
    from dockyard import copy as copying
    from dockyard.cli.progress import Progress
    from dockyard.oci.platform import Platform

    src = copying.parse_location(args.source)
    dst = copying.parse_location(args.destination)
    platform = Platform.parse(args.platform) if args.platform else None
    store_needed = "store" in (src.kind, dst.kind)
    with Progress(quiet=args.quiet) as progress, open_store(args) if store_needed else nullcontext() as store:
        result = copying.copy(
            src,
            dst,
            store=store,
            platform=platform,
            all_platforms=args.all,
            include_foreign=args.include_foreign,
            on_event=progress,
            insecure=_insecure(args),
        )
        for note in result.notes:
            progress.line(note)
        progress.line(f"Copied {result.images} image{'s' if result.images != 1 else ''}: {src} -> {dst}")
        progress.line(f"Digest: {result.digest}")
    return 0


def add_pull_args(p: argparse.ArgumentParser) -> None:
    """``pull``'s arguments (also ``image pull``)."""
    p.add_argument("name", metavar="NAME[:TAG|@DIGEST]")
    p.add_argument("-a", "--all-tags", action="store_true", help="download all tagged images in the repository")
    p.add_argument("--platform", help="os/arch[/variant] to pull from a multi-platform image (default: this host)")
    p.add_argument("-q", "--quiet", action="store_true", help="suppress verbose output")
    p.add_argument("--max-concurrent-downloads", type=int, default=3, help="layers downloaded at once (default 3)")
    p.set_defaults(func=cmd_pull)


def add_push_args(p: argparse.ArgumentParser) -> None:
    """``push``'s arguments (also ``image push``)."""
    p.add_argument("name", metavar="NAME[:TAG]")
    p.add_argument("-a", "--all-tags", action="store_true", help="push all tags of the repository")
    p.add_argument(
        "--platform", help="push only this platform of a multi-platform tag (default: the whole index, as kept)"
    )
    p.add_argument(
        "--compression",
        choices=("gzip", "zstd", "none"),
        default="gzip",
        help="how layers kept as plain tars are sent (default gzip, as docker push; zstd needs an OCI manifest, "
        "which the push then writes; none: as kept)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="suppress verbose output")
    p.add_argument("--max-concurrent-uploads", type=int, default=5, help="layers uploaded at once (default 5)")
    p.set_defaults(func=cmd_push)


def add_parsers(sub: Any) -> None:
    """Add the registry commands to the top-level subparsers."""
    add_pull_args(sub.add_parser("pull", help="download an image from a registry into the store"))
    add_push_args(sub.add_parser("push", help="upload an image of the store to a registry"))

    p = sub.add_parser(
        "copy",
        help="copy an image between registries, layouts, archives and the store",
        description="Places use skopeo's names: docker://REF, oci:DIR[:REF], oci-archive:FILE[:REF], "
        "docker-archive:FILE[:REF|:@N]; a bare reference is the local store.",
    )
    p.add_argument("source", metavar="SOURCE")
    p.add_argument("destination", metavar="DESTINATION")
    p.add_argument("--all", action="store_true", help="copy every platform of an index, byte for byte")
    p.add_argument(
        "--include-foreign",
        action="store_true",
        help="copy non-distributable (foreign) layers too (by default they stay where their URLs say)",
    )
    p.add_argument("--platform", help="platform to take from a multi-platform source (default: this host)")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_copy)
