"""``pull``: an image from a registry into the local store, verified, with Docker's progress events.

The copy engine moves it: every layer is checked while it streams in (the compressed bytes against the
manifest's digest and size, the uncompressed tar against the config's diff_id); a mismatch anywhere aborts the
pull and the store keeps nothing of it. The manifest (and the index, for a multi-platform tag) is kept byte for
byte; the reference's digest is recorded as a repository digest (``RepoDigests``): for a multi-arch tag that is
the index digest, while the image ID stays the config digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dockyard.copy import pull_events, transfer
from dockyard.errors import InvalidReference
from dockyard.events import EventSink, PullEvent, locked_emitter, short_id
from dockyard.image.transfer import BlobEvent
from dockyard.layers.limits import Limits
from dockyard.oci.digest import Digest
from dockyard.oci.platform import Platform
from dockyard.oci.reference import Reference
from dockyard.store.ingest import StoreDestination
from dockyard.store.store import Store
from dockyard.transport import remote

if TYPE_CHECKING:
    from dockyard.transport.registry.client import RegistryClient


@dataclass(frozen=True, slots=True)
class PullResult:
    ref: Reference  # what was pulled: name:tag or name@digest
    digest: Digest  # the digest the reference resolved to (the index's for a multi-arch tag)
    image_id: Digest
    updated: bool  # False: the store already had exactly this ("Image is up to date")


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
        source = remote.RegistrySource(client, ref, verify=False)  # the store verifies in its one pass
        top = source.top()
        name = ref if ref.tag is not None else None
        before = store.tag_state(name) if name is not None else None
        copied: list[Digest] = []
        events = pull_events(emit)

        def on_blob(event: BlobEvent) -> None:
            if event.status == "copied" and event.diff_id is not None:
                copied.append(event.digest)
            events(event)

        digest_ref = ref.untagged().with_digest(top.digest)
        known = store.has_repo_digest(digest_ref)
        with StoreDestination(store, [name] if name else [], repo_digests=[digest_ref], limits=limits) as dest:
            done = transfer(
                source,
                dest,
                where=ref.familiar(),
                platform=platform,
                max_concurrent=max_concurrent,
                on_event=on_blob,
            )
            result = dest.commit()
        after = store.tag_state(name) if name is not None else None
        updated = bool(copied) or before != after or not known
        return PullResult(ref, done.index_digest or top.digest, result.image_id, updated)
    finally:
        if own_client:
            client.close()


def tags_to_pull(client: RegistryClient, ref: Reference) -> list[Reference]:
    """``pull --all-tags``: every tag of the repository, in the registry's order (sorted when it has none)."""
    if ref.tag is not None or ref.digest is not None:
        raise InvalidReference("tag can't be used with --all-tags/-a")
    return [ref.with_tag(t) for t in sorted(client.tags(ref.path))]


__all__ = ["PullEvent", "PullResult", "pull", "short_id", "tags_to_pull"]
