"""``.dockerignore`` rules as moby's ``patternmatcher`` applies them, and Go's ``filepath.Match``."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import DockerfileError, InvalidInput


class BadPattern(InvalidInput):
    """A pattern that ``filepath.Match`` rejects (``syntax error in pattern``)."""

    def __init__(self, pattern: str) -> None:
        super().__init__(f"syntax error in pattern: {pattern!r}")
        self.pattern = pattern


def go_clean(path: str) -> str:
    """Go's ``path.Clean``: lexical ``.``/``..``/``//`` removal; ``""`` -> ``"."``."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(part)
    cleaned = "/".join(out)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def _class(pattern: str, i: int) -> tuple[str, int]:
    """Translate a ``[...]`` class starting after ``[``; returns the regex and the index after ``]``."""
    n = len(pattern)
    out = "["
    if i < n and pattern[i] == "^":
        out += "^"
        i += 1
    nrange = 0
    while True:
        if i >= n:
            raise BadPattern(pattern)
        if pattern[i] == "]" and nrange > 0:
            return out + "]", i + 1
        lo, i = _class_char(pattern, i)
        hi = lo
        if i < n and pattern[i] == "-":
            hi, i = _class_char(pattern, i + 1)
            if hi < lo:
                raise BadPattern(pattern)
        out += re.escape(lo) if lo == hi else re.escape(lo) + "-" + re.escape(hi)
        nrange += 1


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    if i >= len(pattern) or pattern[i] in "-]":
        raise BadPattern(pattern)
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise BadPattern(pattern)
    return pattern[i], i + 1


_MATCH_CACHE: dict[str, re.Pattern[str]] = {}


def go_match_regex(pattern: str) -> re.Pattern[str]:
    """The compiled equivalent of Go's ``filepath.Match(pattern, ...)``; BadPattern when malformed."""
    cached = _MATCH_CACHE.get(pattern)
    if cached is not None:
        return cached
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
            i += 1
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            cls, i = _class(pattern, i + 1)
            out.append(cls)
        elif ch == "\\":
            if i + 1 >= n:
                raise BadPattern(pattern)
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(ch))
            i += 1
    rx = re.compile("".join(out), re.DOTALL)
    _MATCH_CACHE[pattern] = rx
    return rx


def go_match(pattern: str, name: str) -> bool:
    """Go's ``filepath.Match``: ``*``, ``?``, ``[a-z]``/``[^...]`` and ``\\`` escapes; ``*`` never crosses ``/``."""
    return go_match_regex(pattern).fullmatch(name) is not None


def has_wildcards(path: str) -> bool:
    """Whether ``path`` has an unescaped ``*``, ``?`` or ``[`` (BuildKit's ``containsWildcards``)."""
    i = 0
    while i < len(path):
        if path[i] == "\\":
            i += 2
            continue
        if path[i] in "*?[":
            return True
        i += 1
    return False


_ESCAPE = frozenset(".+()|{}$")


@dataclass
class _Pattern:
    cleaned: str
    exclusion: bool
    kind: str = ""
    regex: re.Pattern[str] | None = None

    def compile(self) -> None:
        reg = "^"
        kind = "exact"
        p = self.cleaned
        i, n = 0, len(p)
        pos = 0
        while i < n:
            ch = p[i]
            i += 1
            if ch == "*":
                if i < n and p[i] == "*":
                    i += 1
                    if i < n and p[i] == "/":
                        i += 1
                    if i >= n:
                        if kind == "exact":
                            kind = "prefix"
                        else:
                            reg += ".*"
                            kind = "regexp"
                    else:
                        reg += "(.*/)?"
                        kind = "regexp"
                    if pos == 0:
                        kind = "suffix"
                else:
                    reg += "[^/]*"
                    kind = "regexp"
            elif ch == "?":
                reg += "[^/]"
                kind = "regexp"
            elif ch in _ESCAPE:
                reg += "\\" + ch
            elif ch == "\\":
                if i < n:
                    reg += "\\" + p[i]
                    i += 1
                    kind = "regexp"
                else:
                    reg += "\\\\"
            elif ch in "[]":
                reg += ch
                kind = "regexp"
            else:
                reg += ch
            pos += 1
        if kind == "regexp":
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FutureWarning)
                    self.regex = re.compile(reg + r"\Z")
            except re.error:
                raise BadPattern(self.cleaned) from None
        self.kind = kind

    def match(self, path: str) -> bool:
        if not self.kind:
            self.compile()
        if self.kind == "exact":
            return path == self.cleaned
        if self.kind == "prefix":
            return path.startswith(self.cleaned[:-2])
        if self.kind == "suffix":
            suffix = self.cleaned[2:]
            if path.endswith(suffix):
                return True
            return suffix[:1] == "/" and path == suffix[1:]
        assert self.regex is not None
        return self.regex.match(path) is not None


