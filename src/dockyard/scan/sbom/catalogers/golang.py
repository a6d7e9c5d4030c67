"""Go binaries: the module versions the Go toolchain embeds in every executable it links (what
``go version -m`` prints, and what Trivy and Syft read).

The build info lives in ELF files behind a 32-byte header that starts with the magic ``\\xff Go buildinf:``;
byte 15 holds flags, and with flag 2 (Go 1.18 and later) the Go version and the module information follow
inline as two uvarint-length-prefixed strings. The module information is text framed by 16 sentinel bytes on
each side: ``path``, ``mod`` (the main module), ``dep`` lines and ``=>`` lines (a ``replace`` of the line
above), tab-separated. Older binaries (pointer format, Go < 1.18) are not read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dockyard.layers.walk import FileInfo, Read
from dockyard.scan.sbom.found import Found

MAGIC = b"\xff Go buildinf:"
_HEADER = 32
_FLAG_INLINE = 2


@dataclass(frozen=True, slots=True)
class Module:
    path: str
    version: str
    replaced_by: tuple[str, str] | None = None  # (path, version); a local directory has no version


@dataclass(frozen=True, slots=True)
class BuildInfo:
    go_version: str
    main: Module | None
    deps: tuple[Module, ...]


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data) and shift < 64:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7
    raise ValueError("truncated varint")


def _string(data: bytes, pos: int) -> tuple[str, int]:
    n, pos = _uvarint(data, pos)
    if n > len(data) - pos:
        raise ValueError("string runs past the end")
    return data[pos : pos + n].decode("utf-8", "replace"), pos + n


def parse_modinfo(text: str) -> tuple[Module | None, tuple[Module, ...]]:
    main: Module | None = None
    deps: list[Module] = []
    last: Module | None = None
    for line in text.splitlines():
        cols = line.split("\t")
        if cols[0] in ("mod", "dep") and len(cols) >= 3:
            last = Module(cols[1], cols[2])
            if cols[0] == "mod":
                main = last
            else:
                deps.append(last)
        elif cols[0] == "=>" and len(cols) >= 2 and last is not None:
            repl = Module(last.path, last.version, (cols[1], cols[2] if len(cols) > 2 else ""))
            if last is main:
                main = repl
            else:
                deps[-1] = repl
            last = None
    return main, tuple(deps)


def read_buildinfo(data: bytes) -> BuildInfo | None:
    """The build info of an ELF Go executable (None: not one, or an older format)."""
    if not data.startswith(b"\x7fELF"):
        return None
    start = data.find(MAGIC)
    while start >= 0:
        if start % 16 == 0 and len(data) - start >= _HEADER and data[start + 15] & _FLAG_INLINE:
            try:
                version, pos = _string(data, start + _HEADER)
                mod, _ = _string(data, pos)
            except ValueError:
                return None
            mod = mod[16:-16] if len(mod) >= 33 and mod[-17] == "\n" else ""
            main, deps = parse_modinfo(mod)
            return BuildInfo(version, main, deps)
        start = data.find(MAGIC, start + 1)
    return None


def _trim(version: str) -> str:
    return version[1:] if version.startswith("v") and version[1:2].isdigit() else version


def modules(info: BuildInfo) -> Iterable[Found]:
    """The packages of one binary: the main module, each dependency and the standard library (``stdlib``, the
    name OSV's Go advisories use, version without ``go``).

    A ``replace``d module is reported as its replacement (path and version), as Trivy and Syft both do; a
    replacement by a local directory (``=> ../greet``) keeps the directory as its name, with no version: the code
    in the binary is not the published module, so advisories on that module must not match it. ``(devel)`` (the
    main module built from a checkout) is no version either, as in Trivy (Syft prints ``(devel)``).
    """
    for role, mod in [("main", info.main)] + [("", d) for d in info.deps]:
        if mod is None or not mod.path:
            continue
        path, version = mod.replaced_by if mod.replaced_by is not None else (mod.path, mod.version)
        yield Found("go", path, "" if version == "(devel)" else _trim(version), role=role)
    if info.go_version.startswith("go"):
        yield Found("go", "stdlib", info.go_version[2:].split(" ")[0], role="stdlib")


@dataclass(frozen=True)
class GoBinaries:
    name: str = "go"
    version: int = 2  # 2: hard links too

    def required(self, path: str, info: FileInfo) -> bool:
        return info.mode & 0o111 != 0 and (info.kind == "hardlink" or (info.kind == "file" and info.size > _HEADER))

    def analyze(self, path: str, info: FileInfo, read: Read) -> Iterable[Found]:
        data = read()
        build = read_buildinfo(data) if data[:4] == b"\x7fELF" else None
        if build is not None:
            yield from modules(build)


__all__ = ["MAGIC", "BuildInfo", "GoBinaries", "Module", "modules", "parse_modinfo", "read_buildinfo"]
