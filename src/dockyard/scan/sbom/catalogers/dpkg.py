"""dpkg: the installed packages of ``var/lib/dpkg/status`` (and distroless Debian's ``var/lib/dpkg/status.d/*``).

Only stanzas whose ``Status`` says the package is installed (``install ok installed``, ``hold ok installed``:
dpkg-query's ``ii``/``hi``) count; distroless stanzas carry no ``Status`` and count. (Trivy also counts
``half-installed`` and ``unpacked`` packages, Syft every stanza: see tests/interop/test_sbom_peers.py.)
``Source: name`` or ``Source: name (version)`` gives the source package (its version defaults to the binary's,
as dpkg-query's ``${source:Version}``); without ``Source`` the source is the package itself. Parsed with
python-debian's deb822.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from dockyard.layers.walk import FileInfo, Read
from dockyard.scan.sbom.found import Found, Problem

STATUS = "var/lib/dpkg/status"
STATUS_D = "var/lib/dpkg/status.d/"
_SOURCE = re.compile(r"^\s*(\S+)(?:\s*\((\S+)\))?\s*$")


def _installed(status: str) -> bool:
    words = status.split()
    return len(words) == 3 and words[2] == "installed"


def parse_source(source: str, name: str, version: str) -> tuple[str, str]:
    """``bash (5.2.15-2)`` -> (``bash``, ``5.2.15-2``); ``gcc-12`` -> (``gcc-12``, the binary's version)."""
    m = _SOURCE.match(source) if source else None
    if m is None:
        return name, version
    return m.group(1), m.group(2) or version


def parse(text: str, *, need_status: bool = True) -> Iterable[Found]:
    """The installed packages of a status file's text (``need_status=False``: distroless stanzas)."""
    from debian.deb822 import Deb822  # imported on the first status file: images without dpkg do not pay for it

    for para in Deb822.iter_paragraphs(text.splitlines(keepends=True), use_apt_pkg=False):
        name = para.get("Package", "")
        version = para.get("Version", "")
        if not name or not version:
            continue
        status = para.get("Status")
        if status is None:
            if need_status:
                continue
        elif not _installed(status):
            continue
        source, source_version = parse_source(para.get("Source", ""), name, version)
        yield Found("dpkg", name, version, source, source_version, para.get("Architecture", ""))


@dataclass(frozen=True)
class Dpkg:
    name: str = "dpkg"
    version: int = 2  # 2: hard links too

    def required(self, path: str, info: FileInfo) -> bool:
        if info.kind not in ("file", "hardlink"):
            return False
        if path == STATUS:
            return True
        return path.startswith(STATUS_D) and "/" not in path[len(STATUS_D) :] and not path.endswith(".md5sums")

    def analyze(self, path: str, info: FileInfo, read: Read) -> Iterable[Found | Problem]:
        try:
            text = read().decode("utf-8")
        except UnicodeDecodeError as exc:
            yield Problem(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})")
            return
        found = list(parse(text, need_status=path == STATUS))
        if not found and text.strip() and path == STATUS and "Package:" not in text:
            yield Problem(f"{path}: no package stanza in {len(text)} bytes: not a dpkg status file")
            return
        yield from found


__all__ = ["Dpkg", "parse", "parse_source"]
