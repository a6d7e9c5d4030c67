"""The ``dockyard`` command: argument parsing and rendering only; the work happens in the library.

argparse rather than typer: ``images`` must start in well under 150 ms and typer's import alone costs ~120 ms.
Everything heavier than argparse is imported inside the command that needs it.
"""

from __future__ import annotations

import argparse
import functools
import signal
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from dockyard.cli.common import Handler, UsageError
from dockyard.cli.common import confirm as _confirm
from dockyard.cli.common import err as _err
from dockyard.cli.common import open_store as _store
from dockyard.cli.common import out as _out

# argparse asks gettext for each of its strings (~200 while the parser is built), and gettext looks for catalogues on
# disk again every time it finds none: memoised, the answers are the same and start-up is ~15 ms shorter.
for _name in ("_", "ngettext"):
    setattr(argparse, _name, functools.cache(getattr(argparse, _name)))

# --- image commands ------------------------------------------------------------------------------------------


def cmd_load(args: argparse.Namespace) -> int:
    from dockyard import archive
    from dockyard.oci.platform import Platform

    platform = Platform.parse(args.platform) if args.platform else None

    def progress(event: Any) -> None:
        if not args.quiet:
            _err(f"{event.digest.short}: {event.status}")

    with _store(args) as store:
        if args.input and args.input != "-":
            loaded = archive.load(store, Path(args.input), name=args.name, platform=platform, on_layer=progress)
        else:
            if sys.stdin.isatty():
                raise _usage("requested load from stdin, but stdin is a terminal; use -i FILE or redirect")
            loaded = archive.load_stream(store, sys.stdin.buffer, name=args.name, platform=platform, on_layer=progress)
    for item in loaded:
        for ref, old_id in item.result.moved:
            _out(f"The image {ref.familiar()} already exists, renaming the old one with ID {old_id} to empty string\n")
        if item.names:
            for name in item.names:
                _out(f"Loaded image: {name.familiar()}\n")
        else:
            _out(f"Loaded image ID: {item.result.image_id}\n")
        if item.hint:
            _err(item.hint)
    return 0


