"""Images in a registry through the :class:`~dockyard.image.base.Image` protocol.

:func:`resolve` asks the registry what a reference names (an image manifest, or an index / manifest list) and
keeps the raw bytes; :func:`image_for` picks the platform's manifest, fetches and verifies the config, and gives
layers whose bytes stream from the registry only when a sink opens them. Nothing here writes anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from dockyard.errors import InvalidManifest, InvalidReference, SizeMismatch
from dockyard.image.base import BlobLayer, Layer, Opener
from dockyard.oci import mediatype
from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.index import Index, parse_any
from dockyard.oci.manifest import Manifest
from dockyard.oci.platform import Platform
from dockyard.oci.reference import Reference

if TYPE_CHECKING:
    from dockyard.transport.registry.client import RegistryClient
    from dockyard.transport.registry.credentials import CredentialSource

#: Schema 1 manifests (signed or not): retired by Docker, refused with a clear error.
_SCHEMA1 = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    }
)
_MAX_INDEX_DEPTH = 4


def insecure_registries(extra: Iterable[str] = ()) -> frozenset[str]:
    """Registries reached over plain HTTP besides loopback ones: ``--insecure-registry`` and
    ``DOCKYARD_INSECURE_REGISTRIES`` (comma-separated), as Docker's ``insecure-registries``."""
    names = [n.strip() for n in os.environ.get("DOCKYARD_INSECURE_REGISTRIES", "").split(",")]
    return frozenset(n for n in [*names, *extra] if n)


def client_for(
    domain: str,
    *,
    insecure: Iterable[str] = (),
    credentials: CredentialSource | None = None,
) -> RegistryClient:
    """A client for the registry of ``domain`` with the user's Docker credentials (``config.json``)."""
    from dockyard.transport.registry.client import RegistryClient
    from dockyard.transport.registry.credentials import DockerConfig

    if not domain:
        raise InvalidReference("the reference names no registry")
    return RegistryClient(
        domain,
        credentials=credentials if credentials is not None else DockerConfig(),
        insecure=domain in insecure_registries(insecure),
    )


@dataclass(frozen=True, slots=True)
class Target:
    """What a reference names in a registry: the bytes the registry sent, parsed."""

    ref: Reference
    raw: bytes = field(repr=False)
    media_type: str
    digest: Digest
    parsed: Index | Manifest

    @property
    def index(self) -> Index | None:
        return self.parsed if isinstance(self.parsed, Index) else None

    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.raw))


def resolve(client: RegistryClient, ref: Reference) -> Target:
    """Fetch what ``ref`` (tag or digest; ``latest`` when neither) names; refuses schema 1 manifests."""
    ident = ref.with_default_tag().identifier
    assert ident is not None
    got = client.get_manifest(ref.path, ref.digest if ref.digest is not None else ident)
    return parse_target(ref, got.data, got.media_type, got.digest)


def parse_target(ref: Reference, data: bytes, media_type: str, digest: Digest) -> Target:
    """What ``data`` (a manifest or index the registry sent for ``ref``) is; schema 1 refused."""
    if media_type in _SCHEMA1:
        raise InvalidManifest(
            f"{ref.familiar()} is a Docker image manifest schema 1, which is deprecated and not supported: "
            "push it again with a current client"
        )
    try:
        parsed = parse_any(data, media_type or None)
    except InvalidManifest as exc:
        raise InvalidManifest(f"{ref.familiar()}: {exc}") from None
    kind = parsed.media_type
    return Target(ref, data, kind, digest, parsed)


class RemoteImage:
    """One single-platform image in a registry; layers are read when opened."""

    def __init__(self, client: RegistryClient, repo: str, manifest: Manifest, config: ImageConfig) -> None:
        self.client = client
        self.repo = repo
        self._manifest = manifest
        self._config = config
        self._layers = tuple(
            BlobLayer(desc, diff_id, self._opener(desc))
            for desc, diff_id in zip(manifest.layers, config.diff_ids, strict=True)
        )

    def _opener(self, desc: Descriptor) -> Opener:
        def open_blob() -> BinaryIO:
            # the store verifies the digest and size while it copies: no second hash here
            return cast(BinaryIO, self.client.open_blob(self.repo, desc.digest, verify=False, size=desc.size))

        return open_blob

    def manifest(self) -> Manifest:
        return self._manifest

    def config(self) -> ImageConfig:
        return self._config

    def layers(self) -> Sequence[Layer]:
        return self._layers