class IgnoreRules:
    """An ordered list of ``.dockerignore`` patterns; later patterns win, ``!`` re-includes."""

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self.patterns: list[str] = []
        self._compiled: list[_Pattern] = []
        for raw in patterns:
            p = raw.strip()
            if not p:
                continue
            p = go_clean(p)
            exclusion = p.startswith("!")
            if exclusion:
                if len(p) == 1:
                    raise InvalidInput('illegal exclusion pattern: "!"')
                p = p[1:]
            go_match_regex(p)
            self.patterns.append(raw)
            compiled = _Pattern(p, exclusion)
            compiled.compile()
            self._compiled.append(compiled)

    @property
    def exclusions(self) -> bool:
        """Whether some pattern re-includes (``!``): an ignored directory may still hold included files."""
        return any(p.exclusion for p in self._compiled)

    def __bool__(self) -> bool:
        return bool(self._compiled)

    def ignored(self, rel: str) -> bool:
        """Whether ``rel`` ('/'-separated, relative to the context) is excluded, itself or through a parent."""
        path = go_clean(rel.lstrip("/")) if rel.startswith("/") else go_clean(rel)
        if path == ".":
            return False
        parent = path.rsplit("/", 1)[0] if "/" in path else "."
        parent_dirs = parent.split("/")
        matched = False
        for pat in self._compiled:
            if pat.exclusion != matched:
                continue
            match = pat.match(path)
            if not match and parent != ".":
                for i in range(len(parent_dirs)):
                    if pat.match("/".join(parent_dirs[: i + 1])):
                        match = True
                        break
            if match:
                matched = not pat.exclusion
        return matched


def read_patterns(text: str, path: str = ".dockerignore") -> list[str]:
    """The patterns of a ``.dockerignore`` text as moby's ``ignorefile.ReadAll`` normalises them."""
    out: list[str] = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if lineno == 1:
            line = line.removeprefix("\ufeff")
        line = line.removesuffix("\r")
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        if invert:
            pattern = "!" + pattern
        try:
            IgnoreRules([pattern])
        except InvalidInput as e:
            raise DockerfileError(path, lineno, str(e)) from None
        out.append(pattern)
    return out


def load(path: Path | None) -> IgnoreRules:
    """The rules of an ignore file, or no rules for None."""
    if path is None:
        return IgnoreRules()
    return IgnoreRules(read_patterns(path.read_text(encoding="utf-8", errors="surrogateescape"), str(path)))


def ignore_file_for(context_dir: Path, dockerfile: Path | None) -> Path | None:
    """``<Dockerfile>.dockerignore`` beside the Dockerfile first, then ``<context>/.dockerignore``."""
    if dockerfile is not None:
        beside = dockerfile.with_name(dockerfile.name + ".dockerignore")
        if beside.is_file():
            return beside
    default = context_dir / ".dockerignore"
    return default if default.is_file() else None


def match_any(patterns: Sequence[str], name: str) -> bool:
    """Whether ``name`` matches one of ``patterns`` with Go's ``filepath.Match``."""
    return any(go_match(p, name) for p in patterns)