def cmd_save(args: argparse.Namespace) -> int:
    from dockyard import archive

    if not args.output and sys.stdout.isatty():
        raise _usage("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    with _store(args) as store:
        if args.output:
            archive.save(store, args.images, Path(args.output), fmt=args.format)
        else:
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                target = Path(tmp) / "out.tar"
                archive.save(store, args.images, target, fmt=args.format)
                with open(target, "rb") as f:
                    while chunk := f.read(1 << 20):
                        sys.stdout.buffer.write(chunk)
    return 0


_IMAGES_HEADERS = {
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "Digest": "DIGEST",
    "ID": "IMAGE ID",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
    "VirtualSize": "VIRTUAL SIZE",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
    "Containers": "CONTAINERS",
}


def cmd_images(args: argparse.Namespace) -> int:
    from dockyard import views

    digests = args.digests or views.format_shows_digest(args.format)
    with _store(args) as store:
        rows = views.image_rows(
            store, reference=args.reference, filters=args.filter or [], digests=digests, all_images=args.all
        )
    trunc = not args.no_trunc
    if args.quiet:  # one ID per row, repeated for each of an image's rows, as Docker prints them
        for r in rows:
            _out((r.summary.id.short if trunc else str(r.summary.id)) + "\n")
        return 0
    cols = ["Repository", "Tag"] + (["Digest"] if args.digests else []) + ["ID", "CreatedSince", "Size"]
    return _emit([r.as_json(trunc=trunc) for r in rows], args.format, _IMAGES_HEADERS, cols, "image")


def _emit(docs: Sequence[dict[str, str]], fmt: str | None, headers: dict[str, str], cols: list[str], kind: str) -> int:
    """Docker's three outputs: ``--format json`` (a JSON object a line), a Go template, or the default table."""
    from dockyard.compat.dockerformat import render_rows

    _out(render_rows(fmt, docs, headers, cols, f"*formatter.{kind}Context"))
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from dockyard import views
    from dockyard.errors import NotFound

    docs = []
    failed = []
    with _store(args) as store:
        for name in args.images:
            try:
                docs.append(views.inspect(store, name))
            except NotFound as exc:
                failed.append(str(exc))
    if args.format:
        from dockyard.compat.dockerformat import inspect_format

        _out(inspect_format(args.format, docs))
    else:
        from dockyard.compat.dockerformat import inspect_json

        _out(inspect_json(docs))
    for msg in failed:
        _err(f"Error: {msg}")
    return 1 if failed else 0


_HISTORY_HEADERS = {
    "ID": "IMAGE",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY",
    "Size": "SIZE",
    "Comment": "COMMENT",
}


def cmd_history(args: argparse.Namespace) -> int:
    from dockyard import views
    from dockyard.cli import render

    with _store(args) as store:
        rows = views.history(store, args.image)
    human = args.human.lower() not in ("false", "0", "no")
    now = views.clock()
    docs: list[dict[str, str]] = []
    for r in rows:
        ident = r.id
        if ident != "<missing>" and not args.no_trunc:
            ident = ident[7:19]
        created_by = r.created_by.replace("\t", " ")
        docs.append(
            {
                "ID": ident,
                "CreatedSince": render.history_since(r.created, now) if human else render.rfc3339(r.created),
                "CreatedAt": render.rfc3339(r.created),
                "CreatedBy": created_by if args.no_trunc else render.ellipsis(created_by, 45),
                "Size": render.human_size(r.size) if human else str(r.size),
                "Comment": r.comment,
            }
        )
    if args.quiet:
        for d in docs:
            _out(d["ID"] + "\n")
        return 0
    cols = ["ID", "CreatedSince" if human else "CreatedAt", "CreatedBy", "Size", "Comment"]
    return _emit(docs, args.format, _HISTORY_HEADERS, cols, "history")


def cmd_tag(args: argparse.Namespace) -> int:
    with _store(args) as store:
        store.tag(args.source, args.target)
    return 0


def cmd_rmi(args: argparse.Namespace) -> int:
    from dockyard.errors import DockyardError

    status = 0
    with _store(args) as store:
        for name in args.images:
            try:
                for rec in store.remove(name, force=args.force):
                    _out(f"{rec.kind}: {rec.value}\n")
            except DockyardError as exc:  # like Docker: report, go on with the next image, exit 1 at the end
                _err(f"Error: {exc}")
                status = 1
    return status


def cmd_prune(args: argparse.Namespace) -> int:
    from dockyard.cli import render

    if not args.force:
        what = "all images without at least one container associated to them" if args.all else "all dangling images"
        if not _confirm(f"WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] "):
            return 0
    with _store(args) as store:
        records, reclaimed = store.prune(all_unused=args.all)
        if store.build_dir.is_dir():  # the build cache's unpacked layers of layers the prune took
            from dockyard.build.session import prune_snapshots

            reclaimed += prune_snapshots(store)
    if records:
        _out("Deleted Images:\n")
        for rec in records:
            _out(f"{rec.kind.lower()}: {rec.value}\n")
        _out("\n")
    _out(f"Total reclaimed space: {render.human_size(reclaimed)}\n")
    return 0


def cmd_version(args: argparse.Namespace) -> int:
    from dockyard import __version__

    _out(f"dockyard {__version__}\n")
    return 0


# --- parser --------------------------------------------------------------------------------------------------


_UsageError = UsageError


def _usage(msg: str) -> UsageError:
    return UsageError(msg)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        _err(f"dockyard: error: {message}")
        raise SystemExit(2)


def _add_images_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("reference", nargs="?", help="REPOSITORY[:TAG]")
    p.add_argument(
        "-a",
        "--all",
        action="store_true",
        help="show all images, also the other platforms of a multi-platform tag (as <none>)",
    )
    p.add_argument("--digests", action="store_true", help="show digests")
    p.add_argument(
        "-f", "--filter", action="append", help="filter output (dangling=, reference=, before=, since=, label=)"
    )
    p.add_argument(
        "--format", help="'json', or a Go template such as '{{.Repository}}:{{.Tag}}' (naming .Digest shows digests)"
    )
    p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="only show image IDs")
    p.set_defaults(func=cmd_images)


def _add_rmi_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("-f", "--force", action="store_true", help="force removal of the image")
    p.add_argument("--no-prune", action="store_true", help="accepted for compatibility")
    p.set_defaults(func=cmd_rmi)


def _add_prune_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="remove all unused images, not just dangling ones")
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.set_defaults(func=cmd_prune)


def _add_load_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-i", "--input", help="docker-archive or OCI layout (tar or directory); default: STDIN")
    p.add_argument("--name", help="repository for OCI layouts whose entries carry only a tag")
    p.add_argument("--platform", help="platform to load from a multi-platform index (default: this host)")
    p.add_argument("-q", "--quiet", action="store_true", help="suppress the load output")
    p.set_defaults(func=cmd_load)


def _add_save_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("-o", "--output", help="write to a file instead of STDOUT")
    p.add_argument("--format", choices=("docker", "oci"), default="docker", help="docker-archive (default) or oci")
    p.set_defaults(func=cmd_save)


def _add_inspect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("-f", "--format", help="Go template")
    p.set_defaults(func=cmd_inspect)


def _add_history_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", metavar="IMAGE")
    p.add_argument(
        "-H",
        "--human",
        default="true",
        nargs="?",
        const="true",
        help="print sizes and dates in human readable format (default true; -H=false for raw)",
    )
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--format")
    p.set_defaults(func=cmd_history)