def manifest_for(client: RegistryClient, target: Target, platform: Platform) -> Manifest:
    """The image manifest ``target`` means for ``platform`` (itself, or the index's child for it)."""
    parsed: Index | Manifest = target.parsed
    depth = 0
    while isinstance(parsed, Index):
        depth += 1
        if depth > _MAX_INDEX_DEPTH:
            raise InvalidManifest(f"{target.ref.familiar()}: indexes nested too deeply")
        try:
            desc = parsed.select(platform)
        except InvalidManifest as exc:
            raise InvalidManifest(f"{target.ref.familiar()}: {exc}") from None
        got = client.get_manifest(target.ref.path, desc.digest)
        if len(got.data) != desc.size:
            raise SizeMismatch(desc.size, len(got.data), f"manifest {desc.digest}")
        parsed = parse_any(got.data, desc.media_type)
    return parsed


def config_object(client: RegistryClient, repo: str, manifest: Manifest) -> dict[str, Any]:
    """The config blob a manifest names, read (verified) and parsed as a JSON object, whatever its media type."""
    import json

    raw = client.read_blob(repo, manifest.config.digest, manifest.config.size)
    try:
        obj = json.loads(raw)
    except ValueError:
        raise InvalidManifest(f"config {manifest.config.digest} is not JSON") from None
    if not isinstance(obj, dict):
        raise InvalidManifest(f"config {manifest.config.digest} is not a JSON object")
    return obj


def copy_blob(src: RegistryClient, src_repo: str, blob: Descriptor, dst: RegistryClient, dst_repo: str) -> None:
    """One blob into ``dst_repo``: nothing if it is there, a cross-repository mount within a registry, else a
    stream from the source registry straight into the upload (cut off past the descriptor's size)."""
    if dst.blob_exists(dst_repo, blob.digest) is not None:
        return
    if src.host == dst.host and dst.mount_blob(dst_repo, blob.digest, src_repo):
        return
    with src.open_blob(src_repo, blob.digest, size=blob.size) as stream:
        dst.upload_blob(dst_repo, blob.digest, cast(BinaryIO, stream), blob.size)


def image_for(client: RegistryClient, target: Target, platform: Platform | None = None) -> RemoteImage:
    """The image ``target`` names for ``platform`` (the host's by default), with its config fetched and verified."""
    manifest = manifest_for(client, target, platform or Platform.host())
    if manifest.config.media_type not in mediatype.CONFIG_TYPES:
        raise InvalidManifest(
            f"{target.ref.familiar()} is not a container image (config type {manifest.config.media_type})"
        )
    raw = client.read_blob(target.ref.path, manifest.config.digest, manifest.config.size)
    if len(raw) != manifest.config.size:
        raise SizeMismatch(manifest.config.size, len(raw), f"config {manifest.config.digest}")
    config = ImageConfig.parse(raw)
    if platform is not None and target.index is None:
        # asked for a platform, got a single-platform image: it must be that platform (never a silent fallback)
        actual = config.platform
        if not any(candidate.matches(actual) for candidate in platform.fallbacks()):
            raise InvalidManifest(
                f"image with reference {target.ref.familiar()} was found but does not match the specified "
                f"platform: wanted {platform}, actual: {actual}"
            )
    if len(config.diff_ids) != len(manifest.layers):
        raise InvalidManifest(
            f"{target.ref.familiar()}: the manifest lists {len(manifest.layers)} layers "
            f"but the config {len(config.diff_ids)} diff_ids"
        )
    return RemoteImage(client, target.ref.path, manifest, config)


__all__ = [
    "RemoteImage",
    "Target",
    "client_for",
    "config_object",
    "copy_blob",
    "image_for",
    "insecure_registries",
    "manifest_for",
    "parse_target",
    "resolve",
]
