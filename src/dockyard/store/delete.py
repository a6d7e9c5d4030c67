"""Docker's rules for ``rmi`` and ``image prune``: untag, refuse, delete, and free only unshared blobs.

``rmi NAME``: removes that reference; the image goes with its last reference, unless a container uses it, in which
case it stays as a dangling image. Removing a tag also removes digest references of the same repository when no
other tag of that repository is left. Without ``-f`` a name is refused when a container uses its image and it is
the image's only reference.
``rmi ID``: refused without ``-f`` when the image has references in more than one repository or several tags, or
when a container uses it; with ``-f`` every reference is removed, and an image in use stays, dangling.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dockyard.errors import Conflict
from dockyard.oci import reference as refs
from dockyard.oci.config import chain_ids
from dockyard.oci.digest import Digest
from dockyard.store.gc import collect_garbage
from dockyard.store.lock import file_lock

if TYPE_CHECKING:
    from dockyard.store.core import StoreCore

_HEX64 = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class DeleteRecord:
    """One line of ``rmi`` output: ``Untagged: ...`` or ``Deleted: ...``."""

    kind: str  # "Untagged" | "Deleted"
    value: str


def remove(store: StoreCore, text: str, *, force: bool = False) -> list[DeleteRecord]:
    """``docker rmi`` for one argument, with Docker's rules (see docs/rmi in the README)."""
    with file_lock(store.paths.gc_lock, exclusive=True):
        with store.meta.write() as db:
            image_id = store.resolve(text)  # inside the transaction: a concurrent retag cannot slip in between
            released = _index_platforms(store, text, image_id)
            records = _remove(store, text, image_id, force)
            records.extend(_release_index_platforms(store, db, released))
        collect_garbage(store)
    return records


def _index_platforms(store: StoreCore, text: str, image_id: str) -> set[str]:
    """The images of the index that ``text`` names (none when it names a manifest)."""
    if _is_id_prefix(image_id, text):
        return set()
    digest = store.manifest_digest_of(text, image_id)
    return set(store.meta.index_images(digest))


def _remove(store: StoreCore, text: str, image_id: str, force: bool) -> list[DeleteRecord]:
    records: list[DeleteRecord] = []
    short = image_id[7:19]
    by_id = _is_id_prefix(image_id, text)
    tag_refs = [refs.parse(f"{r}:{t}") for r, t in store.meta.tags_of(image_id)]
    dig_refs = [refs.parse(f"{r}@{d}") for r, d in store.meta.repo_digests_of(image_id)]
    containers = store.meta.containers_of(image_id)
    all_refs = tag_refs + dig_refs
    if not by_id:
        ref = refs.parse(text)
        if ref.digest is None:
            ref = ref.with_default_tag()
        if not force and _is_single_reference(tag_refs, dig_refs) and containers:
            raise Conflict(
                f'conflict: unable to remove repository reference "{text}" (must force) - '
                f"container {containers[0].id[:12]} is using its referenced image {short}"
            )
        _untag(store, ref, image_id)
        records.append(DeleteRecord("Untagged", ref.familiar()))
        remaining_tags = [r for r in tag_refs if r != ref]
        remaining_digs = [r for r in dig_refs if r != ref]
        if ref.digest is None and not any(r.repository == ref.repository for r in remaining_tags):
            for d in [r for r in remaining_digs if r.repository == ref.repository]:
                _untag(store, d, image_id)
                records.append(DeleteRecord("Untagged", d.familiar()))
                remaining_digs.remove(d)
        if remaining_tags or remaining_digs:
            return records
        if containers:
            return records  # kept as a dangling image while containers use it
        if image_id in store.meta.held_by_indexes():
            return records  # still a platform of an index another name holds
    else:
        if all_refs and not _is_single_reference(tag_refs, dig_refs) and not force:
            raise Conflict(
                f"conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories"
            )
        if containers and not force:
            raise Conflict(
                f"conflict: unable to delete {short} (must be forced) - "
                f"image is being used by stopped container {containers[0].id[:12]}"
            )
        for r in tag_refs + dig_refs:
            _untag(store, r, image_id)
            records.append(DeleteRecord("Untagged", r.familiar()))
        if containers:
            if not all_refs:
                raise Conflict(
                    f"conflict: unable to delete {short} (cannot be forced) - "
                    f"image is being used by container {containers[0].id[:12]}"
                )
            return records  # forced: untagged, kept dangling until its containers go
    records.extend(_delete_image(store, image_id))
    return records