def _add_tag_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    p.add_argument("target", metavar="TARGET_IMAGE[:TAG]")
    p.set_defaults(func=cmd_tag)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dockyard", description="A daemonless Docker/OCI image manager.")
    parser.add_argument("--root", help="store directory (default $DOCKYARD_ROOT or ~/.local/share/dockyard)")
    parser.add_argument("--version", action="store_true", help="print the version")
    parser.add_argument(
        "--insecure-registry",
        action="append",
        metavar="HOST[:PORT]",
        help="reach this registry over plain HTTP (loopback registries always are); also $DOCKYARD_INSECURE_REGISTRIES",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    _add_images_args(sub.add_parser("images", help="list images"))
    _add_load_args(sub.add_parser("load", help="load images from a docker-archive or OCI layout"))
    _add_save_args(sub.add_parser("save", help="save images to a docker-archive or OCI layout tar"))
    _add_inspect_args(sub.add_parser("inspect", help="show low-level information on images"))
    _add_history_args(sub.add_parser("history", help="show the history of an image"))
    _add_tag_args(sub.add_parser("tag", help="create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"))
    _add_rmi_args(sub.add_parser("rmi", help="remove images"))

    from dockyard.cli import registry, remote, rootfs, scan, system

    rootfs.add_parsers(sub)
    image = sub.add_parser("image", help="manage images (Docker's management commands: image ls, image pull, ...)")
    isub = image.add_subparsers(dest="image_command", metavar="COMMAND", parser_class=_Parser, required=True)
    registry.add_pull_args(isub.add_parser("pull", help="download an image from a registry"))
    registry.add_push_args(isub.add_parser("push", help="upload an image to a registry"))
    _add_images_args(isub.add_parser("ls", aliases=["list"], help="list images"))
    _add_load_args(isub.add_parser("load", help="load images"))
    _add_save_args(isub.add_parser("save", help="save images"))
    _add_inspect_args(isub.add_parser("inspect", help="inspect images"))
    _add_history_args(isub.add_parser("history", help="image history"))
    _add_tag_args(isub.add_parser("tag", help="tag an image"))
    _add_rmi_args(isub.add_parser("rm", aliases=["remove"], help="remove images"))
    _add_prune_args(isub.add_parser("prune", help="remove unused images"))
    from dockyard.cli import build as build_cli

    build_cli.add_build_args(isub.add_parser("build", help="build an image from a Dockerfile"))
    build_cli.add_parsers(sub, _Parser)

    system.add_parsers(sub, _Parser)

    registry.add_parsers(sub)
    remote.add_parsers(sub)
    __import__("dockyard.cli.db", fromlist=["add_parsers"]).add_parsers(sub, _Parser)
    scan.add_parsers(sub)
    __import__("dockyard.cli.scout", fromlist=["add_parsers"]).add_parsers(sub)
    sub.add_parser("version", help="print the version").set_defaults(func=cmd_version)
    return parser


def _normalise_argv(argv: list[str]) -> list[str]:
    # Docker accepts -H=false; argparse needs it split for short options.
    return [("--human=" + a[3:]) if a.startswith("-H=") else a for a in argv]


class _Terminated(BaseException):
    """SIGTERM or SIGHUP, raised in the main thread as SIGINT raises KeyboardInterrupt, so every ``finally`` runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_STOP_SIGNALS = {signal.SIGTERM: "terminated", signal.SIGHUP: "hangup"}


def _on_stop_signal(signum: int, frame: object) -> None:
    for s in _STOP_SIGNALS:  # a second signal while cleaning up ends the process at once
        signal.signal(s, signal.SIG_DFL)
    raise _Terminated(signum)


def main(argv: Sequence[str] | None = None) -> int:
    previous = {}
    for s in _STOP_SIGNALS:
        if signal.getsignal(s) is not signal.SIG_IGN:  # under nohup, a hangup stays ignored
            try:
                previous[s] = signal.signal(s, _on_stop_signal)
            except ValueError:  # main() called from another thread (tests): no handlers
                break
    try:
        return _main(argv)
    except _Terminated as exc:  # also when it arrives before or after the command proper
        _err(_STOP_SIGNALS[signal.Signals(exc.signum)])
        return 128 + exc.signum
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)


def _main(argv: Sequence[str] | None) -> int:
    args_list = _normalise_argv(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.version:
        return cmd_version(args)
    func: Handler | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    from dockyard.errors import DockyardError

    try:
        return func(args)
    except _UsageError as exc:
        _err(f"Error: {exc}")
        return 2
    except DockyardError as exc:
        _err(f"Error: {exc}")
        return 1
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:
        return 0
    except sqlite3.Error as exc:  # a damaged or foreign metadata database: one line, no traceback
        _err(f"Error: store database: {exc}")
        return 1
    except OSError as exc:
        _err(f"Error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return 1
