"""SQLite metadata: the roots (images, tags, repo digests, containers) and the layer catalogue.

What a blob is used by is never stored as a counter: it is derived from these rows (see ``referenced_blobs``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import Conflict, ContainerNotFound, ImageNotFound, StoreError
from dockyard.store.schema import SCHEMA_VERSION, migrate


@dataclass(frozen=True, slots=True)
class ImageRow:
    id: str
    manifest_digest: str
    manifest_type: str
    created: str | None
    size: int
    architecture: str
    os: str
    variant: str
    added: str


@dataclass(frozen=True, slots=True)
class LayerRow:
    diff_id: str
    blob_digest: str
    media_type: str
    compressed_size: int
    size: int
    content_size: int  # Docker's SIZE of the layer


#: The user ``referenced_blobs`` names for blobs the build cache keeps.
BUILD_CACHE = "build-cache"


@dataclass(frozen=True, slots=True)
class CacheRow:
    """A build step in the cache: its key, the layer it made (None: no layer) and its history line."""

    key: str
    diff_id: str | None
    created_by: str
    description: str
    created: str
    last_used: str
    usage_count: int = 1  # builds that made or reused it


@dataclass(frozen=True, slots=True)
class IndexRecord:
    """An index (or manifest list) kept by digest, with its children: (digest, media type, platform text)."""

    digest: str
    media_type: str
    children: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True, slots=True)
class NewImage:
    """What an ingest records for one image: its manifest as received, config facts and layer order."""

    image_id: str
    manifest_digest: str
    manifest_type: str
    created: str | None
    architecture: str
    os: str
    variant: str
    diff_ids: tuple[str, ...]
    added: str


@dataclass(frozen=True, slots=True)
class ContainerRow:
    id: str
    name: str
    image_id: str
    image_ref: str
    created: str
    command: str = ""


class Metadata:
    """One connection to the metadata database. Writes go through :meth:`write` (BEGIN IMMEDIATE)."""

    def __init__(self, path: Path) -> None:
        try:
            self.conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
            self._setup(path)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open store database {path}: {exc}") from None

    def _setup(self, path: Path) -> None:
        self.conn.execute("PRAGMA busy_timeout = 60000")
        self._use_wal(path)
        # FULL: a committed delete is durable before its blobs are unlinked, so a power cut cannot leave
        # metadata naming blobs that are gone.
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("PRAGMA foreign_keys = ON")
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            with self.write():
                migrate(self.conn, self.conn.execute("PRAGMA user_version").fetchone()[0])
        elif version > SCHEMA_VERSION:
            raise StoreError(f"store database {path} has schema {version}; this dockyard knows {SCHEMA_VERSION}")

    def _use_wal(self, path: Path) -> None:
        """Switch to WAL once; a second process doing the same at the same moment may see SQLITE_BUSY: retry."""
        for attempt in range(200):
            try:
                if self.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self.conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise StoreError(f"cannot open store database {path}: {exc}") from None
                time.sleep(min(0.001 * (attempt + 1), 0.05))
        raise StoreError(f"store database {path} stayed locked; is another dockyard stuck?")

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; concurrent writers wait (busy timeout), never corrupt."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    # --- reads -------------------------------------------------------------------------------------------

    def images(self) -> list[ImageRow]:
        rows = self.conn.execute(
            "SELECT id, manifest_digest, manifest_type, created, size, architecture, os, variant, added FROM images"
        ).fetchall()
        return [ImageRow(*r) for r in rows]

    def image(self, image_id: str) -> ImageRow | None:
        r = self.conn.execute(
            "SELECT id, manifest_digest, manifest_type, created, size, architecture, os, variant, added "
            "FROM images WHERE id = ?",
            (image_id,),
        ).fetchone()
        return ImageRow(*r) if r else None

    def image_ids_with_prefix(self, hex_prefix: str) -> list[str]:
        like = hex_prefix.replace("%", "").replace("_", "") + "%"
        return [r[0] for r in self.conn.execute("SELECT id FROM images WHERE substr(id, 8) LIKE ?", (like,))]

    def image_diff_ids(self, image_id: str) -> list[str]:
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT diff_id FROM image_layers WHERE image_id = ? ORDER BY position", (image_id,)
            )
        ]

    def layer(self, diff_id: str) -> LayerRow | None:
        r = self.conn.execute(
            "SELECT diff_id, blob_digest, media_type, compressed_size, size, COALESCE(content_size, size) "
            "FROM layers WHERE diff_id = ?",
            (diff_id,),
        ).fetchone()
        return LayerRow(*r) if r else None

    def layers(self) -> list[LayerRow]:
        rows = self.conn.execute(
            "SELECT diff_id, blob_digest, media_type, compressed_size, size, COALESCE(content_size, size) FROM layers"
        )
        return [LayerRow(*r) for r in rows]

    def tag_target(self, repository: str, tag: str) -> str | None:
        r = self.conn.execute(
            "SELECT image_id FROM tags WHERE repository = ? AND tag = ?", (repository, tag)
        ).fetchone()
        return r[0] if r else None

    def digest_target(self, repository: str, digest: str) -> str | None:
        r = self.conn.execute(
            "SELECT image_id FROM repo_digests WHERE repository = ? AND digest = ?", (repository, digest)
        ).fetchone()
        return r[0] if r else None

    def tags(self) -> list[tuple[str, str, str]]:
        """(repository, tag, image_id) for every tag."""
        return list(self.conn.execute("SELECT repository, tag, image_id FROM tags"))

    def tags_of(self, image_id: str) -> list[tuple[str, str]]:
        return list(
            self.conn.execute("SELECT repository, tag FROM tags WHERE image_id = ? ORDER BY rowid", (image_id,))
        )

    def repo_digests(self) -> list[tuple[str, str, str]]:
        return list(self.conn.execute("SELECT repository, digest, image_id FROM repo_digests"))

    def repo_digests_of(self, image_id: str) -> list[tuple[str, str]]:
        return list(
            self.conn.execute(
                "SELECT repository, digest FROM repo_digests WHERE image_id = ? ORDER BY rowid", (image_id,)
            )
        )

    def extra_blobs_of(self, image_id: str) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT digest FROM extra_blobs WHERE image_id = ?", (image_id,))]

    def containers(self) -> list[ContainerRow]:
        rows = self.conn.execute(
            "SELECT id, name, image_id, image_ref, created, command FROM containers ORDER BY created"
        )
        return [ContainerRow(*r) for r in rows]

    def containers_of(self, image_id: str) -> list[ContainerRow]:
        rows = self.conn.execute(
            "SELECT id, name, image_id, image_ref, created, command FROM containers WHERE image_id = ? "
            "ORDER BY created",
            (image_id,),
        )
        return [ContainerRow(*r) for r in rows]

    def add_container(self, row: ContainerRow) -> None:
        """Record a container of an image; the image must still exist and the name be free."""
        with self.write() as db:
            if not db.execute("SELECT 1 FROM images WHERE id = ?", (row.image_id,)).fetchone():
                raise ImageNotFound(f"No such image: {row.image_ref}")  # removed since it was resolved
            if db.execute("SELECT 1 FROM containers WHERE name = ?", (row.name,)).fetchone():
                raise Conflict(f'conflict: the container name "/{row.name}" is already in use')
            db.execute(
                "INSERT INTO containers (id, name, image_id, image_ref, created, command) VALUES (?, ?, ?, ?, ?, ?)",
                (row.id, row.name, row.image_id, row.image_ref, row.created, row.command),
            )

    def remove_container(self, text: str) -> ContainerRow:
        """Remove the container named ``text`` (or whose ID starts with it); the row removed."""
        name = text.lstrip("/")
        with self.write() as db:
            every = db.execute("SELECT id, name, image_id, image_ref, created, command FROM containers")
            rows = [row for row in (ContainerRow(*r) for r in every) if row.name == name or row.id.startswith(text)]
            exact = [r for r in rows if r.name == name or r.id == text]
            if exact:
                rows = exact[:1]
            if not rows:
                raise ContainerNotFound(f"No such container: {text}")
            if len(rows) > 1:
                raise ContainerNotFound(f"container ID prefix {text!r} is ambiguous")
            db.execute("DELETE FROM containers WHERE id = ?", (rows[0].id,))
        return rows[0]

    def referenced_blobs(self) -> dict[str, set[str]]:
        """Every blob reachable from an image, with the images that reach it: derived, never stored."""
        used: dict[str, set[str]] = {}
        for image_id, manifest in self.conn.execute("SELECT id, manifest_digest FROM images"):
            used.setdefault(image_id, set()).add(image_id)
            used.setdefault(manifest, set()).add(image_id)
        for image_id, blob in self.conn.execute(
            "SELECT il.image_id, l.blob_digest FROM image_layers il JOIN layers l ON l.diff_id = il.diff_id"
        ):
            used.setdefault(blob, set()).add(image_id)
        for image_id, blob in self.conn.execute("SELECT image_id, digest FROM extra_blobs"):
            used.setdefault(blob, set()).add(image_id)
        for image_id, blob in self.conn.execute(
            "SELECT il.image_id, f.blob_digest FROM image_layers il JOIN layer_forms f ON f.diff_id = il.diff_id"
        ):
            used.setdefault(blob, set()).add(image_id)
        for (blob,) in self.conn.execute(
            "SELECT l.blob_digest FROM build_cache c JOIN layers l ON l.diff_id = c.diff_id"
        ):
            used.setdefault(blob, set()).add(BUILD_CACHE)
        for blob, image_id in self.conn.execute("SELECT digest, image_id FROM manifests WHERE image_id IS NOT NULL"):
            used.setdefault(blob, set()).add(image_id)
        for blob, image_id in self.conn.execute(
            "SELECT t.manifest_digest, t.image_id FROM tags t JOIN manifests m ON m.digest = t.manifest_digest "
            "WHERE m.image_id IS NULL UNION SELECT r.digest, r.image_id FROM repo_digests r "
            "JOIN manifests m ON m.digest = r.digest WHERE m.image_id IS NULL"
        ):
            used.setdefault(blob, set()).add(image_id)
        return used

    # --- manifests and indexes ---------------------------------------------------------------------------

    def manifest(self, digest: str) -> tuple[str, str | None] | None:
        """(media type, image ID or None for an index) of a kept manifest."""
        r = self.conn.execute("SELECT media_type, image_id FROM manifests WHERE digest = ?", (digest,)).fetchone()
        return (r[0], r[1]) if r else None

    def manifests_of(self, image_id: str) -> list[tuple[str, str]]:
        """(digest, media type) of every manifest kept for ``image_id``, the first received first."""
        return list(
            self.conn.execute("SELECT digest, media_type FROM manifests WHERE image_id = ? ORDER BY rowid", (image_id,))
        )

    def index_children(self, digest: str) -> list[tuple[str, str, str]]:
        """(child digest, media type, platform text) of a kept index, in its order."""
        return list(
            self.conn.execute(
                "SELECT child_digest, media_type, platform FROM index_children WHERE index_digest = ? "
                "ORDER BY position",
                (digest,),
            )
        )

    def tag_manifest(self, repository: str, tag: str) -> str | None:
        """The manifest or index digest a tag was pulled, loaded or created with."""
        r = self.conn.execute(
            "SELECT COALESCE(t.manifest_digest, i.manifest_digest) FROM tags t JOIN images i ON i.id = t.image_id "
            "WHERE t.repository = ? AND t.tag = ?",
            (repository, tag),
        ).fetchone()
        return r[0] if r else None

    def held_by_indexes(self) -> set[str]:
        """Images that a tagged (or digest-referenced) index holds as one of its platforms: not dangling."""
        rows = self.conn.execute(
            "SELECT DISTINCT m.image_id FROM index_children c JOIN manifests m ON m.digest = c.child_digest "
            "WHERE m.image_id IS NOT NULL AND (c.index_digest IN (SELECT manifest_digest FROM tags) "
            "OR c.index_digest IN (SELECT digest FROM repo_digests))"
        )
        return {r[0] for r in rows}

    def index_images(self, index_digest: str) -> list[str]:
        """The images present for the children of an index, in its order."""
        rows = self.conn.execute(
            "SELECT m.image_id FROM index_children c JOIN manifests m ON m.digest = c.child_digest "
            "WHERE c.index_digest = ? AND m.image_id IS NOT NULL ORDER BY c.position",
            (index_digest,),
        )
        return [r[0] for r in rows]

    # --- writes ------------------------------------------------------------------------------------------

    def record(
        self,
        images: list[NewImage],
        *,
        layers: list[LayerRow],
        tags: list[tuple[str, str]],
        repo_digests: list[tuple[str, str]],
        index: IndexRecord | None,
        preferred: list[str],
        added: str,
    ) -> tuple[str, list[tuple[str, str, str]]]:
        """Record what an ingest brought, in one transaction: its layers (a diff_id already recorded keeps the
        blob it has: one copy per diff_id, the first writer's), its images and their manifests, the index they came
        with, and their names.

        A name points at the index when there is one (else at the last image's manifest) and, in Docker's view, at
        the image shown for it: among the index's platforms present, the first of ``preferred`` (this host's
        platforms), else the first in index order. Returns the image shown and the tags that moved: (repository,
        tag, previous image ID).
        """
        moved: list[tuple[str, str, str]] = []
        with self.write() as db:
            db.executemany(
                "INSERT OR IGNORE INTO layers (diff_id, blob_digest, media_type, compressed_size, size, content_size) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(r.diff_id, r.blob_digest, r.media_type, r.compressed_size, r.size, r.content_size) for r in layers],
            )
            for image in images:
                self._record_image(db, image)
            target, shown = images[-1].manifest_digest, images[-1].image_id
            if index is not None:
                self._insert_index(db, index)
                target, shown = index.digest, self._shown_image(db, index.digest, preferred) or shown
            for repository, tag in tags:
                old = db.execute(
                    "SELECT image_id FROM tags WHERE repository = ? AND tag = ?", (repository, tag)
                ).fetchone()
                if old and old[0] != shown:
                    moved.append((repository, tag, old[0]))
                db.execute(
                    "INSERT OR REPLACE INTO tags (repository, tag, image_id, manifest_digest) VALUES (?, ?, ?, ?)",
                    (repository, tag, shown, target),
                )
            for repository, digest in repo_digests:
                db.execute(
                    "INSERT OR REPLACE INTO repo_digests (repository, digest, image_id) VALUES (?, ?, ?)",
                    (repository, digest, shown),
                )
        return shown, moved

    @staticmethod
    def _record_image(db: sqlite3.Connection, image: NewImage) -> None:
        sizes = []
        for diff_id in image.diff_ids:
            row = db.execute("SELECT COALESCE(content_size, size) FROM layers WHERE diff_id = ?", (diff_id,)).fetchone()
            if row is None:
                raise StoreError(f"layer {diff_id} vanished during ingest; retry")
            sizes.append(row[0])
        if not db.execute("SELECT 1 FROM images WHERE id = ?", (image.image_id,)).fetchone():
            db.execute(
                "INSERT INTO images (id, manifest_digest, manifest_type, created, size, architecture, os, "
                "variant, added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    image.image_id,
                    image.manifest_digest,
                    image.manifest_type,
                    image.created,
                    sum(sizes),
                    image.architecture,
                    image.os,
                    image.variant,
                    image.added,
                ),
            )
            db.executemany(
                "INSERT INTO image_layers (image_id, position, diff_id) VALUES (?, ?, ?)",
                [(image.image_id, i, d) for i, d in enumerate(image.diff_ids)],
            )
        db.execute(
            "INSERT OR IGNORE INTO manifests (digest, media_type, image_id) VALUES (?, ?, ?)",
            (image.manifest_digest, image.manifest_type, image.image_id),
        )

    @staticmethod
    def _shown_image(db: sqlite3.Connection, index_digest: str, preferred: list[str]) -> str | None:
        present = list(
            db.execute(
                "SELECT c.platform, m.image_id FROM index_children c JOIN manifests m ON m.digest = c.child_digest "
                "WHERE c.index_digest = ? AND m.image_id IS NOT NULL ORDER BY c.position",
                (index_digest,),
            )
        )
        for platform in preferred:
            for child_platform, image_id in present:
                if child_platform == platform:
                    return str(image_id)
        return str(present[0][1]) if present else None

    def register_index(self, index: IndexRecord) -> None:
        """Keep an index (bytes already stored) and its children's list; no names change."""
        with self.write() as db:
            self._insert_index(db, index)

    @staticmethod
    def _insert_index(db: sqlite3.Connection, index: IndexRecord) -> None:
        db.execute(
            "INSERT OR IGNORE INTO manifests (digest, media_type, image_id) VALUES (?, ?, NULL)",
            (index.digest, index.media_type),
        )
        db.executemany(
            "INSERT OR IGNORE INTO index_children (index_digest, position, child_digest, media_type, platform) "
            "VALUES (?, ?, ?, ?, ?)",
            [(index.digest, i, c, m, p) for i, (c, m, p) in enumerate(index.children)],
        )

    def unregistered_extra_blobs(self) -> list[str]:
        """Blobs kept before schema 3 beside images (index bytes) that are not registered as manifests yet."""
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT DISTINCT digest FROM extra_blobs WHERE digest NOT IN (SELECT digest FROM manifests)"
            )
        ]

    def set_tag(self, repository: str, tag: str, image_id: str, manifest_digest: str | None) -> bool:
        """Point a tag at an image (and the manifest or index it names); False when the image is gone."""
        with self.write() as db:
            if not db.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone():
                return False
            db.execute(
                "INSERT OR REPLACE INTO tags (repository, tag, image_id, manifest_digest) VALUES (?, ?, ?, ?)",
                (repository, tag, image_id, manifest_digest),
            )
        return True

    def add_repo_digest(self, repository: str, digest: str, image_id: str) -> bool:
        """Record ``repository@digest`` as a name of ``image_id``; False when the image is gone."""
        with self.write() as db:
            if not db.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone():
                return False
            db.execute(
                "INSERT OR REPLACE INTO repo_digests (repository, digest, image_id) VALUES (?, ?, ?)",
                (repository, digest, image_id),
            )
        return True

    def keep_manifest(self, digest: str, media_type: str, image_id: str) -> None:
        """Remember another manifest of an image (e.g. the one a push wrote)."""
        with self.write() as db:
            db.execute(
                "INSERT OR IGNORE INTO manifests (digest, media_type, image_id) SELECT ?, ?, id FROM images "
                "WHERE id = ?",
                (digest, media_type, image_id),
            )

    def layer_forms(self, diff_id: str) -> list[tuple[str, str, int]]:
        """(blob digest, media type, size) of the other forms kept of a layer (compressed copies for pushes)."""
        return list(
            self.conn.execute(
                "SELECT blob_digest, media_type, size FROM layer_forms WHERE diff_id = ? ORDER BY media_type",
                (diff_id,),
            )
        )

    def add_layer_form(self, diff_id: str, blob_digest: str, media_type: str, size: int) -> None:
        with self.write() as db:
            db.execute(
                "INSERT OR REPLACE INTO layer_forms (diff_id, blob_digest, media_type, size) VALUES (?, ?, ?, ?)",
                (diff_id, blob_digest, media_type, size),
            )

    def drop_layer_forms(self, db: sqlite3.Connection, *, all_forms: bool) -> None:
        """Forget layer forms: those of layers no image uses, or (``all_forms``: ``image prune``) every one."""
        if all_forms:
            db.execute("DELETE FROM layer_forms")
        else:
            db.execute("DELETE FROM layer_forms WHERE diff_id NOT IN (SELECT diff_id FROM image_layers)")

    # --- deletes (inside the caller's write transaction) -------------------------------------------------

    def untag(self, repository: str, tag: str, image_id: str) -> None:
        """Remove a tag of ``image_id`` (never the same name if it has meanwhile moved to another image)."""
        self.conn.execute(
            "DELETE FROM tags WHERE repository = ? AND tag = ? AND image_id = ?", (repository, tag, image_id)
        )

    def remove_repo_digest(self, repository: str, digest: str, image_id: str) -> None:
        self.conn.execute(
            "DELETE FROM repo_digests WHERE repository = ? AND digest = ? AND image_id = ?",
            (repository, digest, image_id),
        )

    def is_named(self, image_id: str) -> bool:
        """Whether a tag, a repository digest or a container names ``image_id``."""
        row = self.conn.execute(
            "SELECT 1 FROM tags WHERE image_id = ? UNION SELECT 1 FROM repo_digests WHERE image_id = ? "
            "UNION SELECT 1 FROM containers WHERE image_id = ?",
            (image_id, image_id, image_id),
        ).fetchone()
        return row is not None

    def layer_stacks(self) -> dict[str, list[str]]:
        """Every image's diff_ids, in order."""
        stacks: dict[str, list[str]] = {}
        for image_id, diff in self.conn.execute(
            "SELECT image_id, diff_id FROM image_layers ORDER BY image_id, position"
        ):
            stacks.setdefault(image_id, []).append(diff)
        return stacks

    def delete_image(self, image_id: str) -> None:
        """Remove an image's rows (its manifests go with it) and the layer records no image uses any more."""
        self.conn.execute("DELETE FROM extra_blobs WHERE image_id = ?", (image_id,))
        self.conn.execute("DELETE FROM image_layers WHERE image_id = ?", (image_id,))
        self.conn.execute("DELETE FROM images WHERE id = ?", (image_id,))
        self.forget_unused_layers()

    def forget_unused_layers(self) -> None:
        self.conn.execute(
            "DELETE FROM layers WHERE diff_id NOT IN (SELECT diff_id FROM image_layers) "
            "AND diff_id NOT IN (SELECT diff_id FROM build_cache WHERE diff_id IS NOT NULL)"
        )

    # --- build cache -------------------------------------------------------------------------------------

    def cache_step(self, key: str, now: str) -> CacheRow | None:
        """The build step recorded under ``key`` (its last use set to ``now``), or None."""
        with self.write() as db:
            row = db.execute(
                "SELECT key, diff_id, created_by, description, created, last_used, usage_count + 1 FROM build_cache "
                "WHERE key = ?",
                (key,),
            ).fetchone()
            if row is None:
                return None
            db.execute("UPDATE build_cache SET last_used = ?, usage_count = usage_count + 1 WHERE key = ?", (now, key))
        return CacheRow(*row)

    def record_step(self, row: CacheRow, layer: LayerRow | None) -> None:
        """A build step and the layer it made (kept once per diff_id, the first writer's blob), in one transaction."""
        with self.write() as db:
            if layer is not None:
                db.execute(
                    "INSERT OR IGNORE INTO layers "
                    "(diff_id, blob_digest, media_type, compressed_size, size, content_size) VALUES (?, ?, ?, ?, ?, ?)",
                    (layer.diff_id, layer.blob_digest, layer.media_type, layer.compressed_size, layer.size,
                     layer.content_size),
                )  # fmt: skip
            db.execute(
                "INSERT OR REPLACE INTO build_cache "
                "(key, diff_id, created_by, description, created, last_used, usage_count) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (row.key, row.diff_id, row.created_by, row.description, row.created, row.last_used, row.usage_count),
            )

    def cache_steps(self) -> list[CacheRow]:
        return [
            CacheRow(*r)
            for r in self.conn.execute(
                "SELECT key, diff_id, created_by, description, created, last_used, usage_count FROM build_cache "
                "ORDER BY last_used"
            )
        ]

    def forget_unused_steps(self, db: sqlite3.Connection, *, all_steps: bool) -> int:
        """Drop the build steps whose layer no image uses (and steps without a layer), or every step; returns how
        many (inside the caller's transaction)."""
        if all_steps:
            return int(db.execute("DELETE FROM build_cache").rowcount)
        return int(
            db.execute(
                "DELETE FROM build_cache WHERE diff_id IS NULL OR diff_id NOT IN (SELECT diff_id FROM image_layers)"
            ).rowcount
        )

    def forget_steps(self, db: sqlite3.Connection, keys: Iterable[str]) -> None:
        """Drop build steps (inside the caller's transaction); their layers go with the next collection."""
        db.executemany("DELETE FROM build_cache WHERE key = ?", [(k,) for k in keys])

    def integrity_problem(self) -> str | None:
        """SQLite's own check of the database file: None when it is sound."""
        result = str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])
        return None if result == "ok" else result

    def rows_without_image(self) -> dict[str, int]:
        """How many tags, repository digests and containers point at images that do not exist."""
        out = {}
        for table in ("tags", "repo_digests", "containers"):
            count = self.conn.execute(
                f"SELECT COUNT(*) FROM {table} WHERE image_id NOT IN (SELECT id FROM images)"
            ).fetchone()[0]
            if count:
                out[table] = int(count)
        return out

    def forget_unheld_indexes(self, db: sqlite3.Connection) -> None:
        """Drop indexes no tag or repository digest names any more (inside the caller's transaction)."""
        db.execute(
            "DELETE FROM manifests WHERE image_id IS NULL "
            "AND digest NOT IN (SELECT manifest_digest FROM tags WHERE manifest_digest IS NOT NULL) "
            "AND digest NOT IN (SELECT digest FROM repo_digests)"
        )
