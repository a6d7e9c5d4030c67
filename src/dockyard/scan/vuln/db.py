"""The offline OSV database: SQLite in the store's root (``vuln.db``), records indexed by (ecosystem, package).

Tables (only this module speaks SQL to this file):

    records(id, modified, withdrawn, data)        the raw OSV JSON of each record, byte for byte as imported,
                                                  zlib-compressed (a third of the size; 20 µs to read back)
    affected(record_id, ecosystem, release, name) one row per affected package: ecosystem base (``Debian``),
                                                  release (``12``, ``v3.19``, or ''), package name (PyPI names
                                                  PEP 503-normalised); index (ecosystem, name)
    ids(ident, record_id)                         the record's aliases and upstream ids, to find a CVE's other
                                                  records (severity from aliases)
    imports(ecosystem, imported_at, source)       when each ecosystem was last imported, and from what

An import is one transaction: a killed import leaves the database as it was (SQLite's journal rolls it back).
A record replaces the stored one of the same id only when its ``modified`` time is newer.
"""

from __future__ import annotations

import json
import re
import sqlite3
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dockyard.errors import DockyardError
from dockyard.scan.vuln.schema import problems

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    modified TEXT NOT NULL,
    withdrawn TEXT,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS affected (
    record_id TEXT NOT NULL,
    ecosystem TEXT NOT NULL,
    release TEXT NOT NULL,
    name TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS affected_package ON affected (ecosystem, name);
CREATE INDEX IF NOT EXISTS affected_record ON affected (record_id);
CREATE TABLE IF NOT EXISTS ids (
    ident TEXT NOT NULL,
    record_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ids_ident ON ids (ident);
CREATE INDEX IF NOT EXISTS ids_record ON ids (record_id);
CREATE TABLE IF NOT EXISTS imports (
    ecosystem TEXT PRIMARY KEY,
    imported_at TEXT NOT NULL,
    source TEXT NOT NULL
);
"""

_PEP503 = re.compile(r"[-_.]+")


class VulnDBError(DockyardError):
    """The vulnerability database cannot be read or written."""


def normalise_name(ecosystem: str, name: str) -> str:
    """The name packages are looked up by: PEP 503 for PyPI, as given elsewhere."""
    if ecosystem.split(":", 1)[0] == "PyPI":
        return _PEP503.sub("-", name).lower()
    return name


def split_ecosystem(ecosystem: str) -> tuple[str, str]:
    """``Debian:12`` -> (``Debian``, ``12``); ``Ubuntu:22.04:LTS`` -> (``Ubuntu``, ``22.04:LTS``);
    ``PyPI`` -> (``PyPI``, '')."""
    base, _, release = ecosystem.partition(":")
    return base, release


def parse_time(text: str) -> datetime:
    """An OSV timestamp (RFC 3339) as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))


@dataclass(frozen=True, slots=True)
class Record:
    """One stored OSV record: its id and its decoded JSON."""

    id: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Skipped:
    name: str  # the record's id, or where it came from when it has none
    source: str  # the file or zip member
    reason: str


@dataclass(slots=True)
class ImportResult:
    added: int = 0
    replaced: int = 0
    unchanged: int = 0  # same modified time as the stored record
    older: int = 0  # older than the stored record: ignored
    skipped: list[Skipped] = field(default_factory=list)  # failed the OSV schema or did not parse
    tolerated: list[Skipped] = field(default_factory=list)  # kept: schema errors only inside GIT ranges
    warnings: list[str] = field(default_factory=list)  # a path that is not OSV data at all
    ecosystems: dict[str, int] = field(default_factory=dict)  # records read per ecosystem base

    @property
    def read(self) -> int:
        return self.added + self.replaced + self.unchanged + self.older


@dataclass(frozen=True, slots=True)
class EcosystemStatus:
    ecosystem: str
    records: int
    imported_at: datetime | None
    source: str


