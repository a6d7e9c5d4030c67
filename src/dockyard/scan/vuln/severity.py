"""A finding's severity, and which source gave it.

In order: the distribution's own rating (Debian's ``ecosystem_specific.urgency`` of the matched entry, Ubuntu's
``Ubuntu`` severity), then a CVSS v4 vector, then a CVSS v3 vector (scored with the ``cvss`` package: >= 9
Critical, >= 7 High, >= 4 Medium, > 0 Low) — from the records of the finding first, then from records of its
aliases present in the database — then ``database_specific.severity``, else Unknown.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


class Severity(enum.Enum):
    CRITICAL = "Critical"
    HIGH = "High"
    MEDIUM = "Medium"
    LOW = "Low"
    UNKNOWN = "Unknown"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def letter(self) -> str:
        return self.value[0]


_RANK = {Severity.CRITICAL: 4, Severity.HIGH: 3, Severity.MEDIUM: 2, Severity.LOW: 1, Severity.UNKNOWN: 0}


class SeveritySource(enum.Enum):
    DISTRIBUTION = "distribution"
    CVSS_V4 = "cvss_v4"
    CVSS_V3 = "cvss_v3"
    DATABASE = "database_specific"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Rating:
    severity: Severity
    source: SeveritySource
    score: float | None = None  # the CVSS base score, when one is known
    vector: str = ""
    record: str = ""  # the id of the record the rating came from


_URGENCY = {"unimportant": Severity.LOW, "low": Severity.LOW, "medium": Severity.MEDIUM, "high": Severity.HIGH}
_UBUNTU = {
    "negligible": Severity.LOW,
    "low": Severity.LOW,
    "medium": Severity.MEDIUM,
    "high": Severity.HIGH,
    "critical": Severity.CRITICAL,
}
_WORDS = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "important": Severity.HIGH,
    "moderate": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "negligible": Severity.LOW,
    "unimportant": Severity.LOW,
}


def from_score(score: float) -> Severity:
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    if score > 0.0:
        return Severity.LOW
    return Severity.UNKNOWN


def cvss_score(kind: str, vector: str) -> float | None:
    """The base score of a CVSS v3 or v4 vector, or None when the vector does not parse."""
    try:
        if kind == "CVSS_V4":
            from cvss import CVSS4  # type: ignore[import-untyped]

            return float(CVSS4(vector).base_score)
        if kind == "CVSS_V3":
            from cvss import CVSS3

            return float(CVSS3(vector).scores()[0])
    except Exception:  # the cvss package raises its own CVSSError, and ValueError/KeyError on odd vectors
        return None
    return None


def distribution_rating(entry: Mapping[str, Any], record: Mapping[str, Any]) -> Rating | None:
    """The distribution's own rating in the matched affected entry (Debian urgency) or record (Ubuntu)."""
    rid = str(record.get("id", ""))
    specific = entry.get("ecosystem_specific")
    if isinstance(specific, dict):
        urgency = specific.get("urgency")
        if isinstance(urgency, str):
            sev = _URGENCY.get(urgency.strip().lower().rstrip("*"))
            if sev is not None:
                return Rating(sev, SeveritySource.DISTRIBUTION, record=rid)
    for sev_entry in _severities(entry, record):
        if sev_entry.get("type") == "Ubuntu":
            sev = _UBUNTU.get(str(sev_entry.get("score", "")).lower())
            if sev is not None:
                return Rating(sev, SeveritySource.DISTRIBUTION, record=rid)
    return None


def _severities(entry: Mapping[str, Any] | None, record: Mapping[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for holder in (entry, record):
        if holder is not None:
            found.extend(s for s in (holder.get("severity") or ()) if isinstance(s, dict))
    return found


def cvss_rating(records: Iterable[tuple[Mapping[str, Any] | None, Mapping[str, Any]]]) -> Rating | None:
    """The first CVSS v4, else the first CVSS v3 rating among (entry, record) pairs, in order."""
    pairs = list(records)
    for kind, source in (("CVSS_V4", SeveritySource.CVSS_V4), ("CVSS_V3", SeveritySource.CVSS_V3)):
        for entry, record in pairs:
            for sev in _severities(entry, record):
                if sev.get("type") == kind:
                    score = cvss_score(kind, str(sev.get("score", "")))
                    if score is not None:
                        rid = str(record.get("id", ""))
                        return Rating(from_score(score), source, score, str(sev["score"]), rid)
    return None


def database_rating(records: Iterable[Mapping[str, Any]]) -> Rating | None:
    for record in records:
        specific = record.get("database_specific")
        if isinstance(specific, dict) and isinstance(specific.get("severity"), str):
            sev = _WORDS.get(specific["severity"].strip().lower())
            if sev is not None:
                return Rating(sev, SeveritySource.DATABASE, record=str(record.get("id", "")))
    return None


def rate(primary: list[tuple[Mapping[str, Any], Mapping[str, Any]]], aliases: list[Mapping[str, Any]]) -> Rating:
    """The rating of one finding: ``primary`` are its (matched entry, record) pairs, distribution's first;
    ``aliases`` the records of its aliases found in the database."""
    for entry, record in primary:
        rating = distribution_rating(entry, record)
        if rating is not None:
            cvss = cvss_rating([*primary, *((None, a) for a in aliases)])
            if cvss is not None:
                return Rating(rating.severity, rating.source, cvss.score, cvss.vector, rating.record)
            return rating
    pairs: list[tuple[Mapping[str, Any] | None, Mapping[str, Any]]] = [*primary, *((None, a) for a in aliases)]
    rating = cvss_rating(pairs)
    if rating is not None:
        return rating
    rating = database_rating([r for _, r in primary] + aliases)
    if rating is not None:
        return rating
    return Rating(Severity.UNKNOWN, SeveritySource.NONE)


__all__ = ["Rating", "Severity", "SeveritySource", "cvss_score", "from_score", "rate"]
