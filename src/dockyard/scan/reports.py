"""The scanner's machine-readable reports and Scout's ``recommendations``.

- :func:`to_sarif`: SARIF 2.1.0 as Trivy writes it — one run, tool ``dockyard``, a rule per vulnerability (its
  level from the severity, ``properties.security-severity`` the CVSS score as GitHub code scanning reads it) and a
  result per (package, vulnerability), located at the package's database file with its purl and layer.
- :func:`to_cyclonedx`: the image's CycloneDX 1.6 SBOM (the builder of :mod:`dockyard.scan.sbom.formats`) with
  the ``vulnerabilities`` section: ratings, the affected component and range, the fix to upgrade to, advisories.
- :func:`recommendations`: the other tags of the base image's repository in the store, each scanned, with its
  counts, size and the change against the current base — "what would a rebase give me", offline.

Rendering of text is the CLI's (``dockyard scout cves --format sarif|cyclonedx``, ``dockyard scout
recommendations``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from dockyard.errors import DockyardError, NotFound
from dockyard.scan.scout import LETTERS, SEVERITIES, ImageReport, counts, display_id

if TYPE_CHECKING:
    from dockyard.scan.vuln.db import VulnDB
    from dockyard.scan.vuln.match import Finding
    from dockyard.store.store import Store

SARIF_SCHEMA: Final = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI: Final = "https://github.com/dockyard/dockyard"

#: SARIF's level for each severity (Trivy's mapping: Critical and High are errors, Medium a warning).
LEVELS: Final = {"Critical": "error", "High": "error", "Medium": "warning", "Low": "note", "Unknown": "note"}
#: ``security-severity`` when a vulnerability has no CVSS score: the middle of the severity's CVSS band (Trivy's).
DEFAULT_SCORES: Final = {"Critical": 9.5, "High": 8.0, "Medium": 5.5, "Low": 2.0, "Unknown": 0.0}


def _version() -> str:
    from dockyard import __version__

    return str(__version__)


def _score(f: Finding) -> float:
    return f.cvss_score if f.cvss_score is not None else DEFAULT_SCORES.get(f.severity.value, 0.0)


def _by_vulnerability(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    """The findings under their display ID (a CVE when the advisory names one), most severe first."""
    ordered = sorted(findings, key=lambda f: (-f.severity.rank, display_id(f), f.package.name, f.package.version))
    out: dict[str, list[Finding]] = {}
    for f in ordered:
        out.setdefault(display_id(f), []).append(f)
    return out


# --- SARIF 2.1.0 -------------------------------------------------------------------------------------------------


def _rule(vid: str, items: list[Finding]) -> dict[str, Any]:
    worst = items[0]
    level = LEVELS.get(worst.severity.value, "note")
    summary = worst.summary or vid
    fixed = worst.fixed_version or "not fixed"
    text = (
        f"Vulnerability {vid}\nSeverity: {worst.severity.value.upper()}\nPackage: {worst.package.name}\n"
        f"Fixed Version: {fixed}\nLink: {worst.url}\n{summary}"
    )
    markdown = (
        f"**Vulnerability {vid}**\n| Severity | Package | Fixed Version | Link |\n| --- | --- | --- | --- |\n"
        f"|{worst.severity.value.upper()}|{worst.package.name}|{fixed}|[{vid}]({worst.url})|\n\n{summary}"
    )
    rule: dict[str, Any] = {
        "id": vid,
        "name": "OsPackageVulnerability" if worst.package.kind in ("dpkg", "apk", "rpm") else "LanguageVulnerability",
        "shortDescription": {"text": summary.splitlines()[0][:200] if summary else vid},
        "fullDescription": {"text": summary},
        "defaultConfiguration": {"level": level},
        "help": {"text": text, "markdown": markdown},
        "properties": {
            "precision": "very-high",
            "security-severity": f"{_score(worst):.1f}",
            "tags": ["vulnerability", "security", worst.severity.value.upper()],
        },
    }
    if worst.url:
        rule["helpUri"] = worst.url
    return rule


def _result(f: Finding, vid: str, index: int, image: str) -> dict[str, Any]:
    p = f.package
    fixed = f.fixed_version or "not fixed"
    return {
        "ruleId": vid,
        "ruleIndex": index,
        "level": LEVELS.get(f.severity.value, "note"),
        "message": {
            "text": f"Package: {p.name}\nInstalled Version: {p.version}\nVulnerability {vid}\n"
            f"Severity: {f.severity.value.upper()}\nAffected Range: {f.affected_range}\nFixed Version: {fixed}\n"
            f"Link: [{vid}]({f.url})"
        },
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": p.path or image, "uriBaseId": "ROOTPATH"},
                    "region": {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1},
                },
                "logicalLocations": [{"name": p.name, "fullyQualifiedName": p.purl, "kind": "package"}],
                "message": {"text": f"{image}: {p.name}@{p.version}"},
                "properties": {"purl": p.purl, "layer": p.layer},
            }
        ],
        "partialFingerprints": {"dockyard/v1": f"{p.purl}|{vid}"},
        "properties": {
            "purl": p.purl,
            "layer": p.layer,
            "package": p.name,
            "installedVersion": p.version,
            "fixedVersion": f.fixed_version,
            "affectedRange": f.affected_range,
            "record": f.id,
        },
    }


def to_sarif(report: ImageReport, findings: Sequence[Finding], name: str) -> dict[str, Any]:
    """One SARIF 2.1.0 run over ``findings`` (the filtered findings of ``report``'s target image ``name``)."""
    groups = _by_vulnerability(findings)
    rules = [_rule(vid, items) for vid, items in groups.items()]
    results = [_result(f, vid, i, name) for i, (vid, items) in enumerate(groups.items()) for f in items]
    target = report.target
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "dockyard",
                        "fullName": "dockyard vulnerability scanner",
                        "informationUri": INFORMATION_URI,
                        "version": _version(),
                        "rules": rules,
                    }
                },
                "results": results,
                "columnKind": "utf16CodeUnits",
                "originalUriBaseIds": {"ROOTPATH": {"uri": "file:///"}},
                "properties": {
                    "imageName": name,
                    "imageID": target.image_id,
                    "digest": target.digest,
                    "diffIDs": list(target.sbom.layers),
                    "complete": report.complete,
                },
            }
        ],
    }


