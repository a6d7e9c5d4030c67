"""A writer of Trivy's vulnerability DB (``db/trivy.db`` + ``db/metadata.json``) from OSV records, in stdlib Python.

Trivy's database is a bbolt file. The on-disk format written here (from ``etcd-io/bbolt``'s ``page.go``, ``meta``,
``bucket.go``): 4 KiB pages; page 0 and 1 are meta pages (magic ``0xED0CDAED``, version 2, page size, the root
bucket's page, the freelist page, the high-water page id, a txid and an FNV-64a checksum of the meta's first 56 bytes);
page 2 an empty freelist; then every bucket is a B+tree of leaf pages (``flags=0x02``, 16-byte elements
``flags,pos,ksize,vsize``) under branch pages (``flags=0x01``, 16-byte elements ``pos,ksize,pgid``) when it does not
fit one page. A nested bucket is a leaf element with flag ``0x01`` whose value is its 16-byte header
``(root pgid, sequence)``; a small bucket without nested buckets is inline, as bbolt writes it: root 0 and its
leaf page (with ``id`` 0) right after the header, in the value. A single element larger than a page is written as
one page with ``overflow`` pages.

The bucket layout (from ``aquasecurity/trivy-db``'s ``pkg/db`` and ``pkg/vulnsrc/osv``): a root bucket per data
source (``pip::Python Packaging Advisory Database``, ``debian 12``, ``alpine 3.19``), in it a bucket per package
(the normalised PyPI name; the Debian/Alpine *source* package), in it vulnerability ID -> advisory JSON
(``{"VulnerableVersions": [...], "PatchedVersions": [...]}`` for language packages, ``{"FixedVersion": "..."}`` or
``{"Status": 2}`` (affected, unfixed) for OS packages); ``vulnerability``: ID -> details JSON; ``data-source``:
source bucket name -> ``{"ID", "Name", "URL"}``. :func:`read_db` re-reads the file (the re-read check).

The OSV -> advisory conversion follows trivy-db's ``parseAffectedVersions`` for PyPI: each ``introduced`` opens a
range, ``fixed``/``last_affected`` set its end *in the record's order* (so the last of several ``last_affected``
events wins, where the OSV rules take the lowest), ``versions[]`` not in a range are added as ``=V``. For Debian and
Alpine, Trivy compares one ``FixedVersion`` per (package, ID) as the distributions' own trackers give it: the
``fixed`` event of the record's ECOSYSTEM range, none = unfixed. Keys are the OSV record IDs (trivy-db re-keys by CVE
alias; the records' own IDs keep the comparison with dockyard one-to-one).
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Union

PAGE = 4096
MAGIC = 0xED0CDAED
_HDR = struct.Struct("<QHHI")  # id, flags, count, overflow
_LEAF = struct.Struct("<IIII")  # flags, pos, ksize, vsize
_BRANCH = struct.Struct("<IIQ")  # pos, ksize, pgid
_META = struct.Struct("<IIIIQQQQQ")  # magic, version, pageSize, flags, root(root, seq), freelist, pgid, txid
BRANCH_PAGE, LEAF_PAGE, META_PAGE, FREELIST_PAGE = 0x01, 0x02, 0x04, 0x10
BUCKET_LEAF = 0x01

Tree = dict[bytes, Union[bytes, "Tree"]]


def _fnv64a(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


class _File:
    def __init__(self) -> None:
        self.pages: list[bytes] = []
        self.next = 3  # 0, 1: meta; 2: freelist

    def page(self, flags: int, count: int, body: bytes) -> int:
        pgid = self.next
        size = _HDR.size + len(body)
        n = max(1, -(-size // PAGE))
        self.pages.append(_HDR.pack(pgid, flags, count, n - 1) + body + b"\0" * (n * PAGE - size))
        self.next += n
        return pgid

    def node(self, items: list[tuple[bytes, bytes, int]]) -> int:
        """A B+tree of ``(key, value, flags)`` (sorted by key) -> its root page."""
        chunks: list[list[tuple[bytes, bytes, int]]] = [[]]
        size = _HDR.size
        for item in items:
            need = _LEAF.size + len(item[0]) + len(item[1])
            if chunks[-1] and size + need > PAGE:
                chunks.append([])
                size = _HDR.size
            chunks[-1].append(item)
            size += need
        level = [(chunk[0][0] if chunk else b"", self._leaf(chunk)) for chunk in chunks]
        while len(level) > 1:
            groups: list[list[tuple[bytes, int]]] = [[]]
            size = _HDR.size
            for key, pgid in level:
                need = _BRANCH.size + len(key)
                if groups[-1] and size + need > PAGE:
                    groups.append([])
                    size = _HDR.size
                groups[-1].append((key, pgid))
                size += need
            level = [(group[0][0], self._branch(group)) for group in groups]
        return level[0][1]

    def _leaf(self, items: list[tuple[bytes, bytes, int]]) -> int:
        return self.page(LEAF_PAGE, len(items), _leaf_body(items))

    def _branch(self, items: list[tuple[bytes, int]]) -> int:
        heads, data = bytearray(), bytearray()
        base = len(items) * _BRANCH.size
        for i, (k, pgid) in enumerate(items):
            heads += _BRANCH.pack(base + len(data) - i * _BRANCH.size, len(k), pgid)
            data += k
        return self.page(BRANCH_PAGE, len(items), bytes(heads + data))

    def bucket(self, tree: Tree) -> bytes:
        """The bucket's header value: inline (root 0, then its leaf page) when small and flat, as bbolt does."""
        items = []
        for key in sorted(tree):
            value = tree[key]
            if isinstance(value, dict):
                items.append((key, self.bucket(value), BUCKET_LEAF))
            else:
                items.append((key, value, 0))
        if all(flags == 0 for _, _, flags in items):
            body = _leaf_body(items)
            if _HDR.size + len(body) <= PAGE // 4:
                return struct.pack("<QQ", 0, 0) + _HDR.pack(0, LEAF_PAGE, len(items), 0) + body
        return struct.pack("<QQ", self.node(items), 0)


