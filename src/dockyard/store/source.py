"""The store as a source of the copy engine: a name gives back the manifest or index it was pulled, loaded or
created with, byte for byte.

The bytes change only when a layer is kept in another form than the manifest names (the store keeps one copy
per diff_id, e.g. the plain tar of a docker-archive and the gzip blob of a registry): then the manifest is
rewritten to name the kept blobs (and an index to name the rewritten children), and :attr:`StoreSource.notes`
says so in one line each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

from dockyard.errors import ImageNotFound, InvalidManifest
from dockyard.image.transfer import RawManifest
from dockyard.oci import mediatype
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.index import Index
from dockyard.oci.manifest import Manifest

if TYPE_CHECKING:
    from dockyard.store.core import StoreCore


class StoreSource:
    """What ``text`` (a name, ``repo@digest`` or an image ID) names in the store."""

    def __init__(self, store: StoreCore, text: str, *, compression: str | None = None) -> None:
        """``compression`` (``gzip``, ``zstd``): layers kept as plain tars are given in that form (made once and
        kept, see :meth:`~dockyard.store.store.StoreCore.layer_form`), as a push to a registry wants them."""
        self.store = store
        self.text = text
        self.compression = compression
        self.image_id = store.resolve(text)
        self.digest = store.manifest_digest_of(text, self.image_id)
        self.notes: list[str] = []
        self._cache: dict[str, RawManifest] = {}

    def top(self) -> RawManifest:
        return self._kept(self.digest)

    def child(self, desc: Descriptor) -> RawManifest:
        return self._kept(str(desc.digest), desc)

    def open_blob(self, desc: Descriptor) -> BinaryIO:
        return self.store.blobs.open(desc.digest)

    def close(self) -> None:
        return None

    def missing_platforms(self) -> list[str]:
        """The children of the top index that the store does not hold (empty for a single manifest)."""
        row = self.store.meta.manifest(self.digest)
        if row is None or row[1] is not None:
            return []
        return [
            platform or child
            for child, media_type, platform in self.store.meta.index_children(self.digest)
            if self.store.meta.manifest(child) is None
        ]

    # --- the bytes ----------------------------------------------------------------------------------------

    def _kept(self, digest: str, desc: Descriptor | None = None) -> RawManifest:
        """The manifest or index ``digest`` as kept, rewritten where its blobs are kept in another form."""
        if digest in self._cache:
            return self._cache[digest]
        row = self.store.meta.manifest(digest)
        if row is None:
            what = f"platform {desc.platform}" if desc is not None and desc.platform else f"manifest {digest}"
            raise ImageNotFound(f"{self.text}: {what} is not in the store (pull it with --platform)")
        media_type, image_id = row
        raw = RawManifest(self.store.blobs.read(Digest.parse(digest)), media_type)
        result = self._index(raw) if image_id is None else self._manifest(raw, image_id)
        self._cache[digest] = result
        return result

    def _manifest(self, raw: RawManifest, image_id: str) -> RawManifest:
        manifest = Manifest.parse(raw.data, raw.media_type)
        diff_ids = self.store.meta.image_diff_ids(image_id)
        kept: list[Descriptor] = []
        for desc, diff_id in zip(manifest.layers, diff_ids, strict=False):
            row = self.store.meta.layer(diff_id)
            if row is None:
                raise InvalidManifest(f"{self.text}: layer {diff_id} is not stored")
            forms = {row.blob_digest} | {blob for blob, _m, _s in self.store.meta.layer_forms(diff_id)}
            if str(desc.digest) in forms:
                kept.append(desc)
                continue
            kind = mediatype.layer_compression(row.media_type)
            kept.append(
                Descriptor(
                    mediatype.layer_type(manifest.media_type, kind),
                    Digest.parse(row.blob_digest),
                    row.compressed_size,
                    annotations=dict(desc.annotations),
                )
            )
        rewritten = [d.digest for d in kept] != [d.digest for d in manifest.layers]
        media_type, config = manifest.media_type, manifest.config
        compressed = False
        if self.compression is not None:
            for i, (desc, diff_id) in enumerate(zip(kept, diff_ids, strict=False)):
                if mediatype.layer_compression(desc.media_type) != "none" or desc.media_type in mediatype.FOREIGN_TYPES:
                    continue
                blob, size, _oci_type = self.store.layer_form(diff_id, self.compression)
                kept[i] = Descriptor(
                    mediatype.layer_type(manifest.media_type, self.compression),
                    blob,
                    size,
                    annotations=dict(desc.annotations),
                )
                compressed = True
            if compressed and self.compression == "zstd" and media_type == mediatype.DOCKER_MANIFEST:
                media_type = mediatype.OCI_MANIFEST  # zstd layers need an OCI manifest
                config = Descriptor(mediatype.OCI_CONFIG, config.digest, config.size)
                kept = [
                    Descriptor(
                        mediatype.layer_type(media_type, mediatype.layer_compression(d.media_type)),
                        d.digest,
                        d.size,
                        annotations=dict(d.annotations),
                    )
                    for d in kept
                ]
        if not rewritten and not compressed:
            return raw
        rebuilt = Manifest.build(config, kept, media_type, manifest.annotations or None)
        why = (
            f"Layers kept uncompressed are sent {self.compression}-compressed"
            if compressed
            else "Layers are kept in another compression"
        )
        self.notes.append(f"{why}: manifest {manifest.digest} is sent as {rebuilt.digest}")
        return RawManifest(rebuilt.raw, rebuilt.media_type)

    def _index(self, raw: RawManifest) -> RawManifest:
        index = Index.parse(raw.data, raw.media_type)
        children: list[Descriptor] = []
        changed = False
        for desc in index.manifests:
            if self.store.meta.manifest(str(desc.digest)) is None:
                children.append(desc)  # absent: the engine refuses it if it needs it
                continue
            kept = self._kept(str(desc.digest), desc)
            if kept.digest != desc.digest:
                changed = True
                desc = Descriptor(desc.media_type, kept.digest, len(kept.data), desc.platform, desc.annotations)
            children.append(desc)
        if not changed:
            return raw
        rebuilt = Index.build(children, index.media_type, index.annotations or None)
        self.notes.append(f"An image of index {index.digest} was rewritten: the index is sent as {rebuilt.digest}")
        return RawManifest(rebuilt.raw, rebuilt.media_type)
