"""``--cache-to`` and ``--cache-from``: the build cache's steps and their layers as an OCI artifact, in a registry
(``type=registry,ref=REF``, or a bare ``REF``) or a local OCI layout (``type=local,dest=DIR`` / ``src=DIR``), so that
another machine's build (CI) starts from this one's cache.

The artifact is an image index holding one manifest whose config (``application/vnd.dockyard.buildcache.config.v1
+json``) lists the steps (key, diff_id, history line, time) and whose layers are the steps' layer blobs, so the copy
engine moves it like any index. ``mode=min`` (the default, as buildx) exports the steps of the layers the result
holds; ``mode=max`` every step the build went through. Importing fetches the layers the store lacks and records the
steps with their original times, so a build from an imported cache makes the same image.
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from dockyard.errors import BlobNotFound, DockyardError, InvalidInput, InvalidManifest
from dockyard.image.transfer import RawManifest
from dockyard.oci import mediatype
from dockyard.oci.descriptor import Descriptor, descriptor_of
from dockyard.oci.digest import Digest
from dockyard.oci.index import Index
from dockyard.oci.manifest import Manifest
from dockyard.transport.base import MemorySource

if TYPE_CHECKING:
    from dockyard.store.metadata import CacheRow
    from dockyard.store.store import Store

CONFIG_TYPE = "application/vnd.dockyard.buildcache.config.v1+json"
ARTIFACT_TYPE = "application/vnd.dockyard.buildcache.v1"
LAYOUT_NAME = "buildcache"


@dataclass(frozen=True)
class CacheSpec:
    """One ``--cache-to``/``--cache-from`` value."""

    type: str  # registry | local
    ref: str  # the registry reference, or the layout directory
    mode: str = "min"

    @property
    def location(self) -> str:
        return f"docker://{self.ref}" if self.type == "registry" else f"oci:{self.ref}:{LAYOUT_NAME}"


def parse_spec(text: str, *, export: bool) -> CacheSpec:
    """buildx's CSV form; a value without ``type=`` is a registry reference."""
    if "=" not in text.split(",", 1)[0]:
        return CacheSpec("registry", text)
    fields = {}
    for item in next(csv.reader([text]), []):
        key, eq, value = item.partition("=")
        if not eq:
            raise InvalidInput(f"invalid cache value {text!r}: {item!r} is not key=value")
        fields[key.strip().lower()] = value
    kind = fields.get("type", "")
    mode = fields.get("mode", "min")
    if mode not in ("min", "max"):
        raise InvalidInput(f"invalid cache mode {mode!r} (min or max)")
    if kind == "registry":
        if not fields.get("ref"):
            raise InvalidInput(f"cache type=registry needs ref=: {text!r}")
        return CacheSpec("registry", fields["ref"], mode)
    if kind == "local":
        path = fields.get("dest" if export else "src")
        if not path:
            raise InvalidInput(f"cache type=local needs {'dest' if export else 'src'}=: {text!r}")
        return CacheSpec("local", path, mode)
    raise InvalidInput(f"unsupported cache type {kind!r} (registry or local)")


class _Artifact(MemorySource):
    """The cache artifact as a copy source: its index, its manifest, its config and the layer blobs."""

    def __init__(self, config: bytes, layers: Sequence[tuple[Descriptor, Callable[[], BinaryIO]]]) -> None:
        super().__init__("the build cache")
        config_desc = descriptor_of(config, CONFIG_TYPE)
        self.manifest = Manifest.build(config_desc, [d for d, _ in layers], mediatype.OCI_MANIFEST)
        child = descriptor_of(self.manifest.raw, mediatype.OCI_MANIFEST)
        entry = Descriptor(child.media_type, child.digest, child.size, artifact_type=ARTIFACT_TYPE)
        self.index = Index.build([entry], mediatype.OCI_INDEX)
        self.manifests[self.manifest.digest] = RawManifest(self.manifest.raw, self.manifest.media_type)
        self.add_bytes(config_desc.digest, config)
        for desc, opener in layers:
            self.blobs[desc.digest] = opener

    def top(self) -> RawManifest:
        return RawManifest(self.index.raw, self.index.media_type)


