"""Docker Scout's answers, offline: an image's SBOM matched against the OSV database, with its base image's share.

:func:`analyze` gives an :class:`ImageReport` (the SBOM, the findings, the base image and its own findings);
:func:`counts` the C/H/M/L counts Scout prints; :func:`package_groups` the packages-and-vulnerabilities view of
``cves`` with its filters. Rendering is the CLI's (``dockyard scout quickview|cves``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dockyard.errors import DockyardError
from dockyard.oci.platform import Platform
from dockyard.scan.baseimage import BaseImage, find_base
from dockyard.scan.package import Package

if TYPE_CHECKING:
    from dockyard.scan.sbom.result import Sbom
    from dockyard.scan.vuln.db import VulnDB
    from dockyard.scan.vuln.match import Finding
    from dockyard.store.store import Store

#: Scout's order of severities, and the letters of its counts.
SEVERITIES = ("Critical", "High", "Medium", "Low")
LETTERS = {"Critical": "C", "High": "H", "Medium": "M", "Low": "L"}


@dataclass(frozen=True, slots=True)
class Part:
    """One image's scan: its SBOM and findings."""

    name: str
    image_id: str
    digest: str  # the first 12 hex digits of the manifest digest (or of the ID when it has none)
    sbom: Sbom
    findings: tuple[Finding, ...]


@dataclass(frozen=True, slots=True)
class ImageReport:
    target: Part
    base: Part | None = None
    base_image: BaseImage | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def complete(self) -> bool:
        """False when a layer or a package database could not be read: the report is then partial."""
        return self.target.sbom.complete and not self.warnings

    def from_base(self, finding: Finding) -> bool:
        """Whether a finding's package came with the base image's layers."""
        if self.base_image is None:
            return False
        return finding.package.layer in self.target.sbom.layers[: self.base_image.layers]


def display_id(finding: Finding) -> str:
    """The name Scout shows: the CVE ID when the advisory has one (a distribution's record is named after it)."""
    for candidate in (finding.id, *finding.aliases):
        if candidate.startswith("CVE-"):
            return str(candidate)
    return str(finding.id)


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Scout's C/H/M/L: one per vulnerability (by its display ID) of each package, at its severity."""
    seen: set[tuple[str, str, str]] = set()
    out = dict.fromkeys((*SEVERITIES, "Unknown"), 0)
    for f in findings:
        key = (f.package.name, f.package.version, display_id(f))
        if key in seen:
            continue
        seen.add(key)
        out[f.severity.value] = out.get(f.severity.value, 0) + 1
    return out


def count_text(c: dict[str, int]) -> str:
    """``0C     1H     1M     0L``, as Scout aligns it, then ``2?`` when some have no severity (as Scout prints
    its unspecified ones)."""
    text = "     ".join(f"{c[s]}{LETTERS[s]}" for s in SEVERITIES)
    return text + (f"     {c['Unknown']}?" if c.get("Unknown") else "")


def _scan(
    store: Store,
    text: str,
    db: VulnDB,
    *,
    platform: Platform | None,
    ignore_unfixed: bool,
    progress: Callable[[int, int, str, bool, int], None] | None,
    warn: Callable[[str], None],
) -> Part:
    from dockyard.scan.sbom import sbom
    from dockyard.scan.sbom.source import open_image
    from dockyard.scan.vuln.match import match_packages

    with open_image(text, store, platform=platform) as (image, _loc):
        result = sbom(image, cache_root=store.cache_dir / "sbom", progress=progress)
        manifest = image.manifest()
        digest = manifest.digest.hex[:12] if manifest.raw else image.config().digest.hex[:12]
    matched = match_packages(result.packages, result.os, db, ignore_unfixed=ignore_unfixed, on_warning=warn)
    return Part(text, str(image.config().digest), digest, result, tuple(matched.findings))


def analyze(
    store: Store,
    text: str,
    db: VulnDB,
    *,
    platform: Platform | None = None,
    ignore_unfixed: bool = False,
    with_base: bool = True,
    progress: Callable[[int, int, str, bool, int], None] | None = None,
) -> ImageReport:
    """Scan ``text`` (any place the copy engine reads) and, when the store holds its base image, the base too."""
    warnings: list[str] = []
    target = _scan(
        store, text, db, platform=platform, ignore_unfixed=ignore_unfixed, progress=progress, warn=warnings.append
    )
    base_image = None
    base = None
    if with_base:
        try:
            base_image = find_base(store, target.image_id)
        except DockyardError:
            base_image = None
        if base_image is not None:
            base = _scan(
                store,
                base_image.image_id,
                db,
                platform=None,
                ignore_unfixed=ignore_unfixed,
                progress=None,
                warn=warnings.append,
            )
            base = Part(base_image.name, base.image_id, base.digest, base.sbom, base.findings)
    return ImageReport(target, base, base_image, tuple(dict.fromkeys(warnings)))


@dataclass(frozen=True, slots=True)
class PackageGroup:
    package: Package
    findings: tuple[Finding, ...]


def package_groups(
    findings: Sequence[Finding],
    *,
    only_severity: Iterable[str] = (),
    only_fixed: bool = False,
    ignore_unfixed: bool = False,
    only_package: Iterable[str] = (),
) -> list[PackageGroup]:
    """The vulnerable packages and their vulnerabilities, most severe first, with ``cves``' filters applied."""
    wanted = {s.lower() for s in only_severity}
    names = set(only_package)
    groups: dict[tuple[str, str, str], list[Finding]] = {}
    packages: dict[tuple[str, str, str], Package] = {}
    for f in findings:
        if wanted and f.severity.value.lower() not in wanted:
            continue
        if (only_fixed or ignore_unfixed) and f.fixed_version is None:
            continue
        if names and f.package.name not in names:
            continue
        key = (f.package.name, f.package.version, f.package.purl)
        groups.setdefault(key, []).append(f)
        packages[key] = f.package
    out = []
    for key, items in groups.items():
        unique = {display_id(f): f for f in sorted(items, key=lambda f: f.severity.rank)}  # the most severe stays
        ordered = sorted(unique.values(), key=lambda f: (-f.severity.rank, display_id(f)))
        out.append(PackageGroup(packages[key], tuple(ordered)))
    out.sort(key=lambda g: (-max(f.severity.rank for f in g.findings), g.package.name))
    return out


__all__ = [
    "ImageReport",
    "PackageGroup",
    "Part",
    "analyze",
    "count_text",
    "counts",
    "display_id",
    "package_groups",
]