def _untag(store: StoreCore, ref: refs.Reference, image_id: str) -> None:
    """Remove one reference of ``image_id`` (never the same name if it has meanwhile moved to another image)."""
    if ref.digest is not None:
        store.meta.remove_repo_digest(ref.repository, str(ref.digest), image_id)
    else:
        store.meta.untag(ref.repository, ref.tag or "latest", image_id)


def _delete_image(store: StoreCore, image_id: str) -> list[DeleteRecord]:
    """Docker's ``Deleted:`` lines: the image ID, then the chain IDs of its layers no other image shares."""
    mine = chain_ids([Digest.parse(d) for d in store.meta.image_diff_ids(image_id)])
    store.meta.delete_image(image_id)
    others: set[Digest] = set()
    for stack in store.meta.layer_stacks().values():
        others.update(chain_ids([Digest.parse(d) for d in stack]))
    records = [DeleteRecord("Deleted", image_id)]
    records.extend(DeleteRecord("Deleted", str(c)) for c in reversed(mine) if c not in others)
    return records


def _release_index_platforms(store: StoreCore, db: sqlite3.Connection, released: set[str]) -> list[DeleteRecord]:
    """After a name went: the other platforms of the indexes it named go too when nothing names them any more
    (no tag, no repository digest, no other tagged index, no container)."""
    store.meta.forget_unheld_indexes(db)
    held = store.meta.held_by_indexes()
    records: list[DeleteRecord] = []
    for image_id in sorted(released - held):
        if not store.meta.is_named(image_id) and store.meta.image(image_id) is not None:
            records.extend(_delete_image(store, image_id))
    return records


def prune(store: StoreCore, *, all_unused: bool = False) -> tuple[list[DeleteRecord], int]:
    """``docker image prune``: dangling images (or, with ``all_unused``, every image no container uses)."""
    records: list[DeleteRecord] = []
    with file_lock(store.paths.gc_lock, exclusive=True):
        with store.meta.write() as db:
            in_use = {c.image_id for c in store.meta.containers()}
            held = set() if all_unused else store.meta.held_by_indexes()  # platforms of a tagged index
            store.meta.drop_layer_forms(db, all_forms=True)  # compressed copies made for pushes: made again if needed
            for row in store.meta.images():
                image_id = row.id
                if image_id in in_use or image_id in held:
                    continue
                tags = [refs.parse(f"{repo}:{tag}") for repo, tag in store.meta.tags_of(image_id)]
                digs = [refs.parse(f"{repo}@{dig}") for repo, dig in store.meta.repo_digests_of(image_id)]
                if tags and not all_unused:  # dangling = no tag, as Docker's prune sees it
                    continue
                for ref in tags + digs:
                    _untag(store, ref, image_id)
                    records.append(DeleteRecord("Untagged", ref.familiar()))
                records.extend(_delete_image(store, image_id))
            store.meta.forget_unused_steps(db, all_steps=all_unused)  # build steps whose layers no image uses
        reclaimed = collect_garbage(store)  # freed blobs, and a dead writer's temp files and old uploads
    return records, reclaimed


def _is_id_prefix(image_id: str, text: str) -> bool:
    value = text[7:] if text.startswith("sha256:") else text
    return bool(value) and image_id[7:].startswith(value) and set(value) <= _HEX64


def _is_single_reference(tags: list[refs.Reference], digests: list[refs.Reference]) -> bool:
    """Docker's isSingleReference: at most one tag, and every reference in one repository."""
    if len(tags) + len(digests) == 0:
        return False
    if len(tags) > 1:
        return False
    repos = {r.repository for r in tags + digests}
    return len(repos) == 1