def _iter_sources(path: Path, warn: Callable[[str], None]) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of each JSON document in an ``all.zip``, a folder of ``.json`` files, or one ``.json`` file."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.json") if p.is_file())
        if not files:
            warn(f"{path}: no .json files")
        for p in files:
            yield str(p), p.read_bytes()
        return
    if not path.exists():
        warn(f"{path}: no such file or directory")
        return
    if path.suffix == ".json":
        yield str(path), path.read_bytes()
        return
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        warn(f"{path}: not an OSV zip ({exc})")
        return
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir() and m.filename.endswith(".json")]
        if not members:
            warn(f"{path}: no .json records in the zip")
        for m in members:
            try:
                data = zf.read(m)
            except (zipfile.BadZipFile, OSError, ValueError) as exc:
                warn(f"{path}: {m.filename}: unreadable ({exc})")
                continue
            yield f"{path}:{m.filename}", data


class _Batch:
    """Rows waiting to be written with one ``executemany`` per table."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.records: list[tuple[str, str, str | None, bytes]] = []
        self.affected: list[tuple[str, str, str, str]] = []
        self.ids: list[tuple[str, str]] = []

    def flush(self) -> None:
        self.conn.executemany("INSERT INTO records (id, modified, withdrawn, data) VALUES (?, ?, ?, ?)", self.records)
        self.conn.executemany("INSERT INTO affected VALUES (?, ?, ?, ?)", self.affected)
        self.conn.executemany("INSERT INTO ids VALUES (?, ?)", self.ids)
        self.records.clear()
        self.affected.clear()
        self.ids.clear()


class VulnDB:
    """The SQLite OSV database at ``path``; created on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=10000")
            self._conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise VulnDBError(f"vulnerability database {path}: {exc}") from None
        self._cache: dict[str, Record] = {}

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> VulnDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- import ----------------------------------------------------------------------------------------------

    def import_paths(
        self, paths: Iterable[Path], *, source: str | None = None, on_record: Callable[[int], None] | None = None
    ) -> ImportResult:
        """Import ``all.zip`` files, folders of OSV JSON and single records, all in one transaction."""
        result = ImportResult()
        conn = self._conn
        self._cache.clear()
        try:
            conn.execute("BEGIN IMMEDIATE")
            stored = {rid: parse_time(mod) for rid, mod in conn.execute("SELECT id, modified FROM records")}
            batch = _Batch(conn)
            sources: dict[str, list[str]] = {}
            for path in paths:
                for name, raw in _iter_sources(path, result.warnings.append):
                    before = set(result.ecosystems)
                    self._import_one(name, raw, stored, result, batch)
                    for eco in set(result.ecosystems) - before:
                        sources.setdefault(eco, []).append(str(path))
                    if len(batch.records) >= 2000:
                        batch.flush()
                    if on_record is not None:
                        on_record(result.read + len(result.skipped))
            batch.flush()
            now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            conn.executemany(
                "INSERT OR REPLACE INTO imports (ecosystem, imported_at, source) VALUES (?, ?, ?)",
                [(eco, now, source or ", ".join(sources.get(eco, []))) for eco in result.ecosystems],
            )
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise VulnDBError(f"vulnerability database {self.path}: {exc}; nothing was imported") from None
            raise
        return result

    def _import_one(
        self, name: str, raw: bytes, stored: dict[str, datetime], result: ImportResult, batch: _Batch
    ) -> None:
        try:
            record = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            result.skipped.append(Skipped(Path(name.rsplit(":", 1)[-1]).name, name, f"not JSON: {exc}"))
            return
        rid = record.get("id") if isinstance(record, dict) else None
        label = rid if isinstance(rid, str) else Path(name.rsplit(":", 1)[-1]).name
        found = problems(record)
        if found and not all(p.git_only for p in found):
            result.skipped.append(Skipped(label, name, "; ".join(str(p) for p in found[:3])))
            return
        if found:
            result.tolerated.append(Skipped(label, name, "; ".join(str(p) for p in found[:3])))
        assert isinstance(rid, str)
        modified = parse_time(record["modified"])
        rows = []
        for entry in record.get("affected") or ():
            pkg = entry.get("package")
            if not pkg:
                continue
            base, release = split_ecosystem(pkg["ecosystem"])
            rows.append((rid, base, release, normalise_name(base, pkg["name"])))
            result.ecosystems[base] = result.ecosystems.get(base, 0) + 1
        old = stored.get(rid)
        if old is not None:
            if modified < old:
                result.older += 1
                return
            if modified == old:
                result.unchanged += 1
                return
            batch.flush()  # the same id may be pending from earlier in this import
            self._conn.execute("DELETE FROM records WHERE id = ?", (rid,))
            self._conn.execute("DELETE FROM affected WHERE record_id = ?", (rid,))
            self._conn.execute("DELETE FROM ids WHERE record_id = ?", (rid,))
            result.replaced += 1
        else:
            result.added += 1
        stored[rid] = modified
        batch.records.append((rid, record["modified"], record.get("withdrawn"), zlib.compress(raw, 1)))
        batch.affected.extend(dict.fromkeys(rows))
        idents = {i for key in ("aliases", "upstream") for i in (record.get(key) or ()) if i != rid}
        batch.ids.extend((i, rid) for i in sorted(idents))

    # --- lookup ----------------------------------------------------------------------------------------------

    def _load(self, rows: Iterable[tuple[str, bytes]]) -> list[Record]:
        out = []
        for rid, data in rows:
            rec = self._cache.get(rid)
            if rec is None:
                rec = Record(rid, json.loads(zlib.decompress(data)))
                self._cache[rid] = rec
            out.append(rec)
        return out

    def candidates(self, ecosystem: str, name: str) -> list[Record]:
        """The records with an affected entry for package ``name`` in ecosystem ``ecosystem``'s base name."""
        base, _ = split_ecosystem(ecosystem)
        cur = self._conn.execute(
            "SELECT DISTINCT r.id, r.data FROM affected a JOIN records r ON r.id = a.record_id "
            "WHERE a.ecosystem = ? AND a.name = ? ORDER BY r.id",
            (base, normalise_name(base, name)),
        )
        return self._load(cur.fetchall())

    def related(self, idents: Iterable[str]) -> list[Record]:
        """Records that are one of ``idents`` or name one of them as an alias or upstream id."""
        wanted = sorted(set(idents))
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        cur = self._conn.execute(
            f"SELECT id, data FROM records WHERE id IN ({marks}) "
            f"UNION SELECT r.id, r.data FROM ids i JOIN records r ON r.id = i.record_id WHERE i.ident IN ({marks}) "
            "ORDER BY 1",
            wanted + wanted,
        )
        return self._load(cur.fetchall())

    def get(self, record_id: str) -> Record | None:
        rows = self._conn.execute("SELECT id, data FROM records WHERE id = ?", (record_id,)).fetchall()
        found = self._load(rows)
        return found[0] if found else None

    # --- status ----------------------------------------------------------------------------------------------

    def count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM records").fetchone()[0])

    def status(self) -> list[EcosystemStatus]:
        """Records per ecosystem base name, with the time and source of its last import."""
        counts = dict(
            self._conn.execute("SELECT ecosystem, COUNT(DISTINCT record_id) FROM affected GROUP BY ecosystem")
        )
        imports = {eco: (at, src) for eco, at, src in self._conn.execute("SELECT * FROM imports")}
        out = []
        for eco in sorted(set(counts) | set(imports), key=str.lower):
            at, src = imports.get(eco, (None, ""))
            out.append(EcosystemStatus(eco, int(counts.get(eco, 0)), parse_time(at) if at else None, src))
        return out

    def ecosystems(self) -> list[str]:
        return [s.ecosystem for s in self.status()]


__all__ = [
    "EcosystemStatus",
    "ImportResult",
    "Record",
    "Skipped",
    "VulnDB",
    "VulnDBError",
    "normalise_name",
    "parse_time",
    "split_ecosystem",
]


def default_path(root: Path | None = None) -> Path:
    """Where the store at ``root`` (default: ``$DOCKYARD_ROOT`` or ~/.local/share/dockyard) keeps ``vuln.db``."""
    from dockyard.store.paths import StorePaths, default_root

    return StorePaths(root or default_root()).vuln_db