def _leaf_body(items: list[tuple[bytes, bytes, int]]) -> bytes:
    heads, data = bytearray(), bytearray()
    base = len(items) * _LEAF.size
    for i, (k, v, flags) in enumerate(items):
        heads += _LEAF.pack(flags, base + len(data) - i * _LEAF.size, len(k), len(v))
        data += k + v
    return bytes(heads + data)


def write_bolt(path: Path, tree: Tree) -> None:
    """Write ``tree`` (bucket name -> bucket; inside, key -> bytes or a nested bucket) as a bbolt file."""
    f = _File()
    root = f.node(
        [(k, f.bucket(v), BUCKET_LEAF) if isinstance(v, dict) else (k, v, 0) for k, v in sorted(tree.items())]
    )
    metas = []
    for pgid, txid in ((0, 1), (1, 2)):
        fields = _META.pack(MAGIC, 2, PAGE, 0, root, 0, 2, f.next, txid)
        meta = fields + struct.pack("<Q", _fnv64a(fields))
        metas.append(_HDR.pack(pgid, META_PAGE, 0, 0) + meta + b"\0" * (PAGE - _HDR.size - len(meta)))
    freelist = _HDR.pack(2, FREELIST_PAGE, 0, 0) + b"\0" * (PAGE - _HDR.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        out.write(b"".join(metas) + freelist)
        for page in f.pages:
            out.write(page)


def read_bolt(path: Path) -> Tree:
    """Read a bbolt file written by :func:`write_bolt` (or by bbolt: any meta, leaf, branch, inline bucket)."""
    data = path.read_bytes()
    best = None
    for pgid in (0, 1):
        off = pgid * PAGE + _HDR.size
        fields = data[off : off + _META.size]
        (checksum,) = struct.unpack_from("<Q", data, off + _META.size)
        magic, version, page_size, _, root, _, _, _, txid = _META.unpack(fields)
        assert magic == MAGIC and version == 2 and checksum == _fnv64a(fields), f"meta page {pgid} is invalid"
        if best is None or txid > best[1]:
            best = (root, txid, page_size)
    assert best is not None
    return _read_tree(data, best[0] * best[2], best[2])


def _read_tree(data: bytes, off: int, page_size: int) -> Tree:
    out: Tree = {}
    _, flags, count, _ = _HDR.unpack_from(data, off)
    for i in range(count):
        e = off + _HDR.size + i * 16
        if flags & BRANCH_PAGE:
            _, _, child = _BRANCH.unpack_from(data, e)
            out.update(_read_tree(data, child * page_size, page_size))
            continue
        eflags, pos, ksize, vsize = _LEAF.unpack_from(data, e)
        key = data[e + pos : e + pos + ksize]
        value = data[e + pos + ksize : e + pos + ksize + vsize]
        if eflags & BUCKET_LEAF:
            (sub,) = struct.unpack_from("<Q", value)
            inline = value[16:]
            out[key] = _read_tree(inline, 0, page_size) if sub == 0 else _read_tree(data, sub * page_size, page_size)
        else:
            out[key] = value
    return out


# -- OSV records -> Trivy's buckets ---------------------------------------------------------------------------------

PIP_SOURCE = "pip::Python Packaging Advisory Database"
DATA_SOURCES = {
    "pip": {"ID": "osv", "Name": "Python Packaging Advisory Database", "URL": "https://github.com/pypa/advisory-db"},
    "debian": {
        "ID": "debian",
        "Name": "Debian Security Tracker",
        "URL": "https://salsa.debian.org/security-tracker-team/security-tracker",
    },
    "alpine": {"ID": "alpine", "Name": "Alpine Secdb", "URL": "https://secdb.alpinelinux.org/"},
}


def normalize_pypi(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pypi_advisory(affected: Mapping[str, Any]) -> dict[str, list[str]]:
    """trivy-db's ``parseAffectedVersions`` for PyPI (ranges as PEP 440 specifiers, in the record's event order)."""
    ranges: list[list[Any]] = []  # [from, to, to_included]
    patched: list[str] = []
    for rng in affected.get("ranges", []):
        if rng.get("type") == "GIT":
            continue
        index = 0
        for event in rng.get("events", []):
            if event.get("introduced"):
                ranges.append([event["introduced"], "", False])
                index = len(ranges) - 1
            elif event.get("fixed"):
                ranges[index][1:] = [event["fixed"], False]
                patched.append(event["fixed"])
            elif event.get("last_affected"):
                ranges[index][1:] = [event["last_affected"], True]
    vulnerable = []
    for start, end, included in ranges:
        if included and start == end:
            vulnerable.append(f"={start}")
        elif not end:
            vulnerable.append(f">={start}")
        else:
            bound = f"<={end}" if included else f"<{end}"
            vulnerable.append(bound if start == "0" else f">={start}, {bound}")
    # trivy-db adds the versions[] outside every range as "=V"; a version inside a range is redundant, so adding all
    # of them gives the same matches (Trivy ORs the constraints).
    vulnerable += [f"={v}" for v in affected.get("versions", [])]
    return {"VulnerableVersions": vulnerable, "PatchedVersions": patched}


def _os_advisory(affected: Mapping[str, Any]) -> dict[str, Any]:
    fixed = ""
    for rng in affected.get("ranges", []):
        if rng.get("type") == "ECOSYSTEM":
            for event in rng.get("events", []):
                fixed = event.get("fixed", fixed)
    return {"FixedVersion": fixed} if fixed else {"Status": 2}  # 2 = affected


def _severity(record: Mapping[str, Any]) -> str:
    urgency = ""
    for affected in record.get("affected", []):
        urgency = (affected.get("ecosystem_specific") or {}).get("urgency", urgency) or urgency
    return {"low": "LOW", "medium": "MEDIUM", "high": "HIGH", "unimportant": "LOW"}.get(urgency, "UNKNOWN")


def trivy_tree(records: Iterable[Mapping[str, Any]], now: datetime | None = None) -> Tree:
    """The bucket tree Trivy reads for these OSV records (PyPI, ``Debian:N``, ``Alpine:vX.Y``; others are skipped)."""
    now = now or datetime.now(UTC)
    sources: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    vulns: dict[str, dict[str, Any]] = {}
    for record in records:
        withdrawn = record.get("withdrawn")
        if withdrawn and datetime.fromisoformat(withdrawn.replace("Z", "+00:00")) <= now:
            continue
        for affected in record.get("affected", []):
            package = affected.get("package", {})
            ecosystem, name = package.get("ecosystem", ""), package.get("name", "")
            if ecosystem == "PyPI":
                bucket, pkg, adv = PIP_SOURCE, normalize_pypi(name), _pypi_advisory(affected)
                old = sources.get(bucket, {}).get(pkg, {}).get(record["id"])
                if old:  # the same package repeated with other ranges: trivy-db appends
                    adv = {k: old[k] + adv[k] for k in adv}
            elif ecosystem.startswith("Debian:"):
                bucket, pkg, adv = f"debian {ecosystem.split(':')[1]}", name, _os_advisory(affected)
            elif ecosystem.startswith("Alpine:v"):
                bucket, pkg, adv = f"alpine {ecosystem.split(':v')[1]}", name, _os_advisory(affected)
            else:
                continue
            sources.setdefault(bucket, {}).setdefault(pkg, {})[record["id"]] = adv
            vulns[record["id"]] = {
                "Title": record.get("summary", ""),
                "Description": record.get("details", ""),
                "Severity": _severity(record),
            }
    tree: Tree = {}
    data_source: Tree = {}
    for bucket, packages in sources.items():
        tree[bucket.encode()] = {
            pkg.encode(): {vid.encode(): json.dumps(adv).encode() for vid, adv in advs.items()}
            for pkg, advs in packages.items()
        }
        kind = bucket.split("::")[0].split(" ")[0]
        data_source[bucket.encode()] = json.dumps(DATA_SOURCES[kind]).encode()
    tree[b"data-source"] = data_source
    tree[b"vulnerability"] = {vid.encode(): json.dumps(v).encode() for vid, v in vulns.items()}
    return tree


def write_trivy_db(cache_dir: Path, records: Iterable[Mapping[str, Any]]) -> Tree:
    """Write ``cache_dir/db/trivy.db`` and ``metadata.json`` (schema 2, next update in a year); return the tree."""
    tree = trivy_tree(records)
    write_bolt(cache_dir / "db" / "trivy.db", tree)
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    metadata = {
        "Version": 2,
        "NextUpdate": (now + timedelta(days=365)).strftime(stamp),
        "UpdatedAt": now.strftime(stamp),
        "DownloadedAt": now.strftime(stamp),
    }
    (cache_dir / "db" / "metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
    return tree
