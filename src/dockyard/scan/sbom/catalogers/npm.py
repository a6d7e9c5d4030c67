"""npm: every ``package.json`` with a ``name`` and a ``version``: the packages installed under ``node_modules``
(``node_modules/NAME``, ``node_modules/@SCOPE/NAME``, nested ``node_modules`` too) and the application's own
manifest, as Trivy and Syft both list it. A ``package.json`` without name or version (``{"type": "module"}`` in
a package's subdirectory) is not a package."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from dockyard.layers.walk import FileInfo, Read
from dockyard.scan.sbom.found import Found, Problem

_WANTED = re.compile(r"(?:^|/)package\.json$")
#: An installed package's own manifest: one that cannot be read makes the scan incomplete. Elsewhere (a test
#: fixture inside a package, an application's sources) a broken package.json is no package, as in Trivy.
_INSTALLED = re.compile(r"(?:^|/)node_modules/(?:@[^/]+/)?[^/@.][^/]*/package\.json$")


def _licenses(doc: dict[str, object]) -> tuple[str, ...]:
    lic = doc.get("license")
    if isinstance(lic, str):
        return (lic,)
    if isinstance(lic, dict) and isinstance(lic.get("type"), str):
        return (str(lic["type"]),)
    many = doc.get("licenses")
    if isinstance(many, list):
        return tuple(str(x["type"]) for x in many if isinstance(x, dict) and isinstance(x.get("type"), str))
    return ()


@dataclass(frozen=True)
class Npm:
    name: str = "npm"
    version: int = 3  # 2: hard links too; 3: a broken package.json outside node_modules is no problem

    def required(self, path: str, info: FileInfo) -> bool:
        return info.kind in ("file", "hardlink") and _WANTED.search(path) is not None

    def analyze(self, path: str, info: FileInfo, read: Read) -> Iterable[Found | Problem]:
        installed = _INSTALLED.search(path) is not None
        try:
            doc = json.loads(read())
        except ValueError as exc:
            if installed:
                yield Problem(f"{path}: not JSON ({exc})")
            return
        if not isinstance(doc, dict):
            if installed:
                yield Problem(f"{path}: not a JSON object")
            return
        name, version = doc.get("name"), doc.get("version")
        if isinstance(name, str) and isinstance(version, str) and name and version:
            yield Found("npm", name, version, licenses=_licenses(doc))


__all__ = ["Npm"]