def export_cache(
    store: Store, rows: Iterable[CacheRow], spec: CacheSpec, *, insecure: tuple[str, ...] = ()
) -> tuple[int, Digest]:
    """Write the steps ``rows`` (and their layers) where ``spec`` says; (steps written, the artifact's digest)."""
    from dockyard.copy import copy_source

    records: list[dict[str, Any]] = []
    layers: dict[str, tuple[Descriptor, Callable[[], BinaryIO]]] = {}
    blobs = store.blobs
    for row in rows:
        records.append({"key": row.key, "diff_id": row.diff_id, "created_by": row.created_by,
                        "description": row.description, "created": row.created})  # fmt: skip
        if row.diff_id is not None and row.diff_id not in layers:
            layer = store.layer(row.diff_id)
            if layer is None:
                raise BlobNotFound(f"the build cache names layer {row.diff_id} the store does not hold")
            digest = Digest.parse(layer.blob_digest)
            desc = Descriptor(layer.media_type, digest, layer.compressed_size)
            layers[row.diff_id] = (desc, lambda d=digest: blobs.open(d))  # type: ignore[misc]
    doc = {"records": records, "layers": {diff: str(desc.digest) for diff, (desc, _) in layers.items()}}
    artifact = _Artifact(json.dumps(doc, indent=1).encode(), list(layers.values()))
    result = copy_source(artifact, spec.location, where="build cache", store=store, all_platforms=True,
                         insecure=insecure)  # fmt: skip
    return len(records), result.digest


def import_cache(store: Store, spec: CacheSpec, *, insecure: tuple[str, ...] = ()) -> int:
    """Record the steps of the cache ``spec`` names (fetching the layers the store lacks); how many are new.
    A cache that is not there yet (the first CI run) is no error: nothing is imported."""
    from dockyard.copy import PLACES, Context
    from dockyard.errors import NotFound
    from dockyard.transport.base import parse_location

    loc = parse_location(spec.location)
    with Context(store, insecure) as ctx:
        try:
            source = PLACES[loc.kind].open_source(loc, ctx)
            top = source.top()
        except (NotFound, InvalidInput, FileNotFoundError):
            return 0
        try:
            return _import(store, source, top)
        finally:
            source.close()


def _import(store: Store, source: Any, top: RawManifest) -> int:
    index = Index.parse(top.data, top.media_type)
    entries = [d for d in index.manifests if d.artifact_type == ARTIFACT_TYPE] or list(index.manifests)
    if not entries:
        raise InvalidManifest("the build cache index lists no manifest")
    raw = source.child(entries[0])
    manifest = Manifest.parse(raw.data, raw.media_type)
    if manifest.config.media_type != CONFIG_TYPE:
        raise InvalidManifest(f"not a dockyard build cache (config type {manifest.config.media_type})")
    with source.open_blob(manifest.config) as f:
        doc = json.loads(f.read(manifest.config.size + 1))
    by_digest = {str(d.digest): d for d in manifest.layers}
    new = 0
    placed: set[str] = set()
    for rec in doc.get("records", []):
        key, diff_id = str(rec["key"]), rec.get("diff_id")
        if store.build_step(key) is not None:
            continue
        kwargs: dict[str, Any] = {"description": str(rec.get("description", "")), "created": rec.get("created")}
        if diff_id is None or diff_id in placed or _held(store, diff_id):
            store.record_build_step(key, str(rec["created_by"]), diff_id=diff_id, **kwargs)
        else:
            desc = by_digest.get(str(doc["layers"][diff_id]))
            if desc is None:
                raise InvalidManifest(f"the build cache has no layer for {diff_id}")
            with tempfile.TemporaryDirectory(dir=store.paths.tmp) as tmp:
                path = Path(tmp) / "layer"
                with source.open_blob(desc) as src, open(path, "wb") as out:
                    while chunk := src.read(1 << 20):
                        out.write(chunk)
                layer = (path, desc.digest, Digest.parse(diff_id), desc.media_type)
                store.record_build_step(key, str(rec["created_by"]), layer=layer, **kwargs)
            placed.add(diff_id)
        new += 1
    return new


def _held(store: Store, diff_id: str) -> bool:
    layer = store.layer(diff_id)
    try:
        return layer is not None and store.blobs.exists(Digest.parse(layer.blob_digest))
    except DockyardError:
        return False


__all__ = ["ARTIFACT_TYPE", "CONFIG_TYPE", "CacheSpec", "export_cache", "import_cache", "parse_spec"]
