"""Remote inspection commands of the CLI (manifest, imagetools, digest, tags, catalog, delete, login, logout).

Parsing and rendering only: the work is in :mod:`dockyard.remote_ops` and :mod:`dockyard.imagetools`.
Outputs follow docker/cli (``login``, ``logout``, ``manifest inspect``), buildx (``imagetools``) and
crane (``digest``, ``ls`` as ``tags``, ``catalog``, ``delete``).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from dockyard.cli.common import UsageError, err, out

if TYPE_CHECKING:
    from dockyard.oci.reference import Reference
    from dockyard.transport.registry.client import RegistryClient

_UNENCRYPTED_WARNING = (
    "WARNING! Your password will be stored unencrypted in {path}.\n"
    "Configure a credential helper to remove this warning. See\n"
    "https://docs.docker.com/engine/reference/commandline/login/#credentials-store\n"
)


def _insecure(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(getattr(args, "insecure_registry", None) or ())


def registry_client(args: argparse.Namespace, domain: str, *, force_insecure: bool = False) -> RegistryClient:
    from dockyard.transport import remote

    extra = _insecure(args) + ((domain,) if force_insecure else ())
    return remote.client_for(domain, insecure=extra)


def _ref(text: str) -> Reference:
    from dockyard.oci import reference as refs

    return refs.parse(text)


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "t", "true", "yes", "y"):
        return True
    if value in ("0", "f", "false", "no", "n"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


# --- login / logout ----------------------------------------------------------------------------------------------


def _prompt(label: str, *, secret: bool = False) -> str:
    if secret:
        import getpass

        return getpass.getpass(f"{label}: ")
    sys.stderr.write(f"{label}: ")
    sys.stderr.flush()
    return sys.stdin.readline().rstrip("\r\n").strip()


def cmd_login(args: argparse.Namespace) -> int:
    from dockyard import remote_ops
    from dockyard.errors import DockyardError
    from dockyard.transport.registry.credentials import DockerConfig

    username: str = args.username or ""
    password: str = args.password or ""
    if password:
        err("WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
        if args.password_stdin:
            raise UsageError("--password and --password-stdin are mutually exclusive")
    if args.password_stdin:
        if not username:
            raise UsageError("Must provide --username with --password-stdin")
        password = sys.stdin.read()
        password = password.removesuffix("\n").removesuffix("\r")
    host = remote_ops.server_host(args.server)
    config = DockerConfig()
    if not username and not password:
        stored = config.get(host)
        if stored is not None and stored.username and stored.password:
            out(f"Authenticating with existing credentials... [Username: {stored.username}]\n")
            out("To login with a different account, run 'dockyard logout' followed by 'dockyard login'\n\n")
            try:
                remote_ops.verify_login(host, stored.username, stored.password, insecure=_insecure(args))
            except DockyardError:
                err("Stored credentials invalid or expired")
            else:
                out("Login Succeeded\n")
                return 0
    if not username or not password:
        if not sys.stdin.isatty():
            raise UsageError("Cannot perform an interactive login from a non TTY device")
        if not username:
            username = _prompt("Username")
        if not password:
            password = _prompt("Password", secret=True)
    result = remote_ops.login(host, username, password, insecure=_insecure(args), config=config)
    if result.helper is None:
        err(_UNENCRYPTED_WARNING.format(path=result.config_path))
    out("Login Succeeded\n")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    from dockyard import remote_ops

    shown = remote_ops.display_server(args.server)
    if remote_ops.logout(args.server):
        out(f"Removing login credentials for {shown}\n")
    else:
        out(f"Not logged in to {shown}\n")
    return 0


# --- manifest inspect --------------------------------------------------------------------------------------------


def cmd_manifest_inspect(args: argparse.Namespace) -> int:
    from dockyard import remote_ops

    ref = _ref(args.name)
    with registry_client(args, ref.domain, force_insecure=args.insecure) as client:
        text = remote_ops.manifest_inspect(client, ref, verbose=args.verbose)
    sys.stdout.flush()
    sys.stdout.buffer.write(text)
    return 0


# --- imagetools --------------------------------------------------------------------------------------------------


def cmd_imagetools_inspect(args: argparse.Namespace) -> int:
    from dockyard import imagetools

    if args.raw and args.format:
        raise UsageError("format and raw cannot be used together")
    ref = imagetools.parse_name(args.name)
    with registry_client(args, ref.domain) as client:
        item = imagetools.fetch(client, args.name)
        if args.raw:
            sys.stdout.flush()
            sys.stdout.buffer.write(item.raw)  # as the registry sent it: no newline, so the digest holds
            return 0
        text = imagetools.render_format(client, item, args.format) if args.format else imagetools.render_text(item)
    out(text if not args.format or text.endswith("\n") else text + "\n")
    return 0


def cmd_imagetools_create(args: argparse.Namespace) -> int:
    from pathlib import Path

    from dockyard import imagetools

    sources = [Path(f).read_text(encoding="utf-8") for f in args.file or []] + list(args.sources)
    if not sources:
        raise UsageError("no sources specified")
    if not args.dry_run and not args.tag:
        raise UsageError("can't push with no tags specified, please set --tag or --dry-run")

    def progress(line: str) -> None:
        if not args.quiet:
            err(line)

    result = imagetools.create(
        sources,
        args.tag or [],
        append=args.append,
        dry_run=args.dry_run,
        prefer_index=args.prefer_index,
        insecure=_insecure(args),
        on_progress=progress,
    )
    if args.dry_run:
        sys.stdout.flush()
        sys.stdout.buffer.write(result.raw + b"\n")
    return 0


# --- crane-like: digest, tags, catalog, delete -------------------------------------------------------------------


def cmd_digest(args: argparse.Namespace) -> int:
    from dockyard import remote_ops
    from dockyard.oci.platform import Platform

    ref = _ref(args.name)
    platform = Platform.parse(args.platform) if args.platform else None
    with registry_client(args, ref.domain) as client:
        digest = remote_ops.digest_of(client, ref, platform)
    out(f"{ref.untagged().with_digest(digest) if args.full_ref else digest}\n")
    return 0


def cmd_tags(args: argparse.Namespace) -> int:
    from dockyard import remote_ops

    repo = remote_ops.repository_of(args.repo)
    with registry_client(args, repo.domain) as client:
        tags = remote_ops.list_tags(client, repo.path)
    for tag in tags:
        if args.omit_digest_tags and tag.startswith("sha256-"):
            continue
        out(f"{repo.with_tag(tag) if args.full_ref else tag}\n")
    return 0


def cmd_catalog(args: argparse.Namespace) -> int:
    from dockyard import remote_ops

    host = remote_ops.registry_of(args.registry)
    with registry_client(args, host) as client:
        repos = remote_ops.catalog(client)
    prefix = args.registry.rstrip("/")
    for repo in repos:
        out(f"{prefix}/{repo}\n" if args.full_ref else f"{repo}\n")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from dockyard import remote_ops

    for name in args.names:
        ref = _ref(name)
        with registry_client(args, ref.domain) as client:
            deleted = remote_ops.delete(client, ref)
        out(f"Deleted: {deleted}\n")
    return 0


# --- parsers -----------------------------------------------------------------------------------------------------


def add_parsers(sub: Any) -> None:
    """Add the remote-inspection commands to the top-level subparsers."""
    p = sub.add_parser("login", help="log in to a registry (credentials go to Docker's config.json)")
    p.add_argument("server", nargs="?", metavar="SERVER", help="registry (default: docker.io)")
    p.add_argument("-u", "--username", help="username")
    p.add_argument("-p", "--password", help="password or token")
    p.add_argument("--password-stdin", action="store_true", help="take the password or token from stdin")
    p.set_defaults(func=cmd_login)

    p = sub.add_parser("logout", help="log out from a registry")
    p.add_argument("server", nargs="?", metavar="SERVER", help="registry (default: docker.io)")
    p.set_defaults(func=cmd_logout)

    manifest = sub.add_parser("manifest", help="inspect manifests and manifest lists in a registry")
    msub = manifest.add_subparsers(dest="manifest_command", metavar="COMMAND", required=True)
    p = msub.add_parser("inspect", help="display an image manifest, or manifest list")
    p.add_argument("name", metavar="MANIFEST")
    p.add_argument("-v", "--verbose", action="store_true", help="output additional info including layers and platform")
    p.add_argument("--insecure", action="store_true", help="allow communication with an insecure registry")
    p.set_defaults(func=cmd_manifest_inspect)

    tools = sub.add_parser("imagetools", help="work on images in a registry (as docker buildx imagetools)")
    tsub = tools.add_subparsers(dest="imagetools_command", metavar="COMMAND", required=True)
    p = tsub.add_parser("inspect", help="show details of an image in the registry")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--raw", action="store_true", help="show the original JSON manifest")
    p.add_argument("--format", help="Go template: {{json .Manifest}}, {{json .Image}}, {{.Name}} ...")
    p.set_defaults(func=cmd_imagetools_inspect)

    p = tsub.add_parser("create", help="create a new image index from source images")
    p.add_argument("sources", nargs="*", metavar="SOURCE", help="references, digests or descriptors (JSON)")
    p.add_argument("-t", "--tag", action="append", help="reference for the new image (repeatable)")
    p.add_argument("-f", "--file", action="append", help="read a source descriptor from a file")
    p.add_argument("--dry-run", action="store_true", help="show the final image instead of pushing")
    p.add_argument("--append", action="store_true", help="append to the existing index at the first tag")
    p.add_argument(
        "--prefer-index",
        type=_bool,
        nargs="?",
        const=True,
        default=True,
        metavar="BOOL",
        help="with a single image source, still make an index (default true; --prefer-index=false copies it)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_imagetools_create)

    p = sub.add_parser("digest", help="print the digest of an image in a registry (as crane digest)")
    p.add_argument("name", metavar="IMAGE")
    p.add_argument("--platform", help="os/arch[/variant]: the digest of that child of an index")
    p.add_argument("--full-ref", "--full", action="store_true", help="print REPOSITORY@DIGEST")
    p.set_defaults(func=cmd_digest)

    p = sub.add_parser("tags", help="list the tags of a repository (as crane ls)")
    p.add_argument("repo", metavar="REPOSITORY")
    p.add_argument("--full-ref", action="store_true", help="print the full image reference")
    p.add_argument("-O", "--omit-digest-tags", action="store_true", help="omit digest tags (sha256-...)")
    p.set_defaults(func=cmd_tags)

    p = sub.add_parser("catalog", help="list the repositories of a registry (as crane catalog)")
    p.add_argument("registry", metavar="REGISTRY")
    p.add_argument("--full-ref", action="store_true", help="print REGISTRY/REPOSITORY")
    p.set_defaults(func=cmd_catalog)

    p = sub.add_parser("delete", help="delete manifests from their registries (as crane delete)")
    p.add_argument("names", nargs="+", metavar="IMAGE")
    p.set_defaults(func=cmd_delete)
