"""The metadata database's schema, its version, and the migrations from every older version.

The tables are the roots (images, tags, repository digests, containers), the layer catalogue (one kept blob per
diff_id, plus the compressed forms made for pushes), and the manifests and indexes kept by digest with the
children of each index. What a blob is used by is never stored: it is derived from these rows.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 5

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
    image_id TEXT NOT NULL REFERENCES images(id),  -- Docker's view: the platform image shown for the tag
    manifest_digest TEXT,              -- the manifest or index the tag was pulled, loaded or created with
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
CREATE TABLE IF NOT EXISTS manifests (  -- every manifest and index received, kept byte for byte as blobs
    digest TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    image_id TEXT REFERENCES images(id) ON DELETE CASCADE  -- the image of a manifest, NULL for an index
);
CREATE INDEX IF NOT EXISTS manifests_image ON manifests(image_id);
CREATE TABLE IF NOT EXISTS index_children (  -- the children an index lists, in order
    index_digest TEXT NOT NULL REFERENCES manifests(digest) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    child_digest TEXT NOT NULL,
    media_type TEXT NOT NULL,
    platform TEXT NOT NULL,            -- os/arch[/variant], '' when the descriptor has none
    PRIMARY KEY (index_digest, position)
);
CREATE TABLE IF NOT EXISTS layer_forms (  -- other forms of a layer, made for pushes (a compressed copy of a plain tar)
    diff_id TEXT NOT NULL,
    blob_digest TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (diff_id, media_type)
);
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    image_id TEXT NOT NULL REFERENCES images(id),
    image_ref TEXT NOT NULL,
    created TEXT NOT NULL,
    command TEXT NOT NULL DEFAULT ''   -- the image's Entrypoint + Cmd when it was created (COMMAND column)
);
CREATE TABLE IF NOT EXISTS build_cache (  -- build steps by BuildKit-style cache key, keeping their layers
    key TEXT PRIMARY KEY,
    diff_id TEXT,                      -- the layer the step made, NULL for a step that adds none
    created_by TEXT NOT NULL,          -- the step's history line
    description TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    last_used TEXT NOT NULL,
    usage_count INTEGER NOT NULL DEFAULT 1  -- builds that made or reused the step (system df -v's USAGE)
);
CREATE INDEX IF NOT EXISTS build_cache_diff ON build_cache(diff_id);
"""

#: Schema 4 -> 5: how many builds used a cached step.
_MIGRATE_4_TO_5 = "ALTER TABLE build_cache ADD COLUMN usage_count INTEGER NOT NULL DEFAULT 1"

#: Schema 3 -> 4: the build cache (created as it is now, so 4 -> 5 is not applied after it).
_BUILD_CACHE = _SCHEMA[_SCHEMA.index("CREATE TABLE IF NOT EXISTS build_cache") :]
_MIGRATE_3_TO_4 = tuple(stmt.strip() for stmt in _BUILD_CACHE.split(";") if stmt.strip())

#: Schema 2 -> 3: manifests and indexes kept by digest; a tag remembers its manifest or index; containers keep
#: their command. Existing tags point at their image's manifest; ``extra_blobs`` (index bytes kept before 3)
#: are registered as indexes by :meth:`dockyard.store.store.Store` on open (that needs the blobs).
_MIGRATE_2_TO_3 = (
    "ALTER TABLE tags ADD COLUMN manifest_digest TEXT",
    "ALTER TABLE containers ADD COLUMN command TEXT NOT NULL DEFAULT ''",
    """CREATE TABLE manifests (digest TEXT PRIMARY KEY, media_type TEXT NOT NULL,
        image_id TEXT REFERENCES images(id) ON DELETE CASCADE)""",
    "CREATE INDEX manifests_image ON manifests(image_id)",
    """CREATE TABLE index_children (index_digest TEXT NOT NULL REFERENCES manifests(digest) ON DELETE CASCADE,
        position INTEGER NOT NULL, child_digest TEXT NOT NULL, media_type TEXT NOT NULL, platform TEXT NOT NULL,
        PRIMARY KEY (index_digest, position))""",
    """CREATE TABLE layer_forms (diff_id TEXT NOT NULL, blob_digest TEXT NOT NULL, media_type TEXT NOT NULL,
        size INTEGER NOT NULL, PRIMARY KEY (diff_id, media_type))""",
    "INSERT OR IGNORE INTO manifests (digest, media_type, image_id) "
    "SELECT manifest_digest, manifest_type, id FROM images",
    "UPDATE tags SET manifest_digest = (SELECT manifest_digest FROM images WHERE images.id = tags.image_id)",
)


def migrate(conn: sqlite3.Connection, version: int) -> None:
    """Bring a database at ``version`` (0: new) to :data:`SCHEMA_VERSION`, inside the caller's transaction."""
    if version == 0:
        for stmt in _SCHEMA.split(";"):
            if stmt.strip():
                conn.execute(stmt)
    else:
        if version == 1:
            conn.execute("ALTER TABLE layers ADD COLUMN content_size INTEGER")
        if version <= 2:
            _migrate_to_3(conn)
        if version <= 3:
            for stmt in _MIGRATE_3_TO_4:
                conn.execute(stmt)
        if version == 4:
            conn.execute(_MIGRATE_4_TO_5)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _migrate_to_3(conn: sqlite3.Connection) -> None:
    columns = {table: {r[1] for r in conn.execute(f"PRAGMA table_info({table})")} for table in ("tags", "containers")}
    for stmt in _MIGRATE_2_TO_3:
        if stmt.startswith("ALTER TABLE"):
            table, column = stmt.split()[2], stmt.split()[5]
            if column in columns[table]:
                continue  # a store that already has it
        conn.execute(
            stmt.replace("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ").replace(
                "CREATE INDEX ", "CREATE INDEX IF NOT EXISTS "
            )
        )


__all__ = ["SCHEMA_VERSION", "migrate"]
