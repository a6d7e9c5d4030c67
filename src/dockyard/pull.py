"""``pull``: an image from a registry into the local store, verified, with Docker's progress events.

Every layer is checked twice while it streams in (the compressed bytes against the manifest's digest and size,
the uncompressed tar against the config's diff_id); a mismatch anywhere aborts the pull and the store keeps
nothing of it. The reference's digest is recorded as a repository digest (``RepoDigests``): for a multi-arch
tag that is the index digest, while the image ID stays the config digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from dockyard.errors import InvalidReference
from dockyard.events import EventSink, PullEvent, locked_emitter, short_id
from dockyard.image.base import Layer, StaticImage
from dockyard.layers.limits import Limits
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.platform import Platform
from dockyard.oci.reference import Reference
from dockyard.store.ingest import LayerProgress
from dockyard.store.store import Store
from dockyard.transport import remote

if TYPE_CHECKING:
    from dockyard.transport.registry.client import RegistryClient

#: How often (bytes) a layer's download reports progress.
_PROGRESS_STEP = 256 << 10


@dataclass(frozen=True, slots=True)
class PullResult:
    ref: Reference  # what was pulled: name:tag or name@digest
    digest: Digest  # the digest the reference resolved to (the index's for a multi-arch tag)
    image_id: Digest
    updated: bool  # False: the store already had exactly this ("Image is up to date")


class _CountingReader:
    """Wraps a layer stream: reports ``Downloading`` progress, then ``Verifying Checksum`` at its end."""

    def __init__(self, raw: BinaryIO, desc: Descriptor, emit: EventSink) -> None:
        self._raw = raw
        self._desc = desc
        self._emit = emit
        self._id = short_id(desc.digest)
        self._done = 0
        self._next = 0
        self._ended = False

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._done += len(data)
        if data and self._done >= self._next:
            self._next = self._done + _PROGRESS_STEP
            self._emit(PullEvent(self._id, "Downloading", self._done, self._desc.size))
        if not data and not self._ended:
            self._ended = True
            self._emit(PullEvent(self._id, "Verifying Checksum", self._done, self._desc.size))
        return data

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> _CountingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class _ProgressLayer:
    layer: Layer
    emit: EventSink

    def descriptor(self) -> Descriptor:
        return self.layer.descriptor()

    def diff_id(self) -> Digest:
        return self.layer.diff_id()

    def open(self) -> BinaryIO:
        return _CountingReader(self.layer.open(), self.layer.descriptor(), self.emit)  # type: ignore[return-value]


def pull(
    store: Store,
    ref: Reference,
    *,
    platform: Platform | None = None,
    client: RegistryClient | None = None,
    max_concurrent: int = 3,
    on_event: EventSink | None = None,
    limits: Limits | None = None,
    insecure: tuple[str, ...] = (),
) -> PullResult:
    """``docker pull REF``: resolve, choose the platform, copy what the store lacks, record names."""
    emit = locked_emitter(on_event)
    if ref.digest is not None and ref.tag is not None:
        ref = Reference(ref.domain, ref.path, None, ref.digest)  # Docker pulls by the digest, ignoring the tag
    ref = ref.with_default_tag()
    own_client = client is None
    client = client or remote.client_for(ref.domain, insecure=insecure)
    try:
        target = remote.resolve(client, ref)
        image = remote.image_for(client, target, platform)
        return store_pulled(
            store,
            ref,
            target,
            image,
            name=ref if ref.tag is not None else None,
            emit=emit,
            max_concurrent=max_concurrent,
            limits=limits,
        )
    finally:
        if own_client:
            client.close()


def store_pulled(
    store: Store,
    ref: Reference,
    target: remote.Target,
    image: remote.RemoteImage,
    *,
    name: Reference | None,
    emit: EventSink,
    max_concurrent: int = 3,
    limits: Limits | None = None,
) -> PullResult:
    """Copy ``image`` (what ``ref`` resolved to as ``target``) into the store under the tag ``name``, with
    ``ref``'s repository and the resolved digest as a repository digest and the index bytes kept."""
    config = image.config()
    image_id = config.digest
    repo_digest = ref.untagged().with_digest(target.digest)
    up_to_date = (
        store.meta.image(str(image_id)) is not None
        and store.meta.digest_target(repo_digest.repository, str(target.digest)) == str(image_id)
        and (name is None or store.meta.tag_target(name.repository, name.tag or "latest") == str(image_id))
    )
    for layer, diff_id in zip(image.layers(), config.diff_ids, strict=True):
        known = store.meta.layer(str(diff_id))
        present = known is not None and store.blobs.exists(Digest.parse(known.blob_digest))
        emit(PullEvent(short_id(layer.descriptor().digest), "Already exists" if present else "Pulling fs layer"))

    def on_layer(event: LayerProgress) -> None:
        if event.status == "Loaded":
            emit(PullEvent(short_id(event.digest), "Download complete"))
            emit(PullEvent(short_id(event.digest), "Pull complete"))

    watched = StaticImage(image.manifest(), config, tuple(_ProgressLayer(layer, emit) for layer in image.layers()))
    result = store.ingest(
        watched,
        [name] if name is not None else [],
        repo_digests=[repo_digest],
        index=target.index,
        limits=limits,
        on_layer=on_layer,
        max_concurrent=max_concurrent,
    )
    return PullResult(ref, target.digest, result.image_id, not up_to_date)


def tags_to_pull(client: RegistryClient, ref: Reference) -> list[Reference]:
    """``pull --all-tags``: every tag of the repository, in the registry's order (sorted when it has none)."""
    if ref.tag is not None or ref.digest is not None:
        raise InvalidReference("tag can't be used with --all-tags/-a")
    return [ref.with_tag(t) for t in sorted(client.tags(ref.path))]


__all__ = ["PullEvent", "PullResult", "pull", "short_id", "store_pulled", "tags_to_pull"]
