"""The OSV schema (ossf/osv-schema ``validation/schema.json``, JSON Schema 2020-12), checked by hand.

``jsonschema`` takes ~1.2 ms a record on this machine (150k records: three minutes); this check takes a few
microseconds and implements the same rules. ``tests/unit/scan/vuln/test_schema.py`` runs both on every real
record and on broken variants and requires the same verdict.

:func:`problems` returns the schema violations of one record, each with its JSON path. A violation inside a
``GIT`` range is marked ``git_only``: upstream PyPI records carry a few malformed commit ids there
(``PYSEC-2017-27``: ``<sha>.patch``), and since package matching never reads ``GIT`` ranges the importer keeps
such a record (and says so) rather than losing its ``ECOSYSTEM`` ranges.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_TOP = frozenset(
    {
        "schema_version", "id", "modified", "published", "withdrawn", "aliases", "related", "upstream", "summary",
        "details", "severity", "affected", "references", "credits", "database_specific",
    }
)  # fmt: skip
_ECOSYSTEMS = (
    "AlmaLinux|Alpaquita|Alpine|Android|Azure Linux|BellSoft Hardened Containers|Bioconductor|Bitnami|Chainguard|"
    "CleanStart|ConanCenter|CRAN|crates\\.io|Debian|Docker Hardened Images|Echo|FreeBSD|GHC|GitHub Actions|Go|"
    "Hackage|Hex|Julia|Kubernetes|Linux|Mageia|Maven|MinimOS|npm|NuGet|opam|openEuler|openSUSE|OSS-Fuzz|Packagist|"
    "Photon OS|Pub|PyPI|Red Hat|Rocky Linux|Root|RubyGems|SUSE|SwiftURL|TuxCare|Ubuntu|VSCode|Wolfi|GIT"
)
_ECOSYSTEM = re.compile(f"^({_ECOSYSTEMS})(:.+)?$", re.S)
_PREFIX = re.compile(
    r"^(x_|(ASB-A|PUB-A|ALPINE|ALSA|ALBA|ALEA|AZL|BELL|BIT|CGA|CLEANSTART|CLSA|CURL|CVE|DEBIAN|DHI|DRUPAL|DSA|DLA|"
    r"ELA|DTSA|ECHO|EEF|FreeBSD|GHSA|GO|GSD|HSEC|JLSEC|KUBE|LBSEC|LSN|MAL|MINI|MGASA|OESA|OSEC|OSV|openSUSE-SU|"
    r"PHSA|PSF|PYSEC|RHBA|RHEA|RHSA|RLSA|RXSA|RSEC|ROOT|RUSTSEC|SUSE-[SRFO]U|UBUNTU|USN|V8)-)"
)
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z")
_RFC3339 = re.compile(
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$"
)
_GIT_COMMIT = re.compile(r"^(0|[a-f0-9]{40}|[a-f0-9]{64})$")
_CVSS2 = re.compile(
    r"^((AV:[NAL]|AC:[LMH]|Au:[MSN]|[CIA]:[NPC]|E:(U|POC|F|H|ND)|RL:(OF|TF|W|U|ND)|RC:(UC|UR|C|ND)|CDP:(N|L|LM|MH|H|ND)"
    r"|TD:(N|L|M|H|ND)|[CIA]R:(L|M|H|ND))/)*(AV:[NAL]|AC:[LMH]|Au:[MSN]|[CIA]:[NPC]|E:(U|POC|F|H|ND)|RL:(OF|TF|W|U|ND)"
    r"|RC:(UC|UR|C|ND)|CDP:(N|L|LM|MH|H|ND)|TD:(N|L|M|H|ND)|[CIA]R:(L|M|H|ND))$"
)
_CVSS3_PART = (
    r"(AV:[NALP]|AC:[LH]|PR:[NLH]|UI:[NR]|S:[UC]|[CIA]:[NLH]|E:[XUPFH]|RL:[XOTWU]|RC:[XURC]|[CIA]R:[XLMH]|MAV:[XNALP]"
    r"|MAC:[XLH]|MPR:[XNLH]|MUI:[XNR]|MS:[XUC]|M[CIA]:[XNLH])"
)
_CVSS3 = re.compile(f"^CVSS:3[.][01]/({_CVSS3_PART}/)*{_CVSS3_PART}$")
_CVSS4 = re.compile(
    r"^CVSS:4[.]0/AV:[NALP]/AC:[LH]/AT:[NP]/PR:[NLH]/UI:[NPA]/VC:[HLN]/VI:[HLN]/VA:[HLN]/SC:[HLN]/SI:[HLN]/SA:[HLN]"
    r"(/E:[XAPU])?(/CR:[XHML])?(/IR:[XHML])?(/AR:[XHML])?(/MAV:[XNALP])?(/MAC:[XLH])?(/MAT:[XNP])?(/MPR:[XNLH])?"
    r"(/MUI:[XNPA])?(/MVC:[XNLH])?(/MVI:[XNLH])?(/MVA:[XNLH])?(/MSC:[XNLH])?(/MSI:[XNLHS])?(/MSA:[XNLHS])?(/S:[XNP])?"
    r"(/AU:[XNY])?(/R:[XAUI])?(/V:[XDC])?(/RE:[XLMH])?(/U:(X|Clear|Green|Amber|Red))?$"
)
_SEVERITY_TYPES = frozenset({"CVSS_V2", "CVSS_V3", "CVSS_V4", "Ubuntu"})
_UBUNTU = frozenset({"negligible", "low", "medium", "high", "critical"})
_RANGE_TYPES = frozenset({"GIT", "SEMVER", "ECOSYSTEM"})
_EVENT_KEYS = ("introduced", "fixed", "last_affected", "limit")
_REFERENCE_TYPES = frozenset(
    {"ADVISORY", "ARTICLE", "DETECTION", "DISCUSSION", "REPORT", "FIX", "INTRODUCED", "GIT", "PACKAGE", "EVIDENCE"}
    | {"WEB"}
)
_CREDIT_TYPES = frozenset(
    {
        "FINDER", "REPORTER", "ANALYST", "COORDINATOR", "REMEDIATION_DEVELOPER", "REMEDIATION_REVIEWER",
        "REMEDIATION_VERIFIER", "TOOL", "SPONSOR", "OTHER",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    message: str
    git_only: bool = False

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class _Check:
    def __init__(self) -> None:
        self.found: list[Problem] = []
        self.git = False

    def bad(self, path: str, message: str) -> None:
        self.found.append(Problem(path, message, self.git))

    def string(self, value: Any, path: str) -> bool:
        if not isinstance(value, str):
            self.bad(path, "not a string")
            return False
        return True

    def strings(self, value: Any, path: str, *, nullable: bool = False) -> None:
        if value is None and nullable:
            return
        if not isinstance(value, list):
            self.bad(path, "not an array")
            return
        for i, item in enumerate(value):
            self.string(item, f"{path}[{i}]")

    def obj(self, value: Any, path: str) -> bool:
        if not isinstance(value, dict):
            self.bad(path, "not an object")
            return False
        return True

    def timestamp(self, value: Any, path: str) -> None:
        if self.string(value, path) and (not _TIMESTAMP.search(value) or not _RFC3339.match(value)):
            self.bad(path, f"not an RFC 3339 UTC timestamp: {value!r}")

    def severity(self, value: Any, path: str) -> None:
        if value is None:
            return
        if not isinstance(value, list):
            self.bad(path, "not an array")
            return
        for i, sev in enumerate(value):
            p = f"{path}[{i}]"
            if not self.obj(sev, p):
                continue
            kind, score = sev.get("type"), sev.get("score")
            if "type" not in sev or "score" not in sev:
                self.bad(p, "needs type and score")
            if "type" in sev and kind not in _SEVERITY_TYPES:
                self.bad(f"{p}.type", f"unknown severity type {kind!r}")
            if "score" in sev and self.string(score, f"{p}.score"):
                pattern = {"CVSS_V2": _CVSS2, "CVSS_V3": _CVSS3, "CVSS_V4": _CVSS4}.get(kind) if kind else None
                if (pattern is not None and not pattern.match(score)) or (kind == "Ubuntu" and score not in _UBUNTU):
                    self.bad(f"{p}.score", f"not a valid {kind} score: {score!r}")

    def range(self, rng: Any, path: str) -> None:
        if not self.obj(rng, path):
            return
        kind = rng.get("type")
        self.git = kind == "GIT"
        try:
            if "type" not in rng or "events" not in rng:
                self.bad(path, "needs type and events")
            if "type" in rng and kind not in _RANGE_TYPES:
                self.bad(f"{path}.type", f"unknown range type {kind!r}")
            if "repo" in rng:
                self.string(rng["repo"], f"{path}.repo")
            elif kind == "GIT":
                self.bad(path, "a GIT range needs a repo")
            if "database_specific" in rng:
                self.obj(rng["database_specific"], f"{path}.database_specific")
            if "events" in rng:
                self.events(rng["events"], f"{path}.events", git=kind == "GIT")
        finally:
            self.git = False

    def events(self, events: Any, path: str, *, git: bool) -> None:
        if not isinstance(events, list):
            self.bad(path, "not an array")
            return
        if not events:
            self.bad(path, "no events")
        if not any(isinstance(e, dict) and "introduced" in e for e in events):
            self.bad(path, "no introduced event")
        has_fixed = has_last = False
        for i, event in enumerate(events):
            p = f"{path}[{i}]"
            if not self.obj(event, p):
                continue
            has_fixed = has_fixed or "fixed" in event
            has_last = has_last or "last_affected" in event
            kinds = [k for k in _EVENT_KEYS if isinstance(event.get(k), str)]
            if len(kinds) != 1:
                self.bad(p, "an event must have exactly one of introduced, fixed, last_affected, limit (a string)")
            elif git and sum(1 for k in kinds if _GIT_COMMIT.match(event[k])) != 1:
                self.bad(p, f"not a full-length commit hash: {event[kinds[0]]!r}")
        if has_fixed and has_last:
            self.bad(path, "fixed and last_affected events in one range")

    def affected(self, entry: Any, path: str, top_severity: bool) -> None:
        if not self.obj(entry, path):
            return
        if "package" in entry:
            pkg = entry["package"]
            p = f"{path}.package"
            if self.obj(pkg, p):
                if "ecosystem" not in pkg or "name" not in pkg:
                    self.bad(p, "needs ecosystem and name")
                eco = pkg.get("ecosystem")
                if "ecosystem" in pkg and self.string(eco, f"{p}.ecosystem") and not _ECOSYSTEM.match(eco):
                    self.bad(f"{p}.ecosystem", f"unknown ecosystem {eco!r}")
                if "name" in pkg:
                    self.string(pkg["name"], f"{p}.name")
                if "purl" in pkg:
                    self.string(pkg["purl"], f"{p}.purl")
        if "severity" in entry:
            self.severity(entry["severity"], f"{path}.severity")
            if top_severity and entry["severity"] is not None:
                self.bad(f"{path}.severity", "severity both at the top and in affected[]")
        if "ranges" in entry:
            if isinstance(entry["ranges"], list):
                for i, rng in enumerate(entry["ranges"]):
                    self.range(rng, f"{path}.ranges[{i}]")
            else:
                self.bad(f"{path}.ranges", "not an array")
        if "versions" in entry:
            self.strings(entry["versions"], f"{path}.versions")
        for key in ("ecosystem_specific", "database_specific"):
            if key in entry:
                self.obj(entry[key], f"{path}.{key}")


def problems(record: Any) -> list[Problem]:
    """The OSV schema violations of one decoded JSON record (empty when it is valid)."""
    c = _Check()
    if not c.obj(record, ""):
        return c.found
    for key in record:
        if key not in _TOP:
            c.bad(key, "unknown field")
    for key in ("id", "modified"):
        if key not in record:
            c.bad(key, "missing")
    if "id" in record and c.string(record["id"], "id") and not _PREFIX.match(record["id"]):
        c.bad("id", f"unknown id prefix: {record['id']!r}")
    for key in ("modified", "published", "withdrawn"):
        if key in record:
            c.timestamp(record[key], key)
    for key in ("schema_version", "summary", "details"):
        if key in record:
            c.string(record[key], key)
    if "aliases" in record:
        c.strings(record["aliases"], "aliases", nullable=True)
    for key in ("related", "upstream"):
        if key in record:
            c.strings(record[key], key)
    if "severity" in record:
        c.severity(record["severity"], "severity")
    if "database_specific" in record:
        c.obj(record["database_specific"], "database_specific")
    affected = record.get("affected")
    if affected is not None:
        if isinstance(affected, list):
            for i, entry in enumerate(affected):
                c.affected(entry, f"affected[{i}]", "severity" in record)
        else:
            c.bad("affected", "not an array")
    refs = record.get("references")
    if refs is not None:
        if isinstance(refs, list):
            for i, ref in enumerate(refs):
                p = f"references[{i}]"
                if c.obj(ref, p):
                    if "type" not in ref or "url" not in ref:
                        c.bad(p, "needs type and url")
                    if "type" in ref and ref["type"] not in _REFERENCE_TYPES:
                        c.bad(f"{p}.type", f"unknown reference type {ref['type']!r}")
                    if "url" in ref:
                        c.string(ref["url"], f"{p}.url")
        else:
            c.bad("references", "not an array")
    if "credits" in record:
        credits = record["credits"]
        if isinstance(credits, list):
            for i, credit in enumerate(credits):
                p = f"credits[{i}]"
                if c.obj(credit, p):
                    if "name" not in credit:
                        c.bad(p, "needs a name")
                    else:
                        c.string(credit["name"], f"{p}.name")
                    if "contact" in credit:
                        c.strings(credit["contact"], f"{p}.contact")
                    if "type" in credit and credit["type"] not in _CREDIT_TYPES:
                        c.bad(f"{p}.type", f"unknown credit type {credit['type']!r}")
        else:
            c.bad("credits", "not an array")
    return c.found


__all__ = ["Problem", "problems"]
