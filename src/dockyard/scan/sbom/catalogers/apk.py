"""apk: the installed packages of Alpine's ``lib/apk/db/installed`` (``P:`` name, ``V:`` version, ``A:`` arch,
``o:`` origin, the source package advisories name; ``L:`` license)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dockyard.layers.walk import FileInfo, Read
from dockyard.scan.sbom.found import Found, Problem

INSTALLED = "lib/apk/db/installed"


def parse(text: str) -> tuple[list[Found], list[str]]:
    """The packages of the database's text, and the stanzas it could not read (as messages)."""
    found: list[Found] = []
    bad: list[str] = []
    for number, stanza in enumerate(text.split("\n\n"), 1):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if len(line) >= 2 and line[1] == ":":
                fields.setdefault(line[0], line[2:])
            elif line.strip():
                bad.append(f"stanza {number}: unreadable line {line[:40]!r}")
                break
        if not fields:
            continue
        name, version = fields.get("P", ""), fields.get("V", "")
        if not name or not version:
            bad.append(f"stanza {number}: no P: or V: line")
            continue
        licenses = tuple(fields["L"].split()) if fields.get("L") else ()
        origin = fields.get("o", "") or name
        found.append(Found("apk", name, version, origin, version, fields.get("A", ""), licenses))
    return found, bad


@dataclass(frozen=True)
class Apk:
    name: str = "apk"
    version: int = 2  # 2: hard links too

    def required(self, path: str, info: FileInfo) -> bool:
        return path == INSTALLED and info.kind in ("file", "hardlink")

    def analyze(self, path: str, info: FileInfo, read: Read) -> Iterable[Found | Problem]:
        found, bad = parse(read().decode("utf-8", "replace"))
        for message in bad[:5]:
            yield Problem(f"{path}: {message}")
        if len(bad) > 5:
            yield Problem(f"{path}: {len(bad) - 5} more unreadable stanzas")
        yield from found


__all__ = ["Apk", "parse"]
