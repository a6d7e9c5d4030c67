"""Match installed packages against the OSV database: one :class:`Finding` per (package, vulnerability).

The rules, each with its test in ``tests/unit/scan/vuln/test_match.py``:

1. A record whose ``withdrawn`` time has passed is skipped (a future ``withdrawn`` still counts). The ecosystem's
   base name must match; when both the package and the record carry a release (``Debian:12``, ``Alpine:v3.19``),
   the releases must be equal.
2. Packages are looked up by :attr:`Package.match_name` / :attr:`Package.match_version` (Debian and Ubuntu: the
   source package and its version; Alpine: the origin), PyPI names PEP 503-normalised, and compared in the
   ecosystem's version order (:mod:`.versions`).
3. A version is affected when it is listed in ``versions[]`` or falls in an ``ECOSYSTEM`` or ``SEMVER`` range.
   A range's events are sorted by version (``introduced: "0"`` lowest; a stable sort) and walked: ``introduced``
   starts an affected stretch, ``fixed`` (exclusive) and ``last_affected`` (inclusive) end it — so with several
   ends after one start, the lowest wins. ``GIT`` ranges are ignored. A range with a version that does not parse is
   skipped with a warning, and only ``versions[]`` is used.
4. A stretch with no ``fixed`` end is *unfixed*: the finding has no fixed version (``ignore_unfixed`` drops it).
5. Severity: see :mod:`.severity`.
6. Findings of one package that are the same vulnerability — one record's id is another's alias, or both name the
   same single CVE (``DEBIAN-CVE-2023-4911`` and ``CVE-2023-4911``) — are merged into one: the distribution's record
   gives the id, range and fix; the other ids become aliases. An advisory naming several CVEs (a DSA) stays a
   finding of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dockyard.scan.package import OS, Package
from dockyard.scan.vuln.db import Record, VulnDB, normalise_name, parse_time, split_ecosystem
from dockyard.scan.vuln.severity import Rating, Severity, SeveritySource, rate
from dockyard.scan.vuln.versions import SEMVER, InvalidVersion, Parse, order_for

#: ecosystems whose records are a distribution's own (preferred when findings merge)
DISTRIBUTIONS = frozenset(
    {"Debian", "Ubuntu", "Alpine", "AlmaLinux", "Rocky Linux", "Red Hat", "SUSE", "openSUSE", "Wolfi"}
)
_CVE = re.compile(r"^CVE-\d{4}-\d+$")


@dataclass(frozen=True, slots=True)
class Finding:
    """One vulnerability of one installed package."""

    package: Package
    id: str
    aliases: tuple[str, ...]
    severity: Severity
    severity_source: SeveritySource
    cvss_score: float | None
    affected_range: str  # e.g. "<2.6.0-r0", ">=0.9.13, <1.2.3-r4", "<=4.2.0", ">=0" (no fix), "=21.0.0"
    fixed_version: str | None  # None: no fix known (unfixed)
    summary: str
    url: str
    cvss_vector: str = ""
    severity_record: str = ""  # the record the severity came from

    @property
    def fixed(self) -> bool:
        return self.fixed_version is not None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (the reports' ``--format json``): the package by name, version and purl."""
        return {
            "package": {
                "name": self.package.name,
                "version": self.package.version,
                "purl": self.package.purl,
                "ecosystem": self.package.ecosystem,
                "source": self.package.match_name,
                "source_version": self.package.match_version,
            },
            "id": self.id,
            "aliases": list(self.aliases),
            "severity": self.severity.value,
            "severity_source": self.severity_source.value,
            "severity_record": self.severity_record,
            "cvss_score": self.cvss_score,
            "cvss_vector": self.cvss_vector,
            "affected_range": self.affected_range,
            "fixed_version": self.fixed_version,
            "summary": self.summary,
            "url": self.url,
        }


@dataclass(frozen=True, slots=True)
class MatchResult:
    findings: list[Finding]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Hit:
    record: Record
    entry: Mapping[str, Any]
    affected_range: str
    fixed: str | None


@dataclass(frozen=True, slots=True)
class _Event:
    kind: str  # introduced, fixed, last_affected, limit
    text: str
    key: Any  # None for introduced "0"


class _Warnings:
    def __init__(self, sink: Callable[[str], None] | None) -> None:
        self.seen: dict[str, None] = {}
        self.sink = sink

    def __call__(self, message: str) -> None:
        if message not in self.seen:
            self.seen[message] = None
            if self.sink is not None:
                self.sink(message)


