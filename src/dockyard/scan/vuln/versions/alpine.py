"""apk's version order, as apk-tools 2 (``apk_version_compare``) sorts Alpine package versions.

A version is ``digit{.digit}...{letter}{_suffix{number}}...{-r#}``, read as a stream of typed tokens:

- numbers separated by ``.``; after the first, a number with leading zeros counts the zeros negatively, so that
  ``1.01 < 1.1`` and ``1.001 < 1.01`` (a "fractional" component), then the rest as a number;
- one lowercase letter after a number (``1.0a``);
- suffixes ``_alpha < _beta < _pre < _rc`` (all before the bare version) and ``_cvs < _svn < _git < _hg < _p``
  (all after it), each with an optional number (``_git20230717``, ``_p2``);
- the package revision ``-r#``.

Two versions are walked token by token while the token types and values agree. The first differing value
decides. When one version ends (or stops being valid) first, the longer one is greater, unless what it has
next is a pre-release suffix; otherwise the token *type* that comes next decides (a ``-r`` revision, which sorts
last of the types, makes a version lower than one that goes on with a further ``.number``: ``1.0-r1 < 1.0.1``).
An invalid version (``1.0bc``) compares by its valid prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from dockyard.scan.vuln.versions._errors import InvalidVersion

# token types, in the order apk ranks them
_INVALID = -1
_DIGIT_OR_ZERO = 0
_DIGIT = 1
_LETTER = 2
_SUFFIX = 3
_SUFFIX_NO = 4
_REVISION_NO = 5
_END = 6

_PRE = ("alpha", "beta", "pre", "rc")
_POST = ("cvs", "svn", "git", "hg", "p")


class _Reader:
    """A cursor over one version string that yields (type, value) pairs as apk-tools' tokeniser does."""

    __slots__ = ("pos", "text", "type")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.type = _DIGIT

    def _left(self) -> int:
        return len(self.text) - self.pos

    def _advance_type(self) -> None:
        """Classify the separator at the cursor (consuming it) and set the type of the next token."""
        t = self.type
        text, pos = self.text, self.pos
        n = _INVALID
        if pos >= len(text):
            n = _END
        elif t in (_DIGIT, _DIGIT_OR_ZERO) and text[pos].islower() and text[pos].isascii():
            n = _LETTER
        elif t == _LETTER and text[pos].isdigit():
            n = _DIGIT
        elif t == _SUFFIX and text[pos].isdigit():
            n = _SUFFIX_NO
        else:
            c = text[pos]
            if c == ".":
                n = _DIGIT_OR_ZERO
            elif c == "_":
                n = _SUFFIX
            elif c == "-" and pos + 1 < len(text) and text[pos + 1] == "r":
                n = _REVISION_NO
                pos += 1
            pos += 1
        self.pos = pos
        allowed_back = (
            (n == _DIGIT_OR_ZERO and t == _DIGIT)
            or (n == _SUFFIX and t == _SUFFIX_NO)
            or (n == _DIGIT and t == _LETTER)
        )
        if n < t and not allowed_back:
            n = _INVALID
        self.type = n

    def token(self) -> int:
        """The value of the token of the current type at the cursor; moves on and sets the next type."""
        if self._left() <= 0:
            self.type = _END
            return 0
        text, i = self.text, self.pos
        t = self.type
        v = 0
        next_type = _INVALID
        if t == _DIGIT_OR_ZERO and text[i] == "0":
            start = i
            while i < len(text) and text[i] == "0":
                i += 1
            next_type = _DIGIT
            v = -(i - start)
        elif t in (_DIGIT_OR_ZERO, _DIGIT, _SUFFIX_NO, _REVISION_NO):
            while i < len(text) and text[i].isdigit() and text[i].isascii():
                v = v * 10 + (ord(text[i]) - 48)
                i += 1
        elif t == _LETTER:
            v = ord(text[i])
            i += 1
        elif t == _SUFFIX:
            rest = text[i:]
            for k, name in enumerate(_PRE):
                if rest.startswith(name):
                    v, i = k - len(_PRE), i + len(name)
                    break
            else:
                for k, name in enumerate(_POST):
                    if rest.startswith(name):
                        v, i = k, i + len(name)
                        break
                else:
                    self.type = _INVALID
                    return -1
        else:
            self.type = _INVALID
            return -1
        self.pos = i
        if self._left() == 0:
            self.type = _END
        elif next_type != _INVALID:
            self.type = next_type
        else:
            self._advance_type()
        return v


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as apk orders version ``a`` against ``b``."""
    ra, rb = _Reader(a), _Reader(b)
    av = bv = 0
    while ra.type == rb.type and ra.type not in (_END, _INVALID) and av == bv:
        av = ra.token()
        bv = rb.token()
    if av != bv:
        return -1 if av < bv else 1
    at, bt = ra.type, rb.type
    if at == bt:
        return 0
    if at == _SUFFIX and ra.token() < 0:
        return -1
    if bt == _SUFFIX and rb.token() < 0:
        return 1
    if at > bt:
        return -1
    if bt > at:
        return 1
    return 0


def is_valid(text: str) -> bool:
    """Whether apk accepts ``text`` as a version (apk_version_validate)."""
    r = _Reader(text)
    while r.type not in (_END, _INVALID):
        r.token()
    return r.type == _END


_FIRST = re.compile(r"^\d")


@total_ordering
@dataclass(frozen=True, slots=True, eq=False)
class ApkVersion:
    text: str

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ApkVersion):
            return NotImplemented
        return compare(self.text, other.text) == 0

    def __lt__(self, other: ApkVersion) -> bool:
        return compare(self.text, other.text) < 0

    def __hash__(self) -> int:
        return hash(self.text)

    def __str__(self) -> str:
        return self.text


def parse(text: str) -> ApkVersion:
    """An apk version; raises :class:`InvalidVersion` for what apk would reject (``1.0bc``, ``2.7.16-33``)."""
    if not _FIRST.match(text) or not is_valid(text):
        raise InvalidVersion(f"invalid apk version {text!r}")
    return ApkVersion(text)


__all__ = ["ApkVersion", "compare", "is_valid", "parse"]
