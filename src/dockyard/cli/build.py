"""``dockyard build`` (also ``buildx build`` and ``image build``) and ``dockyard builder``: parsing and rendering
only; the work is in :mod:`dockyard.build`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from dockyard.cli.common import UsageError, confirm, err, open_store, out


def _pairs(values: list[str] | None, what: str, *, env_fallback: bool = False) -> dict[str, str]:
    outd: dict[str, str] = {}
    for v in values or []:
        key, eq, value = v.partition("=")
        if not key:
            raise UsageError(f"invalid {what} {v!r}: want KEY=VALUE")
        if not eq:
            if not env_fallback:
                raise UsageError(f"invalid {what} {v!r}: want KEY=VALUE")
            if key not in os.environ:
                continue  # docker: --build-arg NAME takes the value from the environment, if set
            value = os.environ[key]
        outd[key] = value
    return outd


def _secrets(values: list[str] | None) -> dict[str, bytes]:
    """``--secret id=x,src=FILE`` / ``id=x,env=VAR`` / ``id=x`` (the variable ``x``), as buildx reads them."""
    import csv

    outd: dict[str, bytes] = {}
    for v in values or []:
        fields = dict(f.partition("=")[::2] for f in next(csv.reader([v]), []))
        sid = fields.get("id", "")
        src = fields.get("src") or fields.get("source")
        env = fields.get("env")
        kind = fields.get("type")
        if not sid:
            raise UsageError(f"invalid --secret {v!r}: id= is required")
        if src and kind != "env":
            try:
                outd[sid] = Path(src).expanduser().read_bytes()
            except OSError as exc:
                raise UsageError(f"--secret {sid}: cannot read {src}: {exc.strerror}") from None
        else:
            name = env or src or sid
            if name not in os.environ:
                raise UsageError(f"--secret {sid}: environment variable {name} is not set")
            outd[sid] = os.environ[name].encode()
    return outd


def _ssh(values: list[str] | None) -> dict[str, str]:
    outd: dict[str, str] = {}
    for v in values or []:
        sid, _, path = v.partition("=")
        sock = path or os.environ.get("SSH_AUTH_SOCK", "")
        if not sock:
            raise UsageError(f"--ssh {v}: no socket given and SSH_AUTH_SOCK is not set")
        outd[sid or "default"] = sock
    return outd


def _hosts(values: list[str] | None) -> tuple[tuple[str, str], ...]:
    outl = []
    for v in values or []:
        host, sep, ip = v.partition(":") if "=" not in v else v.partition("=")
        if not sep or not host or not ip:
            raise UsageError(f"invalid --add-host {v!r}: want HOST:IP")
        outl.append((host, ip))
    return tuple(outl)


def _provenance(value: str | None) -> str | None:
    from dockyard.build.attest import parse_flag

    try:
        return parse_flag(value, default="min")
    except ValueError as exc:
        raise UsageError(f"--provenance: {exc}") from None


def _truthy(value: str | None) -> bool:
    if value is None:
        return False
    text = value.strip().lower()
    return text in ("", "true", "1") or (text.startswith(("generator=", "true,")))


def cmd_build(args: argparse.Namespace) -> int:
    from dockyard.build.builder import BuildOptions
    from dockyard.build.export import parse_output
    from dockyard.build.progress import Progress
    from dockyard.build.session import BuildRequest, build
    from dockyard.oci.platform import Platform

    platforms = tuple(Platform.parse(p.strip()) for v in args.platform or [] for p in v.split(",") if p.strip())
    build_args = _pairs(args.build_arg, "--build-arg", env_fallback=True)
    if "SOURCE_DATE_EPOCH" in os.environ and "SOURCE_DATE_EPOCH" not in build_args:
        build_args["SOURCE_DATE_EPOCH"] = os.environ["SOURCE_DATE_EPOCH"]  # as buildx: a build arg RUN sees if declared
    epoch_text = build_args.get("SOURCE_DATE_EPOCH")
    epoch = None
    if epoch_text:
        try:
            epoch = int(epoch_text)
        except ValueError:
            raise UsageError(f"invalid SOURCE_DATE_EPOCH {epoch_text!r}: want seconds since 1970") from None
    contexts = _pairs(args.build_context, "--build-context")
    options = BuildOptions(
        dockerfile="",
        platforms=platforms,
        build_args=build_args,
        target=args.target,
        labels=_pairs(args.label, "--label"),
        no_cache=args.no_cache,
        no_cache_filter=frozenset(s for v in args.no_cache_filter or [] for s in v.split(",")),
        pull=args.pull,
        secrets=_secrets(args.secret),
        ssh=_ssh(args.ssh),
        add_hosts=_hosts(args.add_host),
        network=args.network or "default",
        runtime=args.runtime,
        epoch=epoch,
        build_contexts=contexts,
        insecure=tuple(args.insecure_registry or ()),
    )
    outputs = tuple(parse_output(o) for o in args.output or [])
    mode = "quiet" if args.quiet else args.progress
    if mode == "auto":
        mode = "tty" if sys.stderr.isatty() else "plain"
    request = BuildRequest(
        context=args.context,
        options=options,
        dockerfile=args.file,
        tags=tuple(args.tag or ()),
        outputs=outputs,
        load=args.load,
        push=args.push,
        iidfile=Path(args.iidfile) if args.iidfile else None,
        metadata_file=Path(args.metadata_file) if args.metadata_file else None,
        annotations=_pairs(args.annotation, "--annotation"),
        provenance=_provenance(args.provenance),
        sbom=_truthy(args.sbom),
        cache_from=tuple(args.cache_from or ()),
        cache_to=tuple(args.cache_to or ()),
    )
    progress = Progress(sys.stderr, mode)
    stdin = sys.stdin.buffer if "-" in (args.context, args.file) else None
    with open_store(args) as store:
        result = build(store, request, progress, stdin=stdin)
    if args.quiet:
        out(result.image_id + "\n")
    return 0


def add_build_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("context", metavar="PATH | URL | -", help="the build context: a directory, a git or tarball URL, -")
    p.add_argument("-t", "--tag", action="append", help="name and optionally a tag (name:tag); repeatable")
    p.add_argument("-f", "--file", help="name of the Dockerfile (default: PATH/Dockerfile; - for standard input)")
    p.add_argument("--platform", action="append", help="target platforms, comma-separated (linux/amd64,linux/arm64)")
    p.add_argument("--build-arg", action="append", metavar="KEY=VALUE", help="set a build-time variable")
    p.add_argument("--build-context", action="append", metavar="NAME=VALUE", help="an extra named context")
    p.add_argument("--target", help="the stage to build")
    p.add_argument("--label", action="append", metavar="KEY=VALUE", help="set a label on the image")
    p.add_argument("--annotation", action="append", metavar="KEY=VALUE", help="add an annotation to the image")
    p.add_argument("--no-cache", action="store_true", help="do not use the cache when building")
    p.add_argument("--no-cache-filter", action="append", metavar="STAGE", help="do not cache these stages")
    p.add_argument("--pull", action="store_true", help="always pull the base images again")
    p.add_argument("--cache-from", action="append", metavar="type=registry,ref=REF|type=local,src=DIR",
                   help="import build cache from a registry or a local OCI layout")  # fmt: skip
    p.add_argument("--cache-to", action="append", metavar="type=registry,ref=REF[,mode=max]|type=local,dest=DIR",
                   help="export the build cache to a registry or a local OCI layout")  # fmt: skip
    p.add_argument("--secret", action="append", help="a secret for RUN --mount=type=secret (id=x,src=FILE|env=VAR)")
    p.add_argument("--ssh", action="append", help="an SSH agent socket for RUN --mount=type=ssh (default|ID=SOCKET)")
    p.add_argument("--add-host", action="append", metavar="HOST:IP", help="add a line to /etc/hosts of RUN steps")
    p.add_argument("--network", choices=("default", "host", "none"), help="networking of RUN steps (default: host)")
    p.add_argument(
        "--runtime", choices=("runc", "crun"), help="OCI runtime of RUN steps (default: $DOCKYARD_RUNTIME, runc, crun)"
    )
    p.add_argument("--iidfile", metavar="FILE", help="write the image ID to FILE")
    p.add_argument("--metadata-file", metavar="FILE", help="write the build result metadata to FILE")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the image ID")
    p.add_argument("--progress", choices=("auto", "plain", "tty", "quiet", "rawjson"), default="auto")
    p.add_argument("--load", action="store_true", help="put the image into the store (the default output)")
    p.add_argument("--push", action="store_true", help="push the image to its registry (-t names it)")
    p.add_argument("-o", "--output", action="append", metavar="type=TYPE[,dest=...]", help="where the result goes")
    p.add_argument("--provenance", nargs="?", const="true", metavar="true|false|mode=min|max",
                   help="a SLSA provenance attestation on pushed and OCI outputs (default: mode=min)")  # fmt: skip
    p.add_argument("--sbom", nargs="?", const="true", metavar="true|false",
                   help="an SPDX SBOM attestation made by dockyard's catalogers")  # fmt: skip
    p.set_defaults(func=cmd_build)


def cmd_builder_prune(args: argparse.Namespace) -> int:
    from dockyard.build.session import prune
    from dockyard.cli import render

    if not args.force:
        what = "all build cache" if args.all else "all dangling build cache"
        if not confirm(f"WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] "):
            return 0
    with open_store(args) as store:
        result = prune(store, all_steps=args.all)
    out(f"Total:\t{render.human_size(result.reclaimed)}\n")
    return 0


def cmd_emulation(args: argparse.Namespace) -> int:
    from dockyard.build import emulation
    from dockyard.oci.platform import Platform

    if args.install:
        for arch in args.install:
            emulation.ensure(Platform.parse(arch if "/" in arch else f"linux/{arch}"), announce=err)
        return 0
    if args.uninstall:
        for arch in args.uninstall:
            if emulation.uninstall(arch):
                out(f"removed emulation of {arch}\n")
            else:
                out(f"emulation of {arch} was not installed\n")
        return 0
    for arch in ("arm64", "arm", "ppc64le", "s390x", "riscv64", "386", "amd64"):
        try:
            st = emulation.status(arch)
        except Exception as exc:  # an architecture this host runs natively or cannot describe
            out(f"{arch:<8} {exc}\n")
            continue
        problem = st.problem()
        out(f"{arch:<8} {'ready' if st.ready else problem}\n")
    return 0


def add_parsers(sub: Any, parser_class: Any) -> None:
    add_build_args(sub.add_parser("build", help="build an image from a Dockerfile (as docker buildx build)"))
    buildx = sub.add_parser("buildx", help="Docker Buildx's commands: buildx build")
    bsub = buildx.add_subparsers(dest="buildx_command", metavar="COMMAND", parser_class=parser_class, required=True)
    add_build_args(bsub.add_parser("build", help="build an image from a Dockerfile"))
    p = bsub.add_parser("prune", help="remove build cache")
    _add_prune(p)
    builder = sub.add_parser("builder", help="manage builds: prune the cache, QEMU emulation")
    sub2 = builder.add_subparsers(dest="builder_command", metavar="COMMAND", parser_class=parser_class, required=True)
    _add_prune(sub2.add_parser("prune", help="remove build cache"))
    emu = sub2.add_parser("emulation", help="show, install or remove QEMU emulation of foreign platforms (binfmt_misc)")
    emu.add_argument("--install", action="append", metavar="ARCH", help="register QEMU for ARCH (arm64, arm, ...)")
    emu.add_argument("--uninstall", action="append", metavar="ARCH", help="remove what --install or a build did")
    emu.set_defaults(func=cmd_emulation)


def _add_prune(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="remove all build cache, not just the dangling steps")
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.set_defaults(func=cmd_builder_prune)


__all__ = ["add_build_args", "add_parsers", "cmd_build", "cmd_builder_prune"]