# --- CycloneDX 1.6 with vulnerabilities --------------------------------------------------------------------------


def _method(vector: str) -> str:
    if vector.startswith("CVSS:4"):
        return "CVSSv4"
    if vector.startswith("CVSS:3.1"):
        return "CVSSv31"
    if vector.startswith("CVSS:3"):
        return "CVSSv3"
    if vector.startswith("AV:") or vector.startswith("(AV:"):
        return "CVSSv2"
    return "other"


def _source(record: str, url: str = "") -> dict[str, str]:
    if record.startswith("CVE-"):
        return {"name": "NVD", "url": f"https://nvd.nist.gov/vuln/detail/{record}"}
    return {"name": "OSV", "url": url or f"https://osv.dev/vulnerability/{record}"}


def _vers_scheme(purl: str) -> str:
    kind = purl[4:].split("/", 1)[0] if purl.startswith("pkg:") else ""
    return {"apk": "alpine", "deb": "deb", "rpm": "rpm", "golang": "golang"}.get(kind, kind or "generic")


def _vers(purl: str, affected: str) -> str:
    """The affected range as a ``vers`` string: ``<2.6.0-r0`` → ``vers:alpine/<2.6.0-r0``."""
    parts = [p.strip().replace(" ", "") for p in affected.split(",") if p.strip()]
    if parts == [">=0"]:
        parts = ["*"]
    parts = [p[1:] if p.startswith("=") else p for p in parts]
    return f"vers:{_vers_scheme(purl)}/" + "|".join(parts or ["*"])


