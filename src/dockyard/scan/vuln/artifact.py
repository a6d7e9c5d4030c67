"""The OSV database as an OCI artifact in a registry (``dockyard db push REF`` / ``db pull REF``), so that a team
pins one digest of the database its scans use, as Trivy's and Grype's databases are shipped.

The artifact is an OCI image manifest with ``artifactType`` :data:`ARTIFACT_TYPE`, the empty config
(``application/vnd.oci.empty.v1+json``, ``{}``) and one layer: a consistent snapshot of ``vuln.db`` (SQLite's
backup API), zstd-compressed. A pull verifies the layer's digest and size, checks that the snapshot is a
database of this kind, and only then replaces the local one in one rename: a failed pull leaves it as it was.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from dockyard.errors import InvalidManifest
from dockyard.image.transfer import RawManifest, put_blobs
from dockyard.oci import mediatype
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest, DigestHasher
from dockyard.oci.reference import Reference
from dockyard.scan.vuln.db import VulnDB, VulnDBError

if TYPE_CHECKING:
    from dockyard.transport.registry.client import RegistryClient

ARTIFACT_TYPE = "application/vnd.dockyard.osv.db.v1"
LAYER_TYPE = "application/vnd.dockyard.osv.db.v1.sqlite3+zstd"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY = b"{}"
#: A database snapshot larger than this (uncompressed) is refused on pull (a decompression bomb).
MAX_DB_SIZE = 8 << 30

PULL_KIND = ".vuln.db.pull-"  # a pull in progress, beside vuln.db


@dataclass(frozen=True, slots=True)
class Moved:
    ref: Reference
    digest: Digest  # the artifact's manifest digest
    records: int
    size: int  # compressed bytes of the database layer


def _snapshot(db_path: Path, out: Path) -> int:
    """A consistent copy of the database at ``db_path`` (other processes may be writing), and its record count."""
    with VulnDB(db_path) as db:
        records = db.count()
    src = sqlite3.connect(db_path)
    dst = sqlite3.connect(out)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()
        src.close()
    return records


def push(db_path: Path, client: RegistryClient, ref: Reference) -> Moved:
    """Put the database at ``db_path`` into ``ref``'s repository as an artifact, tagged (or by digest)."""
    from dockyard.layers.compression import Compression, compress
    from dockyard.transport.remote import RegistryDestination

    if not db_path.exists():
        raise VulnDBError(f"no vulnerability database at {db_path}: run `dockyard db import` first")
    with tempfile.TemporaryDirectory(prefix="dockyard-osvdb-") as tmp:
        plain = Path(tmp) / "vuln.db"
        records = _snapshot(db_path, plain)
        packed = Path(tmp) / "vuln.db.zst"
        hasher = DigestHasher()
        with open(plain, "rb") as src, open(packed, "wb") as raw:

            class _Hashing:
                def write(self, data: bytes) -> int:
                    hasher.update(data)
                    return raw.write(data)

            compress(src, _Hashing(), Compression.ZSTD)  # type: ignore[arg-type]
        layer = Descriptor(LAYER_TYPE, hasher.digest(), packed.stat().st_size, annotations={
            "org.opencontainers.image.title": "vuln.db.zst"
        })  # fmt: skip
        config = Descriptor(EMPTY_TYPE, Digest.of(EMPTY), len(EMPTY))
        dest = RegistryDestination(client, ref.path)

        def open_layer() -> BinaryIO:
            return open(packed, "rb")

        put_blobs(dest, [(layer, None, open_layer), (config, None, lambda: io.BytesIO(EMPTY))], max_concurrent=1)
        created = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": mediatype.OCI_MANIFEST,
            "artifactType": ARTIFACT_TYPE,
            "config": config.to_json(),
            "layers": [layer.to_json()],
            "annotations": {
                "org.opencontainers.image.created": created,
                "dev.dockyard.osv.records": str(records),
            },
        }
        raw_manifest = json.dumps(manifest, separators=(",", ":")).encode()
        where = ref.tag if ref.tag is not None else (str(ref.digest) if ref.digest is not None else "latest")
        digest = dest.put_manifest(RawManifest(raw_manifest, mediatype.OCI_MANIFEST), reference=where)
        return Moved(ref, digest, records, layer.size)


def pull(client: RegistryClient, ref: Reference, db_path: Path) -> Moved:
    """Fetch the artifact ``ref`` names and make it the database at ``db_path`` (atomically)."""
    from dockyard.layers.compression import open_decompressed
    from dockyard.transport.remote import RegistrySource

    source = RegistrySource(client, ref.with_default_tag() if ref.digest is None else ref)
    top = source.top()
    try:
        doc = json.loads(top.data)
        layers = [Descriptor.from_json(d, "layer") for d in doc.get("layers", [])]
    except (ValueError, InvalidManifest, AttributeError):
        raise InvalidManifest(f"{ref.familiar()} is not a dockyard vulnerability database") from None
    if doc.get("artifactType") != ARTIFACT_TYPE or len(layers) != 1 or layers[0].media_type != LAYER_TYPE:
        kind = doc.get("artifactType") or (doc.get("config") or {}).get("mediaType") or top.media_type
        raise InvalidManifest(f"{ref.familiar()} is not a dockyard vulnerability database (it is {kind})")
    layer = layers[0]
    db_path.parent.mkdir(parents=True, exist_ok=True)
    from dockyard.atomicfile import owned_prefix, sweep_dead

    sweep_dead(db_path.parent, PULL_KIND)
    fd, name = tempfile.mkstemp(dir=db_path.parent, prefix=owned_prefix(PULL_KIND))
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, source.open_blob(layer) as blob:  # verified: digest and size
            stream = open_decompressed(blob)
            written = 0
            while chunk := stream.read(1 << 20):
                written += len(chunk)
                if written > MAX_DB_SIZE:
                    raise VulnDBError(f"{ref.familiar()}: the database is larger than {MAX_DB_SIZE} bytes")
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        try:
            with VulnDB(tmp) as db:
                records = db.count()
        except (VulnDBError, sqlite3.Error) as exc:
            raise VulnDBError(f"{ref.familiar()}: not a vulnerability database: {exc}") from None
        for suffix in ("-wal", "-shm"):
            Path(str(db_path) + suffix).unlink(missing_ok=True)
        os.replace(tmp, db_path)
    finally:
        tmp.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(tmp) + suffix).unlink(missing_ok=True)
    return Moved(ref, source.top_digest, records, layer.size)


__all__ = ["ARTIFACT_TYPE", "LAYER_TYPE", "Moved", "pull", "push"]
