"""SQLite metadata: the roots (images, tags, repo digests, containers) and the layer catalogue.

What a blob is used by is never stored as a counter: it is derived from these rows (see ``referenced_blobs``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import StoreError

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,               -- image ID: the config digest
    manifest_digest TEXT NOT NULL,     -- the manifest kept for this image (as received, or synthesised)
    manifest_type TEXT NOT NULL,
    created TEXT,                      -- from the config
    size INTEGER NOT NULL,             -- uncompressed bytes of all layers, as Docker's SIZE
    architecture TEXT NOT NULL DEFAULT '',
    os TEXT NOT NULL DEFAULT '',
    variant TEXT NOT NULL DEFAULT '',
    added TEXT NOT NULL                -- when it entered this store
);
CREATE TABLE IF NOT EXISTS image_layers (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    diff_id TEXT NOT NULL,
    PRIMARY KEY (image_id, position)
);
CREATE INDEX IF NOT EXISTS image_layers_diff ON image_layers(diff_id);
CREATE TABLE IF NOT EXISTS layers (
    diff_id TEXT PRIMARY KEY,          -- content hash of the uncompressed tar
    blob_digest TEXT NOT NULL,         -- the one blob kept for that content
    media_type TEXT NOT NULL,
    compressed_size INTEGER NOT NULL,
    size INTEGER NOT NULL,             -- length of the uncompressed tar
    content_size INTEGER               -- Docker's SIZE: file bytes + symlink targets (NULL: unknown, use size)
);
CREATE TABLE IF NOT EXISTS tags (
    repository TEXT NOT NULL,          -- normalised: docker.io/library/alpine
    tag TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images(id),
    PRIMARY KEY (repository, tag)
);
CREATE INDEX IF NOT EXISTS tags_image ON tags(image_id);
CREATE TABLE IF NOT EXISTS repo_digests (
    repository TEXT NOT NULL,
    digest TEXT NOT NULL,              -- the manifest (or index) digest that was pulled
    image_id TEXT NOT NULL REFERENCES images(id),
    PRIMARY KEY (repository, digest)
);
CREATE INDEX IF NOT EXISTS repo_digests_image ON repo_digests(image_id);
CREATE TABLE IF NOT EXISTS extra_blobs (  -- blobs an image keeps besides its own (e.g. the index it was pulled by)
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    digest TEXT NOT NULL,
    PRIMARY KEY (image_id, digest)
);
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    image_id TEXT NOT NULL REFERENCES images(id),
    image_ref TEXT NOT NULL,
    created TEXT NOT NULL
);
"""


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


@dataclass(frozen=True, slots=True)
class ContainerRow:
    id: str
    name: str
    image_id: str
    image_ref: str
    created: str


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
                version = self.conn.execute("PRAGMA user_version").fetchone()[0]
                if version == 0:
                    for stmt in _SCHEMA.split(";"):
                        if stmt.strip():
                            self.conn.execute(stmt)
                elif version == 1:
                    self.conn.execute("ALTER TABLE layers ADD COLUMN content_size INTEGER")
                self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
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
        rows = self.conn.execute("SELECT id, name, image_id, image_ref, created FROM containers ORDER BY created")
        return [ContainerRow(*r) for r in rows]

    def containers_of(self, image_id: str) -> list[ContainerRow]:
        rows = self.conn.execute(
            "SELECT id, name, image_id, image_ref, created FROM containers WHERE image_id = ? ORDER BY created",
            (image_id,),
        )
        return [ContainerRow(*r) for r in rows]

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
        return used
