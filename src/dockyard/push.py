"""``push``: an image of the local store into a registry, the way ``docker push`` does it.

The tag's own manifest or index is pushed byte for byte (schema 2 stays schema 2, OCI stays OCI, an index whose
platforms are all in the store is pushed as the index), so the digest is the one it was pulled, loaded or created
with. An index with platforms missing is refused naming them; ``platform`` pushes that one platform. Only when a
layer is kept in another compression than the manifest names is the manifest rewritten, and :attr:`PushResult.notes`
says so. Each blob is skipped when the repository has it, mounted from another repository of the same registry
when the store knows one that holds it, else uploaded. The pushed digest is recorded as a repository digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dockyard.copy import push_events, transfer
from dockyard.errors import ImageNotFound, InvalidReference
from dockyard.events import EventSink, locked_emitter
from dockyard.oci.digest import Digest
from dockyard.oci.platform import Platform
from dockyard.oci.reference import Reference
from dockyard.store.source import StoreSource
from dockyard.store.store import Store
from dockyard.transport import remote

if TYPE_CHECKING:
    from dockyard.transport.registry.client import RegistryClient


@dataclass(frozen=True, slots=True)
class PushResult:
    ref: Reference
    digest: Digest  # the manifest (or index) digest now in the registry
    size: int  # its length
    notes: tuple[str, ...] = ()  # one line each: what had to change on the way


def push(
    store: Store,
    ref: Reference,
    *,
    platform: Platform | None = None,
    compression: str | None = "gzip",
    client: RegistryClient | None = None,
    on_event: EventSink | None = None,
    max_concurrent: int = 5,
    insecure: tuple[str, ...] = (),
) -> PushResult:
    """``docker push NAME[:TAG]`` for one tag (``latest`` when none is given). Layers the store keeps as plain
    tars (a loaded docker-archive) go up ``compression``-compressed (``gzip``, ``zstd``; None: as kept)."""
    if ref.digest is not None:
        raise InvalidReference(f"cannot push a digest reference: {ref.familiar()}")
    ref = ref.with_default_tag()
    if store.tag_state(ref) is None:
        raise ImageNotFound(f"An image does not exist locally with the tag: {ref.familiar_name()}")
    source = StoreSource(store, ref.familiar(), compression=compression)
    missing = source.missing_platforms()
    if missing and platform is None:
        raise ImageNotFound(
            f"{ref.familiar()} is a multi-platform image and the store lacks {len(missing)} of its platforms "
            f"({', '.join(missing)}): pull them, or push one platform with --platform"
        )
    own_client = client is None
    client = client or remote.client_for(ref.domain, insecure=insecure)
    try:
        dest = remote.RegistryDestination(client, ref.path, mount_sources=store.mount_sources(ref.domain))
        done = transfer(
            source,
            dest,
            where=ref.familiar(),
            platform=platform,
            all_platforms=platform is None,
            reference=ref.tag or "latest",
            max_concurrent=max_concurrent,
            on_event=push_events(locked_emitter(on_event)),
        )
    finally:
        if own_client:
            client.close()
    if source.notes and platform is None and not store.is_index(source.digest):
        store.keep_manifest(source.top(), source.image_id)  # the bytes pushed, so repo@digest names them here too
    store.add_repo_digest(ref.untagged().with_digest(done.digest), source.image_id)
    return PushResult(ref, done.digest, done.size, tuple(source.notes))


def tags_to_push(store: Store, ref: Reference) -> list[Reference]:
    """``push --all-tags``: every tag of the repository in the store, sorted."""
    if ref.tag is not None or ref.digest is not None:
        raise InvalidReference("tag can't be used with --all-tags/-a")
    tags = sorted(tag for repo, tag, _ in store.tags() if repo == ref.repository)
    if not tags:
        raise ImageNotFound(f"An image does not exist locally with the tag: {ref.familiar_name()}")
    return [ref.with_tag(t) for t in tags]


__all__ = ["PushResult", "push", "tags_to_push"]
