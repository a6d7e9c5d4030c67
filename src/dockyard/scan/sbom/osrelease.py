"""OS detection: the release files an image holds, mapped to the OSV ecosystem names the matcher uses.

Files are read in this order, the first that names a distribution wins: ``etc/os-release``,
``usr/lib/os-release``, ``etc/debian_version``, ``etc/alpine-release``. Debian 12 -> ``Debian:12``, Alpine
``VERSION_ID`` 3.19.1 -> ``Alpine:v3.19``, Ubuntu 22.04 LTS -> ``Ubuntu:22.04:LTS`` (23.10 -> ``Ubuntu:23.10``).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dockyard.layers.walk import FileInfo, Read
from dockyard.scan.package import OS
from dockyard.scan.sbom.found import ReleaseFile

#: The release files, in the order they are believed.
RELEASE_FILES = ("etc/os-release", "usr/lib/os-release", "etc/debian_version", "etc/alpine-release")
_MAX = 64 << 10


@dataclass(frozen=True)
class ReleaseFiles:
    """The walker's analyzer for the release files (symlinks too: ``etc/os-release`` usually is one)."""

    name: str = "os-release"
    version: int = 1

    def required(self, path: str, info: FileInfo) -> bool:
        return path in RELEASE_FILES

    def analyze(self, path: str, info: FileInfo, read: Read) -> Iterable[ReleaseFile]:
        if info.kind == "symlink":
            yield ReleaseFile("@link:" + info.linkname)
        elif info.size <= _MAX:
            yield ReleaseFile(read().decode("utf-8", "replace"))


def parse_os_release(text: str) -> dict[str, str]:
    """``KEY=value`` lines, values unquoted as a shell would."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        try:
            parts = shlex.split(value)
        except ValueError:
            parts = [value.strip("\"'")]
        out[key.strip()] = " ".join(parts)
    return out


def ecosystem(family: str, version: str, version_text: str = "") -> str:
    """The OSV ecosystem name of a distribution release (``""`` when OSV has none for it)."""
    if family == "debian":
        major = version.split(".")[0]
        return f"Debian:{major}" if major.isdigit() else "Debian"
    if family == "alpine":
        m = re.match(r"(\d+)\.(\d+)", version)
        return f"Alpine:v{m.group(1)}.{m.group(2)}" if m else "Alpine"
    if family == "ubuntu":
        if not version:
            return "Ubuntu"
        return f"Ubuntu:{version}:LTS" if "LTS" in version_text else f"Ubuntu:{version}"
    return ""


def _resolve(files: Mapping[str, str], path: str) -> str | None:
    """A release file's text, following a symlink to another release file (``etc/os-release`` ->
    ``../usr/lib/os-release``)."""
    text = files.get(path)
    for _ in range(4):
        if text is None or not text.startswith("@link:"):
            return text
        target = text[len("@link:") :]
        base = "" if target.startswith("/") else path.rsplit("/", 1)[0]
        parts: list[str] = []
        for part in f"{base}/{target}".split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if parts:
                    parts.pop()
            else:
                parts.append(part)
        text = files.get("/".join(parts))
    return None


def detect(files: Mapping[str, str], *, distroless_dpkg: bool = False) -> OS | None:
    """The OS from the release files the merged image holds (``path -> text``)."""
    for path in RELEASE_FILES[:2]:
        text = _resolve(files, path)
        if text is None:
            continue
        fields = parse_os_release(text)
        family = fields.get("ID", "").lower()
        if not family:
            continue
        version = fields.get("VERSION_ID", "")
        if family == "debian" and not version:
            debian = _resolve(files, "etc/debian_version")
            version = debian.strip() if debian else ""
        eco = ecosystem(family, version, fields.get("VERSION", ""))
        return OS(family, version, eco, fields.get("PRETTY_NAME", ""))
    debian = _resolve(files, "etc/debian_version")
    if debian is not None:
        version = debian.strip().split(".")[0] if debian.strip()[:1].isdigit() else debian.strip()
        return OS("debian", version, ecosystem("debian", version), f"Debian GNU/Linux {version}")
    alpine = _resolve(files, "etc/alpine-release")
    if alpine is not None:
        version = alpine.strip()
        return OS("alpine", version, ecosystem("alpine", version), f"Alpine Linux v{version}")
    if distroless_dpkg:
        return OS("debian", "", "Debian", "Debian (distroless)")
    return None


__all__ = ["RELEASE_FILES", "ReleaseFiles", "detect", "ecosystem", "parse_os_release"]
