"""From what a cataloger found to a :class:`~dockyard.scan.package.Package`: its OSV ecosystem and its purl
(``packageurl-python``), once the image's OS is known."""

from __future__ import annotations

import re

from packageurl import PackageURL

from dockyard.scan.package import OS, Package
from dockyard.scan.sbom.found import Found

_DEFAULT_ECOSYSTEM = {"dpkg": "Debian", "apk": "Alpine", "python": "PyPI", "npm": "npm", "go": "Go"}


def _major_minor(version: str) -> str:
    m = re.match(r"\d+(?:\.\d+)?", version)
    return m.group(0) if m else version


def _deb(found: Found, os: OS | None) -> PackageURL:
    family = os.family if os is not None and os.family in ("debian", "ubuntu") else "debian"
    epoch, sep, upstream = found.version.partition(":")
    version = upstream if sep and epoch.isdigit() else found.version
    qualifiers = {"arch": found.arch} if found.arch else {}
    if os is not None and os.version:
        qualifiers["distro"] = f"{family}-{os.version}"
    if sep and epoch.isdigit():
        qualifiers["epoch"] = epoch
    return PackageURL("deb", family, found.name, version, qualifiers)


def _apk(found: Found, os: OS | None) -> PackageURL:
    qualifiers = {"os_name": "alpine"}
    if os is not None and os.family == "alpine" and os.version:
        qualifiers["os_version"] = _major_minor(os.version)
    return PackageURL("apk", "alpine", found.name, found.version, qualifiers)


def _npm(found: Found) -> PackageURL:
    scope, sep, name = found.name.partition("/")
    if sep and scope.startswith("@"):
        return PackageURL("npm", scope, name, found.version)
    return PackageURL("npm", None, found.name, found.version)


def _golang(found: Found) -> PackageURL:
    namespace, sep, name = found.name.rpartition("/")
    return PackageURL("golang", namespace if sep else None, name, found.version or None)


def purl(found: Found, os: OS | None) -> str:
    if found.kind == "dpkg":
        p = _deb(found, os)
    elif found.kind == "apk":
        p = _apk(found, os)
    elif found.kind == "python":
        p = PackageURL("pypi", None, found.name, found.version)
    elif found.kind == "npm":
        p = _npm(found)
    elif found.kind == "go":
        p = _golang(found)
    else:
        p = PackageURL("generic", None, found.name, found.version)
    return str(p.to_string())


def ecosystem(found: Found, os: OS | None) -> str:
    if os is not None and os.ecosystem:
        if found.kind == "dpkg" and os.family in ("debian", "ubuntu"):
            return os.ecosystem
        if found.kind == "apk" and os.family == "alpine":
            return os.ecosystem
    return _DEFAULT_ECOSYSTEM.get(found.kind, found.kind)


def package(found: Found, os: OS | None, *, layer: str, path: str) -> Package:
    return Package(
        name=found.name,
        version=found.version,
        ecosystem=ecosystem(found, os),
        purl=purl(found, os),
        kind=found.kind,
        source=found.source,
        source_version=found.source_version,
        layer=layer,
        path=path,
        licenses=found.licenses,
    )


__all__ = ["ecosystem", "package", "purl"]
