"""Docker's shell-word lexer (BuildKit ``frontend/dockerfile/shell/lex.go``): quotes, escapes and ``$VAR`` forms."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from dockyard.errors import BuildError

_EOF = ""
_SPECIAL_PARAMS = frozenset("@*#?-$!0")


class _LexError(Exception):
    pass


def _is_space(ch: str) -> bool:
    return ch.isspace()


@dataclass
class _Words:
    word: str = ""
    words: list[str] = field(default_factory=list)
    in_word: bool = False

    def add_char(self, ch: str) -> None:
        if _is_space(ch) and self.in_word:
            if self.word:
                self.words.append(self.word)
                self.word = ""
                self.in_word = False
        elif not _is_space(ch):
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.word += ch
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw_string(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def get_words(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word = ""
            self.in_word = False
        return self.words


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else _EOF

    def next(self) -> str:
        if self.pos >= len(self.text):
            return _EOF
        ch = self.text[self.pos]
        self.pos += 1
        return ch


class Lexer:
    """One word's processing; ``raw_quotes``/``raw_escapes`` keep quotes/escapes in the output (heredoc parsing)."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        escape: str = "\\",
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_unset_env: bool = False,
    ) -> None:
        self.env = env
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset_env = skip_unset_env
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()
        self._sc = _Scanner("")

    def process(self, word: str) -> tuple[str, list[str]]:
        """The expanded word and its whitespace-split words; BuildError on bad syntax."""
        self._sc = _Scanner(word)
        try:
            return self._process_stop_on(_EOF, self.raw_escapes)
        except _LexError as e:
            raise BuildError(f"failed to process {_go_quote(word)}: {e}") from None

    def _process_stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        try:
            sc = self._sc
            while sc.peek() != _EOF:
                ch = sc.peek()
                if stop != _EOF and ch == stop:
                    sc.next()
                    return "".join(result), words.get_words()
                if ch == "$":
                    tmp = self._process_dollar()
                    result.append(tmp)
                    words.add_string(tmp)
                elif ch == "'":
                    tmp = self._process_single_quote()
                    result.append(tmp)
                    words.add_raw_string(tmp)
                elif ch == '"':
                    tmp = self._process_double_quote()
                    result.append(tmp)
                    words.add_raw_string(tmp)
                else:
                    ch = sc.next()
                    if ch == self.escape:
                        if self.raw_escapes:
                            words.add_raw_char(ch)
                            result.append(ch)
                        ch = sc.next()
                        if ch == _EOF:
                            break
                        words.add_raw_char(ch)
                    else:
                        words.add_char(ch)
                    result.append(ch)
            if stop != _EOF:
                raise _LexError(f"unexpected end of statement while looking for matching {stop}")
            return "".join(result), words.get_words()
        finally:
            self.raw_escapes = saved

    def _process_single_quote(self) -> str:
        sc = self._sc
        out: list[str] = []
        ch = sc.next()
        if self.raw_quotes:
            out.append(ch)
        while True:
            ch = sc.next()
            if ch == _EOF:
                raise _LexError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def _process_double_quote(self) -> str:
        sc = self._sc
        out: list[str] = []
        ch = sc.next()
        if self.raw_quotes:
            out.append(ch)
        while True:
            nxt = sc.peek()
            if nxt == _EOF:
                raise _LexError("unexpected end of statement while looking for matching double-quote")
            if nxt == '"':
                ch = sc.next()
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if nxt == "$":
                out.append(self._process_dollar())
                continue
            ch = sc.next()
            if ch == self.escape:
                if self.raw_escapes:
                    out.append(ch)
                after = sc.peek()
                if after == _EOF:
                    continue
                if after in ('"', "$", self.escape):
                    ch = sc.next()
            out.append(ch)

    def _get_env(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            self.matched.add(name)
            return self.env[name], True
        self.unmatched.add(name)
        return "", False

    def _process_name(self) -> str:
        sc = self._sc
        name: list[str] = []
        while sc.peek() != _EOF:
            ch = sc.peek()
            if not name and ch.isdigit():
                while sc.peek() != _EOF and sc.peek().isdigit():
                    name.append(sc.next())
                return "".join(name)
            if not name and ch in _SPECIAL_PARAMS:
                return sc.next()
            if not ch.isalpha() and not ch.isdigit() and ch != "_":
                break
            name.append(sc.next())
        return "".join(name)

    def _process_dollar(self) -> str:
        sc = self._sc
        sc.next()
        if sc.peek() != "{":
            name = self._process_name()
            if not name:
                return "$"
            value, found = self._get_env(name)
            if not found and self.skip_unset_env:
                return "$" + name
            return value
        sc.next()
        if sc.peek() == _EOF:
            raise _LexError("syntax error: missing '}'")
        if sc.peek() in "{}:":
            raise _LexError("syntax error: bad substitution")
        name = self._process_name()
        ch = sc.next()
        chs = ch if ch != _EOF else "\ufffd"
        null_is_unset = False
        if ch == "}":
            value, found = self._get_env(name)
            if not found and self.skip_unset_env:
                return "${" + name + "}"
            return value
        if ch in (":", "+", "-", "?", "#", "%"):
            if ch == ":":
                null_is_unset = True
                ch = sc.next()
                chs += ch if ch != _EOF else "\ufffd"
            raw = ch in ("#", "%")
            try:
                word, _ = self._process_stop_on("}", raw)
            except _LexError:
                if sc.peek() == _EOF:
                    raise _LexError("syntax error: missing '}'") from None
                raise
            value, found = self._get_env(name)
            if self.skip_unset_env and not found:
                return "${" + name + chs + word + "}"
            if ch == "-":
                return word if not found or (null_is_unset and value == "") else value
            if ch == "+":
                return "" if not found or (null_is_unset and value == "") else word
            if ch == "?":
                if not found:
                    raise _LexError(f"{name}: {word or 'is not allowed to be unset'}")
                if null_is_unset and value == "":
                    raise _LexError(f"{name}: {word or 'is not allowed to be empty'}")
                return value
            if ch in ("%", "#"):
                greedy = False
                if word and word[0] == ch:
                    greedy = True
                    word = word[1:]
                if ch == "%":
                    return _trim_suffix(word, value, greedy)
                return _trim_prefix(word, value, greedy)
            raise _LexError(f"unsupported modifier ({chs}) in substitution")
        if ch == "/":
            replace_all = sc.peek() == "/"
            if replace_all:
                sc.next()
            try:
                pattern, _ = self._process_stop_on("/", True)
            except _LexError:
                if sc.peek() == _EOF:
                    raise _LexError("syntax error: missing '/' in ${}") from None
                raise
            try:
                replacement, _ = self._process_stop_on("}", True)
            except _LexError:
                if sc.peek() == _EOF:
                    raise _LexError("syntax error: missing '}'") from None
                raise
            value, found = self._get_env(name)
            if self.skip_unset_env and not found:
                return "${" + name + "/" + pattern + "/" + replacement + "}"
            rx = _shell_pattern_regex(pattern, greedy=True, anchored=False)
            if replace_all:
                return rx.sub(lambda _m: replacement, value)
            m = rx.search(value)
            if m:
                value = value[: m.start()] + replacement + value[m.end() :]
            return value
        raise _LexError(f"unsupported modifier ({chs}) in substitution")


_REGEX_SPECIAL = frozenset("[]{}.+()|^$")


def _shell_pattern_regex(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i = 0
    while i < len(pattern):
        tok = pattern[i]
        i += 1
        if tok == "*":
            out.append(star)
            continue
        if tok == "?":
            out.append(".")
            continue
        if tok == "\\":
            nxt = pattern[i] if i < len(pattern) else _EOF
            if nxt in ("}", "/"):
                continue
            tok = nxt
            i += 1
            if tok not in ("*", "?", "\\"):
                shown = tok if tok else "\ufffd"
                raise _LexError(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{shown}'")
            out.append("\\" + tok)
            continue
        if tok in _REGEX_SPECIAL:
            out.append("\\" + tok)
            continue
        out.append(tok)
    return re.compile("".join(out))


def _reverse_pattern(pattern: str) -> str:
    out = [""] * len(pattern)
    last = len(pattern) - 1
    i = 0
    while i <= last:
        tok = pattern[i]
        j = last - i
        if tok == "\\" and i != last:
            out[j - 1] = tok
            out[j] = pattern[i + 1]
            i += 2
        else:
            out[j] = tok
            i += 1
    return "".join(out)


def _trim_prefix(word: str, value: str, greedy: bool) -> str:
    rx = _shell_pattern_regex(word, greedy=greedy, anchored=True)
    m = rx.search(value)
    return value[m.end() :] if m else value


def _trim_suffix(pattern: str, word: str, greedy: bool) -> str:
    return _trim_prefix(_reverse_pattern(pattern), word[::-1], greedy)[::-1]


def _go_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def expand(word: str, env: Mapping[str, str], *, escape: str = "\\") -> str:
    """``word`` with quotes removed and variables substituted (BuildKit's ``ProcessWord``)."""
    return Lexer(env, escape=escape).process(word)[0]


def expand_words(word: str, env: Mapping[str, str], *, escape: str = "\\") -> list[str]:
    """``word`` expanded then split on unquoted whitespace (BuildKit's ``ProcessWords``)."""
    return Lexer(env, escape=escape).process(word)[1]


def expand_with_matches(word: str, env: Mapping[str, str], *, escape: str = "\\") -> tuple[str, frozenset[str]]:
    """``expand`` and the names of the variables of ``env`` it used (for build-arg tracking)."""
    lex = Lexer(env, escape=escape)
    result = lex.process(word)[0]
    return result, frozenset(lex.matched)