def _vulnerability(vid: str, items: list[Finding], refs: dict[int, str]) -> dict[str, Any]:
    worst = items[0]
    rating: dict[str, Any] = {"severity": worst.severity.value.lower()}
    if worst.cvss_score is not None:
        rating["score"] = worst.cvss_score
    if worst.cvss_vector:
        rating["method"] = _method(worst.cvss_vector)
        rating["vector"] = worst.cvss_vector
    record = worst.severity_record or worst.id
    rating["source"] = _source(record)
    others = sorted({i for f in items for i in (f.id, *f.aliases)} - {vid})
    fixes = sorted({(f.package.name, f.fixed_version) for f in items if f.fixed_version})
    doc: dict[str, Any] = {
        "bom-ref": f"vulnerability:{vid}",
        "id": vid,
        "source": _source(vid, worst.url),
        "ratings": [rating],
        "description": worst.summary,
        "affects": [
            {
                "ref": refs[id(f)],
                "versions": [
                    {"version": f.package.version, "status": "affected"},
                    {"range": _vers(f.package.purl, f.affected_range), "status": "affected"},
                ]
                + ([{"version": f.fixed_version, "status": "unaffected"}] if f.fixed_version else []),
            }
            for f in items
        ],
    }
    if others:
        doc["references"] = [{"id": o, "source": _source(o)} for o in others]
    if fixes:
        if len({fixed for _name, fixed in fixes}) == 1:
            doc["recommendation"] = f"Upgrade to {fixes[0][1]}"
        else:
            doc["recommendation"] = "; ".join(f"Upgrade {n} to {fixed}" for n, fixed in fixes)
    urls = list(
        dict.fromkeys([*(f.url for f in items if f.url), *([_source(vid)["url"]] if vid.startswith("CVE-") else [])])
    )
    if urls:
        doc["advisories"] = [{"url": u} for u in urls]
    if not doc["description"]:
        del doc["description"]
    return doc


def to_cyclonedx(report: ImageReport, findings: Sequence[Finding], name: str) -> dict[str, Any]:
    """The target's CycloneDX 1.6 SBOM with a ``vulnerabilities`` section for ``findings``."""
    from dockyard.scan.sbom.formats import component_refs
    from dockyard.scan.sbom.formats import to_cyclonedx as sbom_cyclonedx

    sbom = report.target.sbom
    doc: dict[str, Any] = json.loads(sbom_cyclonedx(sbom, name))
    by_package = {id(p): ref for ref, p in zip(component_refs(sbom.packages), sbom.packages, strict=True)}
    by_value = {p: ref for ref, p in zip(component_refs(sbom.packages), sbom.packages, strict=True)}
    refs: dict[int, str] = {}
    for f in findings:
        ref = by_package.get(id(f.package)) or by_value.get(f.package)
        if ref is None:
            raise DockyardError(f"finding {f.id} names a package not in the SBOM: {f.package.purl}")
        refs[id(f)] = ref
    doc["vulnerabilities"] = [_vulnerability(vid, items, refs) for vid, items in _by_vulnerability(findings).items()]
    return doc


# --- recommendations ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """One tag of the base image's repository, scanned."""

    name: str  # repository:tag, familiar
    image_id: str
    size: int
    counts: dict[str, int]
    change: str  # "-1H -1M", "+0"
    current: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "image_id": self.image_id,
            "size": self.size,
            "counts": {s: self.counts.get(s, 0) for s in (*SEVERITIES, "Unknown")},
            "change": self.change,
            "current": self.current,
        }


@dataclass(frozen=True, slots=True)
class Recommendations:
    target: str
    base: Candidate  # the current base image
    candidates: tuple[Candidate, ...]  # the other tags, best first

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "base": self.base.as_dict(),
            "recommendations": [c.as_dict() for c in self.candidates],
        }


def change_text(current: dict[str, int], other: dict[str, int]) -> str:
    """The change in counts from ``current`` to ``other``: ``-1H -1M``, ``+2C``, ``+0`` when none."""
    parts = []
    for s in (*SEVERITIES, "Unknown"):
        d = other.get(s, 0) - current.get(s, 0)
        if d:
            parts.append(f"{d:+d}{LETTERS.get(s, 'U')}")
    return " ".join(parts) or "+0"