def _parse_events(rng: Mapping[str, Any], order: Parse) -> list[_Event]:
    """The range's events sorted by version ("0" lowest, stable); raises InvalidVersion."""
    zero: list[_Event] = []
    rest: list[_Event] = []
    for ev in rng.get("events") or ():
        for kind in ("introduced", "fixed", "last_affected", "limit"):
            if kind in ev:
                text = str(ev[kind])
                if kind == "introduced" and text == "0":
                    zero.append(_Event(kind, text, None))
                else:
                    rest.append(_Event(kind, text, order(text)))
                break
    return zero + sorted(rest, key=lambda e: e.key)


def _walk(events: Sequence[_Event], v: Any) -> tuple[str, str | None] | None:
    """(range text, fixed version or None) when ``v`` is affected by these sorted events, else None."""
    affected = False
    start = -1
    for i, ev in enumerate(events):
        if ev.kind == "introduced":
            if ev.key is None or v >= ev.key:
                affected, start = True, i
        elif ev.kind in ("fixed", "limit"):
            if v >= ev.key:
                affected = False
        elif ev.kind == "last_affected" and v > ev.key:
            affected = False
    if not affected:
        return None
    intro = events[start].text
    lower = f">={intro}" if intro != "0" else ""
    for ev in events[start + 1 :]:
        if ev.kind == "introduced":
            continue
        if ev.kind == "fixed":
            return (f"{lower}, <{ev.text}" if lower else f"<{ev.text}"), ev.text
        if ev.kind == "last_affected":
            return (f"{lower}, <={ev.text}" if lower else f"<={ev.text}"), None
        return (f"{lower}, <{ev.text}" if lower else f"<{ev.text}"), None  # limit: an end, not a fix
    return (lower or ">=0"), None


def _evaluate(
    entry: Mapping[str, Any], version: str, parsed: Any, order: Parse | None, rid: str, warn: Callable[[str], None]
) -> tuple[str, str | None] | None:
    """Whether the entry affects ``version``: (range text, fixed version or None), or None."""
    fixed_events: list[str] = []
    for rng in entry.get("ranges") or ():
        kind = rng.get("type")
        if kind not in ("ECOSYSTEM", "SEMVER"):
            continue  # GIT: commits, not package versions
        fixed_events += [str(e["fixed"]) for e in rng.get("events") or () if "fixed" in e]
        rng_order = SEMVER if kind == "SEMVER" else order
        if rng_order is None:
            continue
        try:
            events = _parse_events(rng, rng_order)
        except InvalidVersion as exc:
            warn(f"{rid}: {kind} range skipped, {exc}")
            continue
        v = parsed
        if kind == "SEMVER" and rng_order is not order:
            try:
                v = SEMVER(version)
            except InvalidVersion:
                v = None
        if v is None:
            continue
        hit = _walk(events, v)
        if hit is not None:
            return hit
    listed = [str(x) for x in entry.get("versions") or ()]
    if version in listed or (parsed is not None and order is not None and any(_same(order, x, parsed) for x in listed)):
        return f"={version}", (fixed_events[0] if len(set(fixed_events)) == 1 else None)
    return None


def _same(order: Parse, text: str, parsed: Any) -> bool:
    try:
        return bool(order(text) == parsed)
    except InvalidVersion:
        return False


def _identity(record: Mapping[str, Any]) -> str:
    """The vulnerability a record is about: its one CVE when it names exactly one, else its own id."""
    cves = {i for i in _idents(record) if _CVE.match(i)}
    return cves.pop() if len(cves) == 1 else str(record["id"])


def _idents(record: Mapping[str, Any]) -> set[str]:
    others = [*(record.get("aliases") or ()), *(record.get("upstream") or ())]
    return {str(record["id"]), *(str(i) for i in others)}


