"""Python: installed distributions, from ``*.dist-info/METADATA`` and ``*.egg-info/PKG-INFO`` (or an
``*.egg-info`` file), names normalised per PEP 503 (``packaging.utils.canonicalize_name``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from dockyard.layers.walk import FileInfo, Read
from dockyard.scan.sbom.found import Found, Problem

_WANTED = re.compile(r"(?:^|/)[^/]+(?:\.dist-info/METADATA|\.egg-info/PKG-INFO|\.egg-info)$")


def parse(text: str) -> Found | None:
    # Imported on the first metadata file: an image without Python packages does not pay for them (~8 ms).
    from email.parser import HeaderParser

    from packaging.utils import canonicalize_name

    headers = HeaderParser().parsestr(text, headersonly=True)
    name, version = headers.get("Name", ""), headers.get("Version", "")
    if not name or not version:
        return None
    license_ = headers.get("License-Expression") or headers.get("License") or ""
    licenses = (license_.strip(),) if license_.strip() and "\n" not in license_.strip() else ()
    return Found("python", canonicalize_name(str(name)), str(version).strip(), licenses=licenses)


@dataclass(frozen=True)
class Python:
    name: str = "python"
    version: int = 2  # 2: hard links too

    def required(self, path: str, info: FileInfo) -> bool:
        return info.kind in ("file", "hardlink") and _WANTED.search(path) is not None

    def analyze(self, path: str, info: FileInfo, read: Read) -> Iterable[Found | Problem]:
        found = parse(read().decode("utf-8", "replace"))
        if found is None:
            yield Problem(f"{path}: no Name or Version header")
        else:
            yield found


__all__ = ["Python", "parse"]
