"""The store's on-disk layout, computed in one place.

ROOT/
  blobs/sha256/<hex>     every blob (manifests, configs, layers) once, content-addressed
  tmp/                   ingest in progress; never read as content (emptied by a writer alone in the store)
  uploads/<id>           resumable blob uploads (BlobStorage.writer), kept across processes until purged
  metadata.db            SQLite (WAL): images, layers, tags, repo digests, containers
  vuln.db                SQLite (WAL): the offline OSV vulnerability database (scan/vuln/db.py)
  gc.lock                flock: shared while ingesting, exclusive while deleting blobs
  cache/                 derived data, rebuildable, safe to delete (cache/sbom/: the scanner's SBOM cache)
  build/                 builds: snapshots/<diff_id> (layers unpacked for overlayfs), work/ (a running build's
                         mounts and runtime state; what a killed build left is cleaned by the next one)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dockyard.oci.digest import Digest

DEFAULT_ROOT = "~/.local/share/dockyard"


def default_root() -> Path:
    env = os.environ.get("DOCKYARD_ROOT")
    return Path(env if env else DEFAULT_ROOT).expanduser()


@dataclass(frozen=True, slots=True)
class StorePaths:
    root: Path

    @property
    def blobs(self) -> Path:
        return self.root / "blobs"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    @property
    def db(self) -> Path:
        return self.root / "metadata.db"

    @property
    def vuln_db(self) -> Path:
        return self.root / "vuln.db"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def build(self) -> Path:
        return self.root / "build"

    @property
    def gc_lock(self) -> Path:
        return self.root / "gc.lock"

    def blob(self, digest: Digest) -> Path:
        return self.blobs / digest.algorithm / digest.hex
