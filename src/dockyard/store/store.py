"""The local image store: content-addressed blobs plus SQLite metadata, with Docker's image rules."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from dockyard.errors import (
    BlobNotFound,
    Conflict,
    ContainerNotFound,
    DockyardError,
    ImageNotFound,
    InvalidReference,
    StoreError,
)
from dockyard.image.base import BlobLayer, Image, Layer
from dockyard.image.validate import check_manifest_config
from dockyard.layers.limits import Limits
from dockyard.oci import mediatype
from dockyard.oci import reference as refs
from dockyard.oci.config import ImageConfig, chain_ids, parse_time
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Manifest
from dockyard.store.blobs import BlobStore
from dockyard.store.lock import file_lock, try_exclusive
from dockyard.store.metadata import ContainerRow, ImageRow, Metadata
from dockyard.store.paths import StorePaths, default_root

_HEX64 = frozenset("0123456789abcdef")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class LayerProgress:
    """One progress event of an ingest: a layer that already existed, or was copied in."""

    diff_id: Digest
    digest: Digest
    status: str  # "Already exists" | "Loaded"


@dataclass(frozen=True, slots=True)
class IngestResult:
    image_id: Digest
    tagged: tuple[refs.Reference, ...]
    untagged_from: tuple[str, ...] = ()  # image IDs that lost a tag to this one


@dataclass(frozen=True, slots=True)
class DeleteRecord:
    """One line of ``rmi`` output: ``Untagged: ...`` or ``Deleted: ...``."""

    kind: str  # "Untagged" | "Deleted"
    value: str


@dataclass(frozen=True, slots=True)
class ImageSummary:
    id: Digest
    created: datetime | None
    size: int
    tags: tuple[refs.Reference, ...]
    digests: tuple[refs.Reference, ...]
    containers: int
    row: ImageRow = field(repr=False)

    @property
    def dangling(self) -> bool:
        return not self.tags and not self.digests


@dataclass(frozen=True, slots=True)
class CheckReport:
    problems: list[str]
    unreferenced_blobs: list[Digest]
    temp_files: list[Path]
    blobs_checked: int

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class DiskUsage:
    images: int
    active: int
    total_size: int
    shared_size: int
    unique_size: int
    reclaimable: int
    blob_bytes: int
    containers: int


class StoreImage:
    """An image in the store, as an :class:`Image` whose layers read the kept blobs."""

    def __init__(self, store: Store, row: ImageRow) -> None:
        self._store = store
        self.row = row
        self._manifest: Manifest | None = None
        self._config: ImageConfig | None = None
        self._layers: tuple[Layer, ...] | None = None

    def config(self) -> ImageConfig:
        if self._config is None:
            self._config = ImageConfig.parse(self._store.blobs.read(Digest.parse(self.row.id)))
        return self._config

    def original_manifest(self) -> Manifest:
        raw = self._store.blobs.read(Digest.parse(self.row.manifest_digest))
        return Manifest.parse(raw, self.row.manifest_type)

    def layers(self) -> Sequence[Layer]:
        if self._layers is None:
            out: list[Layer] = []
            for diff_id in self._store.meta.image_diff_ids(self.row.id):
                lrow = self._store.meta.layer(diff_id)
                if lrow is None:
                    raise StoreError(f"image {self.row.id[7:19]} refers to layer {diff_id} that is not stored")
                blob = Digest.parse(lrow.blob_digest)
                out.append(
                    BlobLayer(
                        Descriptor(lrow.media_type, blob, lrow.compressed_size),
                        Digest.parse(diff_id),
                        _opener(self._store.blobs, blob),
                        lrow.size,
                    )
                )
            self._layers = tuple(out)
        return self._layers

    def manifest(self) -> Manifest:
        """The manifest as received when every layer blob it names is kept; else one describing the kept blobs."""
        if self._manifest is None:
            original = self.original_manifest()
            kept = [layer.descriptor() for layer in self.layers()]
            if [d.digest for d in original.layers] == [d.digest for d in kept]:
                self._manifest = original
            else:
                kind = original.media_type
                self._manifest = Manifest.build(
                    original.config,
                    [Descriptor(_media_for(kind, d.media_type), d.digest, d.size) for d in kept],
                    kind,
                )
        return self._manifest


def _media_for(manifest_type: str, layer_type: str) -> str:
    return mediatype.layer_type(manifest_type, mediatype.layer_compression(layer_type))


def _opener(blobs: BlobStore, digest: Digest) -> Callable[[], BinaryIO]:
    return lambda: blobs.open(digest)


class Store:
    def __init__(self, root: Path | None = None) -> None:
        self.paths = StorePaths((root or default_root()).resolve())
        try:
            self.paths.root.mkdir(parents=True, exist_ok=True)
            self.paths.tmp.mkdir(exist_ok=True)
            (self.paths.blobs / "sha256").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create store at {self.paths.root}: {exc.strerror}") from None
        self.blobs = BlobStore(self.paths)
        self.meta = Metadata(self.paths.db)

    def close(self) -> None:
        self.meta.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- ingest ------------------------------------------------------------------------------------------

    def ingest(
        self,
        image: Image,
        names: Iterable[refs.Reference] = (),
        *,
        repo_digests: Iterable[refs.Reference] = (),
        extra_blobs: Sequence[bytes] = (),
        limits: Limits | None = None,
        on_layer: Callable[[LayerProgress], None] | None = None,
    ) -> IngestResult:
        """Copy an image in (verifying every digest and diff_id), then record it and its names atomically."""
        manifest = image.manifest()
        config = image.config()
        check_manifest_config(manifest, config)
        layers = list(image.layers())
        self._clean_temp_if_alone()
        with file_lock(self.paths.gc_lock, exclusive=False):
            for layer, diff_id in zip(layers, config.diff_ids, strict=True):
                desc = layer.descriptor()
                known = self.meta.layer(str(diff_id))
                if known is not None and self.blobs.exists(Digest.parse(known.blob_digest)):
                    if on_layer:
                        on_layer(LayerProgress(diff_id, desc.digest, "Already exists"))
                    continue
                with layer.open() as src:
                    digests = self.blobs.put_layer(src, desc.digest, diff_id, desc.size, limits)
                with self.meta.write() as db:
                    db.execute(
                        "INSERT OR REPLACE INTO layers (diff_id, blob_digest, media_type, compressed_size, size) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (str(diff_id), str(desc.digest), desc.media_type, digests.size, digests.uncompressed_size),
                    )
                if on_layer:
                    on_layer(LayerProgress(diff_id, desc.digest, "Loaded"))
            self.blobs.put_bytes(config.raw, manifest.config.digest)
            self.blobs.put_bytes(manifest.raw)
            extra = [str(self.blobs.put_bytes(raw)) for raw in extra_blobs]
            return self._record(manifest, config, list(names), list(repo_digests), extra)

    def _record(
        self,
        manifest: Manifest,
        config: ImageConfig,
        names: list[refs.Reference],
        digests: list[refs.Reference],
        extra: list[str],
    ) -> IngestResult:
        image_id = str(config.digest)
        untagged_from: list[str] = []
        with self.meta.write() as db:
            sizes = []
            for diff_id in config.diff_ids:
                row = db.execute("SELECT size FROM layers WHERE diff_id = ?", (str(diff_id),)).fetchone()
                if row is None:
                    raise StoreError(f"layer {diff_id} vanished during ingest; retry")
                sizes.append(row[0])
            exists = db.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone()
            if not exists:
                db.execute(
                    "INSERT INTO images (id, manifest_digest, manifest_type, created, size, architecture, os, "
                    "variant, added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        image_id,
                        str(manifest.digest),
                        manifest.media_type,
                        config.created,
                        sum(sizes),
                        config.architecture,
                        config.os,
                        config.variant or "",
                        _now(),
                    ),
                )
                db.executemany(
                    "INSERT INTO image_layers (image_id, position, diff_id) VALUES (?, ?, ?)",
                    [(image_id, i, str(d)) for i, d in enumerate(config.diff_ids)],
                )
            for blob in extra:
                db.execute("INSERT OR IGNORE INTO extra_blobs (image_id, digest) VALUES (?, ?)", (image_id, blob))
            for name in names:
                ref = name.with_default_tag()
                if ref.tag is None:
                    continue
                old = db.execute(
                    "SELECT image_id FROM tags WHERE repository = ? AND tag = ?", (ref.repository, ref.tag)
                ).fetchone()
                if old and old[0] != image_id:
                    untagged_from.append(old[0])
                db.execute(
                    "INSERT OR REPLACE INTO tags (repository, tag, image_id) VALUES (?, ?, ?)",
                    (ref.repository, ref.tag, image_id),
                )
            for dref in digests:
                if dref.digest is not None:
                    db.execute(
                        "INSERT OR REPLACE INTO repo_digests (repository, digest, image_id) VALUES (?, ?, ?)",
                        (dref.repository, str(dref.digest), image_id),
                    )
        return IngestResult(Digest.parse(image_id), tuple(n.with_default_tag() for n in names), tuple(untagged_from))

    # --- lookup ------------------------------------------------------------------------------------------

    def resolve(self, text: str) -> str:
        """Docker's GetImage: a 64-hex ID or ``sha256:`` digest, a name[:tag][@digest], else an ID prefix."""
        value = text.strip()
        if (value.startswith("sha256:") and len(value) == 71) or (len(value) == 64 and set(value) <= _HEX64):
            image_id = value if value.startswith("sha256:") else "sha256:" + value
            if self.meta.image(image_id):
                return image_id
            raise ImageNotFound(f"No such image: {text}")
        try:
            ref = refs.parse(value)
        except InvalidReference:
            ref = None
        if ref is not None:
            if ref.digest is not None:
                found = self.meta.digest_target(ref.repository, str(ref.digest))
                if found:
                    return found
            else:
                tagged = ref.with_default_tag()
                found = self.meta.tag_target(tagged.repository, tagged.tag or "latest")
                if found:
                    return found
        prefix = value[7:] if value.startswith("sha256:") else value
        if prefix and set(prefix) <= _HEX64:
            matches = self.meta.image_ids_with_prefix(prefix)
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise ImageNotFound(f"image ID prefix {text!r} is ambiguous ({len(matches)} images)")
        if ref is None:
            raise InvalidReference(f"invalid reference format: {text!r}")
        shown = ref.familiar() if ref.digest else ref.with_default_tag().familiar()
        raise ImageNotFound(f"No such image: {shown}")

    def image(self, text_or_id: str) -> StoreImage:
        image_id = self.resolve(text_or_id)
        row = self.meta.image(image_id)
        if row is None:
            raise ImageNotFound(f"No such image: {text_or_id}")
        return StoreImage(self, row)

    def image_by_id(self, image_id: str) -> StoreImage:
        row = self.meta.image(image_id)
        if row is None:
            raise ImageNotFound(f"No such image: {image_id}")
        return StoreImage(self, row)

    def names_of(self, image_id: str) -> tuple[list[refs.Reference], list[refs.Reference]]:
        tags = [refs.parse(f"{repo}:{tag}") for repo, tag in self.meta.tags_of(image_id)]
        digests = [refs.parse(f"{repo}@{dig}") for repo, dig in self.meta.repo_digests_of(image_id)]
        return tags, digests

    def summaries(self) -> list[ImageSummary]:
        tags: dict[str, list[refs.Reference]] = {}
        for repo, tag, image_id in self.meta.tags():
            tags.setdefault(image_id, []).append(refs.parse(f"{repo}:{tag}"))
        digests: dict[str, list[refs.Reference]] = {}
        for repo, dig, image_id in self.meta.repo_digests():
            digests.setdefault(image_id, []).append(refs.parse(f"{repo}@{dig}"))
        used: dict[str, int] = {}
        for c in self.meta.containers():
            used[c.image_id] = used.get(c.image_id, 0) + 1
        out = []
        for row in self.meta.images():
            out.append(
                ImageSummary(
                    id=Digest.parse(row.id),
                    created=_parse_created(row.created),
                    size=row.size,
                    tags=tuple(tags.get(row.id, [])),
                    digests=tuple(digests.get(row.id, [])),
                    containers=used.get(row.id, 0),
                    row=row,
                )
            )
        out.sort(key=lambda s: (s.created or datetime.min.replace(tzinfo=UTC), s.row.added), reverse=True)
        return out

    # --- tag / rmi / prune --------------------------------------------------------------------------------

    def tag(self, source: str, target: str) -> refs.Reference:
        image_id = self.resolve(source)
        ref = refs.parse(target)
        if ref.digest is not None:
            raise InvalidReference(f"refusing to create a tag with a digest reference: {target}")
        ref = ref.with_default_tag()
        with self.meta.write() as db:
            if not db.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone():
                raise ImageNotFound(f"No such image: {source}")
            db.execute(
                "INSERT OR REPLACE INTO tags (repository, tag, image_id) VALUES (?, ?, ?)",
                (ref.repository, ref.tag, image_id),
            )
        return ref

    def remove(self, text: str, *, force: bool = False) -> list[DeleteRecord]:
        """``docker rmi`` for one argument, with Docker's rules (see docs/rmi in the README)."""
        image_id = self.resolve(text)
        short = image_id[7:19]
        records: list[DeleteRecord] = []
        by_id = _is_id_prefix(image_id, text)
        with file_lock(self.paths.gc_lock, exclusive=True):
            with self.meta.write() as db:
                tag_refs = [
                    refs.parse(f"{r}:{t}")
                    for r, t in db.execute("SELECT repository, tag FROM tags WHERE image_id = ?", (image_id,))
                ]
                dig_refs = [
                    refs.parse(f"{r}@{d}")
                    for r, d in db.execute(
                        "SELECT repository, digest FROM repo_digests WHERE image_id = ?", (image_id,)
                    )
                ]
                containers = [
                    ContainerRow(*r)
                    for r in db.execute(
                        "SELECT id, name, image_id, image_ref, created FROM containers WHERE image_id = ? "
                        "ORDER BY created",
                        (image_id,),
                    )
                ]
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
                    self._untag(db, ref)
                    records.append(DeleteRecord("Untagged", ref.familiar()))
                    remaining_tags = [r for r in tag_refs if r != ref]
                    remaining_digs = [r for r in dig_refs if r != ref]
                    if ref.digest is None and not any(r.repository == ref.repository for r in remaining_tags):
                        for d in [r for r in remaining_digs if r.repository == ref.repository]:
                            self._untag(db, d)
                            records.append(DeleteRecord("Untagged", d.familiar()))
                            remaining_digs.remove(d)
                    if remaining_tags or remaining_digs:
                        return records
                    if containers:
                        return records  # kept as a dangling image while containers use it
                else:
                    if all_refs and not _is_single_reference(tag_refs, dig_refs) and not force:
                        raise Conflict(
                            f"conflict: unable to delete {short} (must be forced) - "
                            "image is referenced in multiple repositories"
                        )
                    if containers and not force:
                        raise Conflict(
                            f"conflict: unable to delete {short} (must be forced) - "
                            f"image is being used by stopped container {containers[0].id[:12]}"
                        )
                    for r in tag_refs + dig_refs:
                        self._untag(db, r)
                        records.append(DeleteRecord("Untagged", r.familiar()))
                    if containers:
                        if not all_refs:
                            raise Conflict(
                                f"conflict: unable to delete {short} (cannot be forced) - "
                                f"image is being used by container {containers[0].id[:12]}"
                            )
                        return records  # forced: untagged, kept dangling until its containers go
                records.extend(self._delete_image(db, image_id))
            self._collect_garbage()
        return records

    @staticmethod
    def _untag(db: sqlite3.Connection, ref: refs.Reference) -> None:
        if ref.digest is not None:
            db.execute(
                "DELETE FROM repo_digests WHERE repository = ? AND digest = ?", (ref.repository, str(ref.digest))
            )
        else:
            db.execute("DELETE FROM tags WHERE repository = ? AND tag = ?", (ref.repository, ref.tag))

    def _delete_image(self, db: sqlite3.Connection, image_id: str) -> list[DeleteRecord]:
        diff_ids = [
            Digest.parse(r[0])
            for r in db.execute("SELECT diff_id FROM image_layers WHERE image_id = ? ORDER BY position", (image_id,))
        ]
        mine = chain_ids(diff_ids)
        db.execute("DELETE FROM extra_blobs WHERE image_id = ?", (image_id,))
        db.execute("DELETE FROM image_layers WHERE image_id = ?", (image_id,))
        db.execute("DELETE FROM images WHERE id = ?", (image_id,))
        others: set[Digest] = set()
        stacks: dict[str, list[Digest]] = {}
        for other_id, diff in db.execute("SELECT image_id, diff_id FROM image_layers ORDER BY image_id, position"):
            stacks.setdefault(other_id, []).append(Digest.parse(diff))
        for stack in stacks.values():
            others.update(chain_ids(stack))
        db.execute("DELETE FROM layers WHERE diff_id NOT IN (SELECT diff_id FROM image_layers)")
        records = [DeleteRecord("Deleted", image_id)]
        records.extend(DeleteRecord("Deleted", str(c)) for c in reversed(mine) if c not in others)
        return records

    def _clean_temp_if_alone(self) -> None:
        """Remove temp files of killed writers, when no other process is writing (no lock holder)."""
        fd = try_exclusive(self.paths.gc_lock)
        if fd is None:
            return
        try:
            self._clean_temp()
        finally:
            os.close(fd)

    def _clean_temp(self) -> None:
        for tmp in self.paths.tmp.iterdir():
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)

    def _collect_garbage(self) -> int:
        """Delete blobs no image reaches and stale temp files. Caller holds the exclusive gc lock."""
        with self.meta.write() as db:
            db.execute("DELETE FROM layers WHERE diff_id NOT IN (SELECT diff_id FROM image_layers)")
        used = self.meta.referenced_blobs()
        freed = 0
        for digest in list(self.blobs.all()):
            if str(digest) not in used:
                try:
                    freed += self.blobs.path(digest).stat().st_size
                except FileNotFoundError:
                    continue
                self.blobs.delete(digest)
        self._clean_temp()
        return freed

    def prune(self, *, all_unused: bool = False) -> tuple[list[DeleteRecord], int]:
        """``docker image prune``: dangling images (or, with ``all_unused``, every image no container uses)."""
        records: list[DeleteRecord] = []
        with file_lock(self.paths.gc_lock, exclusive=True):
            before = sum(self.blobs.size(d) for d in self.blobs.all())
            with self.meta.write() as db:
                in_use = {r[0] for r in db.execute("SELECT image_id FROM containers")}
                for (image_id,) in db.execute("SELECT id FROM images").fetchall():
                    if image_id in in_use:
                        continue
                    tags = db.execute("SELECT repository, tag FROM tags WHERE image_id = ?", (image_id,)).fetchall()
                    digs = db.execute(
                        "SELECT repository, digest FROM repo_digests WHERE image_id = ?", (image_id,)
                    ).fetchall()
                    if (tags or digs) and not all_unused:
                        continue
                    for repo, tag in tags:
                        self._untag(db, refs.parse(f"{repo}:{tag}"))
                        records.append(DeleteRecord("Untagged", refs.parse(f"{repo}:{tag}").familiar()))
                    for repo, dig in digs:
                        self._untag(db, refs.parse(f"{repo}@{dig}"))
                        records.append(DeleteRecord("Untagged", refs.parse(f"{repo}@{dig}").familiar()))
                    records.extend(self._delete_image(db, image_id))
            self._collect_garbage()
            after = sum(self.blobs.size(d) for d in self.blobs.all())
        return records, before - after

    # --- containers ---------------------------------------------------------------------------------------

    def container_create(self, image: str, name: str | None = None) -> ContainerRow:
        image_id = self.resolve(image)
        cid = secrets.token_hex(32)
        cname = name or _random_name()
        if name is not None and not _valid_container_name(name):
            raise InvalidReference(f"invalid container name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        row = ContainerRow(cid, cname, image_id, image, _now())
        with self.meta.write() as db:
            if db.execute("SELECT 1 FROM containers WHERE name = ?", (cname,)).fetchone():
                raise Conflict(f'conflict: the container name "/{cname}" is already in use')
            db.execute(
                "INSERT INTO containers (id, name, image_id, image_ref, created) VALUES (?, ?, ?, ?, ?)",
                (row.id, row.name, row.image_id, row.image_ref, row.created),
            )
        return row

    def container_remove(self, text: str) -> ContainerRow:
        with self.meta.write() as db:
            rows = [
                ContainerRow(*r)
                for r in db.execute(
                    "SELECT id, name, image_id, image_ref, created FROM containers WHERE name = ? OR id LIKE ?",
                    (text.lstrip("/"), text.replace("%", "") + "%"),
                )
            ]
            exact = [r for r in rows if r.name == text.lstrip("/") or r.id == text]
            if exact:
                rows = exact[:1]
            if not rows:
                raise ContainerNotFound(f"No such container: {text}")
            if len(rows) > 1:
                raise ContainerNotFound(f"container ID prefix {text!r} is ambiguous")
            db.execute("DELETE FROM containers WHERE id = ?", (rows[0].id,))
        return rows[0]

    # --- system -------------------------------------------------------------------------------------------

    def disk_usage(self) -> DiskUsage:
        summaries = self.summaries()
        used = self.meta.referenced_blobs()
        blob_sizes: dict[str, int] = {}
        for d in self.blobs.all():
            try:
                blob_sizes[str(d)] = self.blobs.size(d)
            except BlobNotFound:
                continue
        in_use = {c.image_id for c in self.meta.containers()}
        shared = sum(blob_sizes.get(b, 0) for b, users in used.items() if len(users) > 1)
        total = sum(blob_sizes.values())
        reclaimable = 0
        for blob, users in used.items():
            if not users & in_use:
                reclaimable += blob_sizes.get(blob, 0)
        reclaimable += sum(s for b, s in blob_sizes.items() if b not in used)
        return DiskUsage(
            images=len(summaries),
            active=len(in_use),
            total_size=sum(s.size for s in summaries),
            shared_size=shared,
            unique_size=total - shared,
            reclaimable=reclaimable,
            blob_bytes=total,
            containers=len(self.meta.containers()),
        )

    def check(self, *, rehash: bool = True) -> CheckReport:
        problems: list[str] = []
        ok = self.meta.conn.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            problems.append(f"metadata database: {ok}")
        present = set(map(str, self.blobs.all()))
        checked = 0
        if rehash:
            for digest in sorted(present):
                d = Digest.parse(digest)
                actual = self.blobs.verify(d)
                checked += 1
                if actual != d:
                    problems.append(f"blob {digest} is corrupt: its bytes hash to {actual}")
        used = self.meta.referenced_blobs()
        for blob, users in sorted(used.items()):
            if blob not in present:
                who = ", ".join(sorted(u[7:19] for u in users))
                problems.append(f"blob {blob} is missing (used by image {who})")
        for row in self.meta.images():
            try:
                image = StoreImage(self, row)
                manifest = image.original_manifest()
                config = image.config()
                check_manifest_config(manifest, config)
                wanted = [str(d) for d in config.diff_ids]
                if self.meta.image_diff_ids(row.id) != wanted:
                    problems.append(f"image {row.id[7:19]}: layer list does not match its config")
                for diff_id in wanted:
                    if self.meta.layer(diff_id) is None:
                        problems.append(f"image {row.id[7:19]}: layer {diff_id} is not recorded")
            except BlobNotFound:
                continue  # already reported as missing
            except DockyardError as exc:
                problems.append(f"image {row.id[7:19]}: {exc}")
        for table, column in (("tags", "image_id"), ("repo_digests", "image_id"), ("containers", "image_id")):
            dangling = self.meta.conn.execute(
                f"SELECT COUNT(*) FROM {table} WHERE {column} NOT IN (SELECT id FROM images)"
            ).fetchone()[0]
            if dangling:
                problems.append(f"{dangling} {table} rows point to images that do not exist")
        unreferenced = sorted(Digest.parse(b) for b in present if b not in used)
        temps = sorted(self.paths.tmp.iterdir()) if self.paths.tmp.exists() else []
        return CheckReport(problems, unreferenced, temps, checked)

    def gc(self) -> int:
        with file_lock(self.paths.gc_lock, exclusive=True):
            return self._collect_garbage()


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


def _parse_created(text: str | None) -> datetime | None:
    return parse_time(text)


def _valid_container_name(name: str) -> bool:
    return re.fullmatch(r"/?[a-zA-Z0-9][a-zA-Z0-9_.-]+", name) is not None


_ADJECTIVES = ("admiring", "brave", "clever", "eager", "gentle", "happy", "jolly", "keen", "lucid", "quirky")
_NAMES = ("babbage", "curie", "darwin", "euler", "hopper", "lovelace", "noether", "turing", "wozniak", "yalow")


def _random_name() -> str:
    return f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NAMES)}_{secrets.randbelow(1000)}"


def open_store(root: Path | str | None = None) -> Store:
    return Store(Path(root) if root is not None else None)


__all__ = ["CheckReport", "DeleteRecord", "DiskUsage", "ImageSummary", "IngestResult", "Store", "StoreImage"]