def _group(hits: list[_Hit]) -> list[list[_Hit]]:
    """Hits of one package that are the same vulnerability, by union-find."""
    parent = list(range(len(hits)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_identity: dict[str, int] = {}
    by_id = {h.record.id: i for i, h in enumerate(hits)}
    for i, h in enumerate(hits):
        ident = _identity(h.record.data)
        if ident in by_identity:
            parent[find(i)] = find(by_identity[ident])
        else:
            by_identity[ident] = i
        for alias in h.record.data.get("aliases") or ():
            j = by_id.get(str(alias))
            if j is not None:
                parent[find(i)] = find(j)
    groups: dict[int, list[_Hit]] = {}
    for i, h in enumerate(hits):
        groups.setdefault(find(i), []).append(h)
    return list(groups.values())


def _preference(hit: _Hit) -> tuple[int, int, str]:
    """The distribution's own record first (one for its release before one for the whole distribution), then the
    most specific record (fewest ids), then by id."""
    base, release = split_ecosystem(str(hit.entry.get("package", {}).get("ecosystem", "")))
    rank = (0 if release else 1) if base in DISTRIBUTIONS else 2
    return (rank, len(_idents(hit.record.data)), hit.record.id)


def _link(record: Mapping[str, Any]) -> str:
    for ref in record.get("references") or ():
        if ref.get("type") == "ADVISORY" and isinstance(ref.get("url"), str):
            return str(ref["url"])
    return f"https://osv.dev/vulnerability/{record['id']}"


def _summary(record: Mapping[str, Any]) -> str:
    text = record.get("summary") or (record.get("details") or "").strip().splitlines()[:1]
    if isinstance(text, list):
        text = text[0] if text else ""
    return str(text).strip()


def _finding(package: Package, group: list[_Hit], db: VulnDB) -> Finding:
    group = sorted(group, key=_preference)
    primary = group[0]
    idents: set[str] = set()
    for h in group:
        idents |= _idents(h.record.data)
    in_group = {h.record.id for h in group}
    alias_records: list[Mapping[str, Any]] = [r.data for r in db.related(idents) if r.id not in in_group]
    rating: Rating = rate([(h.entry, h.record.data) for h in group], alias_records)
    return Finding(
        package=package,
        id=primary.record.id,
        aliases=tuple(sorted(idents - {primary.record.id})),
        severity=rating.severity,
        severity_source=rating.source,
        cvss_score=rating.score,
        affected_range=primary.affected_range,
        fixed_version=primary.fixed,
        summary=_summary(primary.record.data) or next((s for h in group if (s := _summary(h.record.data))), ""),
        url=_link(primary.record.data),
        cvss_vector=rating.vector,
        severity_record=rating.record,
    )


def _withdrawn(record: Mapping[str, Any], now: datetime) -> bool:
    when = record.get("withdrawn")
    if not isinstance(when, str):
        return False
    try:
        return parse_time(when) <= now
    except ValueError:
        return False


def _package_ecosystem(package: Package, os: OS | None) -> str:
    eco = package.ecosystem
    if os is not None and ":" not in eco and ":" in os.ecosystem and os.ecosystem.split(":", 1)[0] == eco:
        return os.ecosystem
    return eco


def match_packages(
    packages: Iterable[Package],
    os: OS | None,
    db: VulnDB,
    *,
    ignore_unfixed: bool = False,
    now: datetime | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> MatchResult:
    """Every finding for ``packages``, with the warnings met on the way (each once)."""
    now = now or datetime.now(UTC)
    warn = _Warnings(on_warning)
    findings: list[Finding] = []
    for package in packages:
        ecosystem = _package_ecosystem(package, os)
        base, release = split_ecosystem(ecosystem)
        name, version = package.match_name, package.match_version
        order = order_for(base)
        parsed: Any = None
        if order is None:
            warn(f"ecosystem {base!r}: no version order; only exact versions[] entries are matched")
        else:
            try:
                parsed = order(version)
            except InvalidVersion:
                warn(f"{name} {version}: not a valid {base} version; only exact versions[] entries are matched")
        hits: list[_Hit] = []
        wanted = normalise_name(base, name)
        for record in db.candidates(base, name):
            data = record.data
            if _withdrawn(data, now):
                continue
            for entry in data.get("affected") or ():
                pkg = entry.get("package") or {}
                r_base, r_release = split_ecosystem(str(pkg.get("ecosystem", "")))
                if r_base != base or (release and r_release and release != r_release):
                    continue
                if normalise_name(r_base, str(pkg.get("name", ""))) != wanted:
                    continue
                hit = _evaluate(entry, version, parsed, order, record.id, warn)
                if hit is not None:
                    hits.append(_Hit(record, entry, hit[0], hit[1]))
                    break
        for group in _group(hits):
            finding = _finding(package, group, db)
            if ignore_unfixed and finding.fixed_version is None:
                continue
            findings.append(finding)
    findings.sort(key=lambda f: (f.package.name, f.package.version, -f.severity.rank, f.id))
    return MatchResult(findings, list(warn.seen))


def match(
    packages: Iterable[Package],
    os: OS | None,
    db: VulnDB,
    *,
    ignore_unfixed: bool = False,
    now: datetime | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> list[Finding]:
    """The findings for ``packages`` (warnings go to ``on_warning``, each once)."""
    return match_packages(packages, os, db, ignore_unfixed=ignore_unfixed, now=now, on_warning=on_warning).findings


__all__ = ["DISTRIBUTIONS", "Finding", "MatchResult", "match", "match_packages"]
