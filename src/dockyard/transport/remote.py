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

from dockyard.errors import InvalidManifest, InvalidReference
from dockyard.image.transfer import RawManifest
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.index import Index
from dockyard.oci.manifest import Manifest
from dockyard.oci.reference import Reference

if TYPE_CHECKING:
    from dockyard.transport.registry.client import RegistryClient
    from dockyard.transport.registry.credentials import CredentialSource


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
    from dockyard.image.transfer import RawManifest
    from dockyard.transport.base import parse_raw

    parsed = parse_raw(RawManifest(data, media_type), ref.familiar())
    kind = parsed.media_type
    return Target(ref, data, kind, digest, parsed)


class RegistrySource:
    """A repository of a registry as a :class:`~dockyard.transport.base.Source`: ``ref`` names the top (a tag or a
    digest; ``latest`` when neither). Blobs are verified as they stream unless the reader does it itself
    (``verify=False``: the store checks digest, size and diff_id in its one pass)."""

    def __init__(self, client: RegistryClient, ref: Reference, *, verify: bool = True) -> None:
        self.client = client
        self.ref = ref
        self.verify = verify
        self._top: RawManifest | None = None

    def top(self) -> RawManifest:
        if self._top is None:
            ident = self.ref.with_default_tag().identifier
            assert ident is not None
            got = self.client.get_manifest(self.ref.path, self.ref.digest if self.ref.digest is not None else ident)
            self._top = RawManifest(got.data, got.media_type)
            self.top_digest = got.digest
        return self._top

    def child(self, desc: Descriptor) -> RawManifest:
        got = self.client.get_manifest(self.ref.path, desc.digest)
        return RawManifest(got.data, got.media_type or desc.media_type)

    def open_blob(self, desc: Descriptor) -> BinaryIO:
        return cast(BinaryIO, self.client.open_blob(self.ref.path, desc.digest, verify=self.verify, size=desc.size))

    def close(self) -> None:
        return None


#: Blobs larger than this go up in PATCH chunks of :data:`CHUNK_SIZE`; smaller ones stream in one PUT (as Docker
#: and skopeo send a layer in one request). Measured: one streamed request beats 32 MiB chunks by 11 % on a
#: 178 MB layer (each chunk waits for the registry's answer), so chunks are kept for very large blobs only.
CHUNKED_ABOVE = 1 << 30
CHUNK_SIZE = 64 << 20


class RegistryDestination:
    """A repository of a registry as a :class:`~dockyard.transport.base.Destination`: a blob the repository has is
    skipped, one another repository of the registry holds is mounted, the rest uploaded; manifests go up by
    digest, the top one under ``reference`` (a tag, or its digest)."""

    def __init__(self, client: RegistryClient, repo: str, *, mount_sources: dict[str, list[str]] | None = None) -> None:
        self.client = client
        self.repo = repo
        self._sources: dict[str, list[str]] = {k: list(v) for k, v in (mount_sources or {}).items()}
        self._everywhere: list[str] = []

    def add_mount_source(self, repository: str, digests: Sequence[Digest]) -> None:
        for digest in digests:
            known = self._sources.setdefault(str(digest), [])
            if repository not in known:
                known.append(repository)

    def mount_from_anywhere(self, repository: str) -> None:
        """Try a mount from ``repository`` for every blob (the registry answers whether it holds it)."""
        self._everywhere.append(repository)

    def reuse_blob(self, desc: Descriptor, diff_id: Digest | None) -> str | None:
        if self.client.blob_exists(self.repo, desc.digest) is not None:
            return "Layer already exists"
        for source in [*self._sources.get(str(desc.digest), []), *self._everywhere]:
            if source != self.repo and self.client.mount_blob(self.repo, desc.digest, source):
                return f"Mounted from {source}"
        return None

    def put_blob(self, desc: Descriptor, stream: BinaryIO, diff_id: Digest | None) -> None:
        chunk = CHUNK_SIZE if desc.size > CHUNKED_ABOVE else None
        self.client.upload_blob(self.repo, desc.digest, stream, desc.size, chunk)

    def put_manifest(self, raw: RawManifest, *, reference: str | None = None) -> Digest:
        where: str | Digest = reference if reference is not None else raw.digest
        return self.client.put_manifest(self.repo, where, raw.data, raw.media_type)

    def commit(self) -> None:
        return None

    def close(self) -> None:
        return None


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


__all__ = [
    "CHUNKED_ABOVE",
    "CHUNK_SIZE",
    "RegistryDestination",
    "RegistrySource",
    "Target",
    "client_for",
    "config_object",
    "insecure_registries",
    "parse_target",
    "resolve",
]
