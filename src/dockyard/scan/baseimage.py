"""Which image in the store an image was built on: Scout's "Base image" row, offline.

The base is the image whose layer chain (its diff_ids, in order) is the longest proper prefix of the target's;
ties go to a tagged image, then the newest. When the target's manifest carries the OCI annotations
``org.opencontainers.image.base.name`` / ``.base.digest`` and the store holds that image, the annotation wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dockyard.errors import DockyardError

if TYPE_CHECKING:
    from dockyard.store.store import Store

ANNOTATION_BASE_NAME = "org.opencontainers.image.base.name"
ANNOTATION_BASE_DIGEST = "org.opencontainers.image.base.digest"


@dataclass(frozen=True, slots=True)
class BaseImage:
    image_id: str
    name: str  # a tag of it (familiar), or its short ID when it has none
    layers: int  # how many of the target's layers are the base's
    how: str  # "layers" | "annotation"


def find_base(store: Store, image_id: str) -> BaseImage | None:
    """The base image of ``image_id`` in the store, or None."""
    by_annotation = _from_annotations(store, image_id)
    if by_annotation is not None:
        return by_annotation
    stacks = store.layer_stacks()
    target = stacks.get(image_id, [])
    best: tuple[int, int, str, str] | None = None  # (layers, tagged, added, id)
    added = {s.row.id: s.row.added for s in store.summaries()}
    tagged = {image for _repo, _tag, image in store.tags()}
    for other, chain in stacks.items():
        if other == image_id or not chain or len(chain) >= len(target) or target[: len(chain)] != chain:
            continue
        key = (len(chain), int(other in tagged), added.get(other, ""), other)
        if best is None or key > best:
            best = key
    if best is None:
        return None
    return BaseImage(best[3], _name_of(store, best[3]), best[0], "layers")


def _from_annotations(store: Store, image_id: str) -> BaseImage | None:
    try:
        annotations = store.image_by_id(image_id).manifest().annotations
    except DockyardError:
        return None
    for key in (ANNOTATION_BASE_DIGEST, ANNOTATION_BASE_NAME):
        text = annotations.get(key)
        if not text:
            continue
        try:
            base = store.resolve(
                text
                if key == ANNOTATION_BASE_NAME
                else f"{annotations.get(ANNOTATION_BASE_NAME, '')}@{text}".lstrip("@")
            )
        except DockyardError:
            continue
        if base != image_id:
            layers = len(store.layer_stacks().get(base, []))
            return BaseImage(base, _name_of(store, base), layers, "annotation")
    return None


def _name_of(store: Store, image_id: str) -> str:
    tags = sorted(f"{repo}:{tag}" for repo, tag, image in store.tags() if image == image_id)
    if tags:
        from dockyard.oci import reference as refs

        return refs.parse(tags[0]).familiar()
    return image_id[7:19]


__all__ = ["BaseImage", "find_base"]