def _rank(c: Candidate) -> tuple[int, ...]:
    return (*(c.counts.get(s, 0) for s in SEVERITIES), c.counts.get("Unknown", 0), c.size)


def recommendations(
    store: Store,
    report: ImageReport,
    db: VulnDB,
    *,
    ignore_unfixed: bool = False,
    registry_tags: Callable[[str], Sequence[str]] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Recommendations:
    """The other tags of the repository of ``report``'s base image, scanned and ranked best first (fewest critical,
    then high, medium, low vulnerabilities; then the smallest).

    The tags are the store's; with ``registry_tags`` (repository, as ``host/path`` → its tags in the registry) the
    registry's, each streamed once from ``docker://`` without being stored, its size then the compressed size of
    its layers (the store's sizes are unpacked ones)."""
    from dockyard.oci import reference as refs

    if report.base_image is None or report.base is None:
        raise NotFound(f"no base image of {report.target.name} in the store: nothing to compare with")
    base_id = report.base_image.image_id
    tags = store.tags()
    repositories = sorted({repo for repo, _tag, image in tags if image == base_id})
    if not repositories:
        raise NotFound(f"the base image {report.base_image.name} of {report.target.name} has no tag: no repository")
    sizes = {str(s.id): s.size for s in store.summaries()}
    current_counts = counts(report.base.findings)
    base = Candidate(report.base.name, base_id, sizes.get(base_id, 0), current_counts, "+0", current=True)
    if registry_tags is None:
        places = [(repo, tag, image_id) for repo, tag, image_id in sorted(tags) if repo in repositories]
    else:
        places = [(repo, tag, "") for repo in repositories for tag in registry_tags(repo)]
    scanned: dict[str, tuple[dict[str, int], int]] = {base_id: (current_counts, base.size)}
    out: list[Candidate] = []
    for repo, tag, known_id in places:
        if known_id == base_id:
            continue
        name = refs.parse(f"{repo}:{tag}").familiar()
        if progress is not None and known_id not in scanned:
            progress(name)
        if known_id:
            image_id = known_id
            if image_id not in scanned:
                scanned[image_id] = (_counts_of(store, image_id, db, ignore_unfixed), sizes.get(image_id, 0))
        else:
            image_id, found, size = _scan_remote(store, f"docker://{repo}:{tag}", db, ignore_unfixed)
            if image_id == base_id:
                continue
            scanned.setdefault(image_id, (found, size))
        c, size = scanned[image_id]
        out.append(Candidate(name, image_id, size, c, change_text(current_counts, c)))
    out.sort(key=lambda c: (_rank(c), c.name))
    return Recommendations(report.target.name, base, tuple(out))


def _counts_of(store: Store, text: str, db: VulnDB, ignore_unfixed: bool) -> dict[str, int]:
    from dockyard.scan.scout import analyze

    return counts(analyze(store, text, db, ignore_unfixed=ignore_unfixed, with_base=False).target.findings)


def _scan_remote(store: Store, text: str, db: VulnDB, ignore_unfixed: bool) -> tuple[str, dict[str, int], int]:
    """(image ID, counts, compressed size) of a registry image, read once (layers already analysed are cached)."""
    from dockyard.scan.sbom.source import open_image
    from dockyard.scan.scout import analyze

    part = analyze(store, text, db, ignore_unfixed=ignore_unfixed, with_base=False).target
    with open_image(text, store) as (image, _loc):
        manifest = image.manifest()
        size = manifest.config.size + sum(d.size for d in manifest.layers)
    return part.image_id, counts(part.findings), size


__all__ = [
    "DEFAULT_SCORES",
    "LEVELS",
    "Candidate",
    "Recommendations",
    "change_text",
    "recommendations",
    "to_cyclonedx",
    "to_sarif",
]
