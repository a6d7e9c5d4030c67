"""Registry operations without a local store: login/logout, ``manifest inspect``, digest, tags, catalog, delete.

What each one prints is Docker's or crane's, through Go's ``encoding/json`` as :mod:`dockyard.compat.gojson`
has it. The CLI (:mod:`dockyard.cli.remote`) parses and prints only.

* ``login``: ``GET /v2/`` with the credentials, then Docker's ``config.json`` entry (through its
  credential helper when one is configured), as ``docker login`` does client-side.
* ``manifest inspect``: docker/cli ``cli/command/manifest/inspect.go``: a manifest is the
  registry's bytes re-indented with tabs (``json.Indent``); an index is rebuilt from its children
  (distribution 2.8's ``manifestlist.FromDescriptors``: an OCI index when the first child is an OCI
  manifest, a Docker manifest list otherwise; ``json.MarshalIndent`` with three spaces); ``-v`` prints
  ``types.ImageManifest`` objects, each under ``OCIManifest`` or ``SchemaV2Manifest`` by its own type.
* ``digest`` / ``tags`` / ``catalog`` / ``delete``: crane's ``digest``, ``ls``, ``catalog``, ``delete``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from dockyard.compat.gojson import compact as go_compact
from dockyard.compat.gojson import indent as go_indent
from dockyard.compat.gojson import marshal_ordered as go_marshal
from dockyard.errors import DockyardError, InvalidManifest, InvalidReference, RegistryAuthError
from dockyard.oci import mediatype
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.index import Index, parse_any
from dockyard.oci.manifest import Manifest
from dockyard.oci.platform import Platform
from dockyard.oci.reference import Reference

if TYPE_CHECKING:
    from dockyard.transport.registry.client import RegistryClient
    from dockyard.transport.registry.credentials import DockerConfig

DEFAULT_SERVER: Final = "docker.io"
"""The registry ``login``/``logout`` use when given none (Docker Hub)."""


class LoginFailed(RegistryAuthError):
    """The registry refused the credentials given to ``login``."""

    def __init__(self, host: str, url: str, detail: str) -> None:
        super().__init__(host, status=401, what="login")
        self.args = (f"login attempt to {url} failed: {detail}",)

    def __str__(self) -> str:
        return str(self.args[0])


def go_platform(platform: Platform | None, *, features: bool = False) -> dict[str, Any]:
    """An ``ocispec.Platform`` (or distribution's ``PlatformSpec`` with ``features``) in Go's field order,
    which is :meth:`Platform.to_json`'s; a missing platform is the zero value, as Go prints it."""
    if platform is None:
        return {"architecture": "", "os": ""}
    out = platform.to_json()
    if not features:
        out.pop("features", None)
    return out


def go_descriptor(desc: Descriptor) -> dict[str, Any]:
    """An ``ocispec.Descriptor`` in Go's field order (mediaType, digest, size, urls, annotations, platform,
    artifactType), annotations sorted as Go sorts map keys."""
    out: dict[str, Any] = {"mediaType": desc.media_type, "digest": str(desc.digest), "size": desc.size}
    if desc.urls:
        out["urls"] = list(desc.urls)
    if desc.annotations:
        out["annotations"] = dict(sorted(desc.annotations.items()))
    if desc.platform is not None:
        out["platform"] = go_platform(desc.platform)
    if desc.artifact_type:
        out["artifactType"] = desc.artifact_type
    return out


# --- login / logout --------------------------------------------------------------------------------------------


def server_host(server: str | None) -> str:
    """The registry host a ``login``/``logout`` argument names: ``https://index.docker.io/v1/`` and
    ``docker.io`` are Docker Hub; ``http://reg:5000/v2/`` is ``reg:5000``."""
    from dockyard.transport.registry.hosts import canonical_host, host_of_config_key

    if not server:
        return DEFAULT_SERVER
    host = host_of_config_key(server)
    if not host:
        raise InvalidReference(f"invalid registry server {server!r}")
    return canonical_host(host)


def display_server(server: str | None) -> str:
    """How Docker names the server in ``logout``'s messages: the Hub's config key, else the bare host."""
    from dockyard.transport.registry.hosts import DOCKER_HUB_CONFIG_KEY

    host = server_host(server)
    return DOCKER_HUB_CONFIG_KEY if host == DEFAULT_SERVER else host


@dataclass(frozen=True, slots=True)
class LoginResult:
    host: str
    config_path: Path
    helper: str | None
    """The credential helper that stored the secret (``None``: stored in config.json, unencrypted)."""


def verify_login(
    host: str,
    username: str,
    password: str,
    *,
    insecure: Iterable[str] = (),
) -> None:
    """``GET /v2/`` with the credentials; :class:`LoginFailed` if the registry refuses them."""
    from dockyard.transport import remote
    from dockyard.transport.registry.client import RegistryClient
    from dockyard.transport.registry.credentials import Credentials

    is_insecure = host in remote.insecure_registries(insecure)
    creds = Credentials(username, password)
    with RegistryClient(host, credentials=creds, insecure=is_insecure) as client:
        try:
            client.ping()
        except RegistryAuthError as exc:
            url = f"{client.endpoint.base_url}/v2/"
            said = "; ".join(f"{code.lower()}: {message}" if message else code.lower() for code, message in exc.errors)
            raise LoginFailed(host, url, said or "unauthorized: incorrect username or password") from None


def login(
    server: str | None,
    username: str,
    password: str,
    *,
    insecure: Iterable[str] = (),
    config: DockerConfig | None = None,
) -> LoginResult:
    """Check the credentials against the registry, then save them as ``docker login`` does."""
    from dockyard.transport.registry.credentials import DockerConfig

    if not username:
        raise DockyardError("Username is required")
    if not password:
        raise DockyardError("Password is required")
    host = server_host(server)
    verify_login(host, username, password, insecure=insecure)
    cfg = config if config is not None else DockerConfig()
    helper = cfg.helper_for(host)
    cfg.store(host, username, password)
    return LoginResult(host, cfg.path, helper)


def logout(server: str | None, *, config: DockerConfig | None = None) -> bool:
    """Forget the server's credentials; False when there were none."""
    from dockyard.transport.registry.credentials import DockerConfig

    cfg = config if config is not None else DockerConfig()
    return cfg.erase(server_host(server))


# --- manifest inspect ------------------------------------------------------------------------------------------


def _docker_ref(ref: Reference) -> Reference:
    """docker/cli's ``normalizeReference``: ``latest`` added unless there is a digest."""
    return ref if ref.digest is not None else ref.with_default_tag()


def _config_platform(client: RegistryClient, repo: str, manifest: Manifest) -> dict[str, Any]:
    """The config JSON read into an ``ocispec.Platform`` (what docker/cli's fetcher does for ``-v``)."""
    from dockyard.transport.remote import config_object

    obj = config_object(client, repo, manifest)
    out: dict[str, Any] = {"architecture": str(obj.get("architecture") or ""), "os": str(obj.get("os") or "")}
    for key in ("os.version", "os.features", "variant"):
        if obj.get(key):
            out[key] = obj[key]
    return out


def _image_manifest_json(ref_text: str, manifest: Manifest, platform: dict[str, Any]) -> bytes:
    """One docker/cli ``types.ImageManifest`` as ``json.Marshal`` writes it (compact, HTML-escaped)."""
    descriptor = {
        "mediaType": manifest.media_type,
        "digest": str(manifest.digest),
        "size": manifest.size,
        "platform": platform,
    }
    key = "SchemaV2Manifest" if manifest.media_type == mediatype.DOCKER_MANIFEST else "OCIManifest"
    head = go_marshal({"Ref": ref_text, "Descriptor": descriptor, "Raw": base64.b64encode(manifest.raw).decode()})
    return head[:-1].encode() + b',"' + key.encode() + b'":' + go_compact(manifest.raw) + b"}"


def list_media_type(children: Iterable[Manifest]) -> str:
    """The media type distribution's ``manifestlist.FromDescriptors`` gives a list rebuilt from ``children``:
    the OCI index type when the first child is an OCI manifest, the Docker manifest list type otherwise."""
    first = next(iter(children), None)
    if first is not None and first.media_type == mediatype.OCI_MANIFEST:
        return mediatype.OCI_INDEX
    return mediatype.DOCKER_MANIFEST_LIST


def _child(client: RegistryClient, repo: str, desc: Descriptor) -> Manifest:
    got = client.get_manifest(repo, desc.digest)
    parsed = parse_any(got.data, got.media_type)
    if not isinstance(parsed, Manifest):
        raise InvalidManifest(f"{repo}@{desc.digest}: unsupported manifest format: a nested index")
    return parsed


def manifest_inspect(client: RegistryClient, ref: Reference, *, verbose: bool = False) -> bytes:
    """What ``docker manifest inspect [-v] REF`` prints (with its final newline)."""
    from dockyard.transport import remote

    ref = _docker_ref(ref)
    target = remote.resolve(client, ref)
    parsed = target.parsed
    if isinstance(parsed, Manifest):
        if not verbose:
            return go_indent(target.raw, b"\t") + b"\n"
        one = _image_manifest_json(str(ref), parsed, _config_platform(client, ref.path, parsed))
        return go_indent(one, b"\t") + b"\n"
    children = [(desc, _child(client, ref.path, desc)) for desc in parsed.manifests]
    if not verbose:
        entries = [
            {
                "mediaType": child.media_type,
                "size": child.size,
                "digest": str(child.digest),
                "platform": go_platform(desc.platform, features=False),
            }
            for desc, child in children
        ]
        kind = list_media_type(child for _, child in children)
        listing = {"schemaVersion": 2, "mediaType": kind, "manifests": entries}
        return (go_marshal(listing, "   ") + "\n").encode()
    items = []
    for desc, child in children:
        _config_platform(client, ref.path, child)  # docker/cli fetches (and verifies) each config too
        items.append(_image_manifest_json(str(ref.with_digest(desc.digest)), child, go_platform(desc.platform)))
    return go_indent(b"[" + b",".join(items) + b"]", b"\t") + b"\n"


# --- crane: digest, ls, catalog, delete ------------------------------------------------------------------------


def digest_of(client: RegistryClient, ref: Reference, platform: Platform | None = None) -> Digest:
    """crane ``digest``: the digest of what ``ref`` names (HEAD); with ``platform``, an index's child for it."""
    from dockyard.transport import remote

    ref = ref.with_default_tag()
    if platform is None:
        ident = ref.digest if ref.digest is not None else ref.tag
        assert ident is not None
        desc = client.head_manifest(ref.path, ident)
        if desc is None:
            raise _not_found(client, ref)
        return desc.digest
    target = remote.resolve(client, ref)
    if isinstance(target.parsed, Index):
        try:
            return target.parsed.select(platform).digest
        except InvalidManifest as exc:
            raise InvalidManifest(f"{ref.familiar()}: {exc}") from None
    return target.digest


def _not_found(client: RegistryClient, ref: Reference) -> DockyardError:
    from dockyard.oci import errcodes

    return errcodes.MANIFEST_UNKNOWN.exception(client.host, what=str(ref))


def list_tags(client: RegistryClient, repo: str) -> list[str]:
    """crane ``ls``: the repository's tags in the registry's order."""
    return client.tags(repo)


def catalog(client: RegistryClient) -> list[str]:
    """crane ``catalog``: every repository of the registry."""
    return client.catalog()


def repository_of(text: str) -> Reference:
    """A repository name (``host/path``) without tag or digest, as crane ``ls`` takes it."""
    ref = Reference.parse(text)
    if ref.tag is not None or ref.digest is not None:
        raise InvalidReference(f"{text!r} is an image reference, not a repository")
    return ref


def registry_of(text: str) -> str:
    """A registry name (``host[:port]``), as crane ``catalog`` takes it."""
    from dockyard.transport.registry.hosts import canonical_host

    name = text.strip().rstrip("/")
    for scheme in ("http://", "https://"):
        if name.lower().startswith(scheme):
            name = name[len(scheme) :]
    if not name or "/" in name:
        raise InvalidReference(f"invalid registry {text!r}: want host[:port]")
    return canonical_host(name)


def delete(client: RegistryClient, ref: Reference) -> Reference:
    """crane ``delete``: delete the manifest ``ref`` names (a tag is resolved to its digest first, since
    registries refuse deletion by tag); the ``repo@digest`` deleted."""
    digest = ref.digest if ref.digest is not None else digest_of(client, ref)
    client.delete_manifest(ref.path, digest)
    return ref.untagged().with_digest(digest)


__all__ = [
    "DEFAULT_SERVER",
    "LoginFailed",
    "LoginResult",
    "catalog",
    "delete",
    "digest_of",
    "display_server",
    "go_descriptor",
    "go_platform",
    "list_media_type",
    "list_tags",
    "login",
    "logout",
    "manifest_inspect",
    "registry_of",
    "repository_of",
    "server_host",
    "verify_login",
]
