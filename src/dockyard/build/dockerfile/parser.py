"""Dockerfile text to instruction nodes, as BuildKit's ``frontend/dockerfile/parser`` does.

Directives, line continuations, comments inside continuations, flags (``--x=y``), heredocs, and the per-instruction
argument forms (JSON or shell form, ``name=value`` lists, whitespace-delimited words).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from dockyard.build.dockerfile.shell import Lexer
from dockyard.errors import BuildError

_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC = re.compile(r"(\d*)<<(-?)([^<]*)")
_LINE = re.compile(r"[^\n]*\n|[^\n]+")
_VALID_DIRECTIVES = ("escape", "syntax", "check")
HEREDOC_INSTRUCTIONS = frozenset({"add", "copy", "run"})
NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only"


class ParseError(Exception):
    """A parse failure at a line (converted to DockerfileError by the caller)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True)
class Heredoc:
    """A here-document: ``content`` has the leading tabs already stripped when ``chomp`` (``<<-``)."""

    name: str
    content: str
    expand: bool
    chomp: bool


@dataclass
class Node:
    """One instruction as parsed: lower-case keyword, flags, argument words, JSON attribute, heredocs."""

    cmd: str
    keyword: str
    original: str
    flags: list[str]
    args: list[str]
    json: bool = False
    heredocs: list[Heredoc] = field(default_factory=list)
    start_line: int = 0
    end_line: int = 0
    sub: Node | None = None


def _continuation(escape: str) -> re.Pattern[str]:
    """The escape token ends a line as a continuation unless an escape token precedes it (BuildKit's regex)."""
    e = re.escape(escape)
    return re.compile(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z", re.DOTALL)


@dataclass
class _Directives:
    escape: str = "\\"
    done: bool = False
    seen: dict[str, str] = field(default_factory=dict)
    continuation: re.Pattern[str] = field(default_factory=lambda: _continuation("\\"))

    def set_escape(self, value: str) -> None:
        if value not in ("`", "\\"):
            raise BuildError(f"invalid escape token '{value}' does not match ` or \\")
        self.escape = value
        self.continuation = _continuation(value)

    def possible_directive(self, line: str) -> None:
        if self.done:
            return
        m = _DIRECTIVE.match(line)
        if not m:
            self.done = True
            return
        key = m.group(1).lower()
        if key not in _VALID_DIRECTIVES:
            self.done = True
            return
        if key in self.seen:
            raise BuildError(f"only one {key} parser directive can be used")
        self.seen[key] = m.group(2)
        if key == "escape":
            self.set_escape(m.group(2))


@dataclass
class ParseResult:
    nodes: list[Node]
    escape: str
    directives: dict[str, str]
    warnings: list[str]


def _trim_newline(line: str) -> str:
    return line.rstrip("\r\n")


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _process_line(d: _Directives, token: str, strip_left: bool) -> str:
    if strip_left:
        token = token.lstrip()
    try:
        d.possible_directive(token)
    except BuildError as e:
        raise ParseError(str(e), 0) from None
    return "" if token.startswith("#") else token


def _trim_continuation(line: str, d: _Directives) -> tuple[str, bool]:
    if d.continuation.search(line):
        return d.continuation.sub(lambda m: m.group(1) or "", line), False
    return line, True


def parse_text(text: str) -> ParseResult:
    """Parse a whole Dockerfile into nodes (ParseError carries the 1-based line)."""
    lines = _LINE.findall(text)
    d = _Directives()
    nodes: list[Node] = []
    warnings: list[str] = []
    current = 0
    i = 0
    while i < len(lines):
        raw = _trim_newline(lines[i])
        i += 1
        if current == 0:
            raw = raw.removeprefix("\ufeff")
        try:
            text_line = _process_line(d, raw, True)
        except ParseError as e:
            raise ParseError(e.message, current + 1) from None
        current += 1
        start = current
        line, eol = _trim_continuation(text_line, d)
        if eol and line == "":
            continue
        empty_continuation = False
        while not eol and i < len(lines):
            raw = _trim_newline(lines[i])
            i += 1
            cont = _process_line(d, raw, False)
            current += 1
            if _is_comment(raw):
                continue
            if not cont.strip():
                empty_continuation = True
                continue
            cont, eol = _trim_continuation(cont, d)
            line += cont
        if empty_continuation:
            warnings.append(f"[WARNING]: Empty continuation line found in:\n    {line}")
        try:
            node = node_from_line(line, d.escape)
        except BuildError as e:
            raise ParseError(str(e), start) from None
        target = node.sub if node.cmd == "onbuild" and node.sub is not None else node
        if target.cmd in HEREDOC_INSTRUCTIONS and not target.json and "<<" in line:
            try:
                docs = heredocs_from_line(line)
            except BuildError as e:
                raise ParseError(str(e), start) from None
            for doc in docs:
                body: list[str] = []
                terminated = False
                while i < len(lines):
                    raw_line = lines[i]
                    i += 1
                    current += 1
                    candidate = _trim_newline(raw_line)
                    if doc.chomp:
                        candidate = candidate.lstrip("\t")
                    if candidate == doc.name:
                        terminated = True
                        break
                    body.append(raw_line)
                if not terminated:
                    raise ParseError("unterminated heredoc", start)
                content = "".join(body)
                if doc.chomp:
                    content = chomp_heredoc(content)
                target.heredocs.append(Heredoc(doc.name, content, doc.expand, doc.chomp))
            if target is not node:
                node.heredocs = target.heredocs
        node.start_line = start
        node.end_line = current
        nodes.append(node)
    if warnings:
        warnings.append("[WARNING]: Empty continuation lines will become errors in a future release.")
    if not nodes:
        raise ParseError("file with no instructions", current)
    return ParseResult(nodes, d.escape, dict(d.seen), warnings)


def chomp_heredoc(content: str) -> str:
    """Strip the leading tabs of every line (``<<-``)."""
    return re.sub(r"(?m)^\t+", "", content)


def heredocs_from_line(line: str) -> list[Heredoc]:
    """The heredoc markers of an instruction line, in order (content left empty)."""
    lex = Lexer({}, raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    try:
        _, words = lex.process(line)
    except BuildError:
        return []
    docs: list[Heredoc] = []
    for word in words:
        doc = parse_heredoc(word)
        if doc is not None:
            docs.append(doc)
    return docs


def parse_heredoc(word: str) -> Heredoc | None:
    """A heredoc marker (``<<EOF``, ``<<-"EOF"``, ``3<<EOF``) or None when ``word`` is not one."""
    m = _HEREDOC.fullmatch(word)
    if not m:
        return None
    chomp = m.group(2) == "-"
    rest = m.group(3)
    if not rest:
        return None
    words = Lexer({}, skip_unset_env=True).process(rest)[1]
    if len(words) != 1:
        return None
    raw_words = Lexer({}, skip_unset_env=True, raw_quotes=True).process(rest)[1]
    if len(raw_words) != len(words):
        raise BuildError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    name = words[0]
    quotes = name.count("'") + name.count('"')
    raw_quotes = raw_words[0].count("'") + raw_words[0].count('"')
    return Heredoc(name=name, content="", expand=quotes == raw_quotes, chomp=chomp)


def _split_command(line: str) -> tuple[str, list[str], str]:
    parts = _WHITESPACE.split(line.strip(), maxsplit=1)
    args = ""
    flags: list[str] = []
    if len(parts) == 2:
        args, flags = extract_builder_flags(parts[1])
    return parts[0], flags, args.strip()


def extract_builder_flags(line: str) -> tuple[str, list[str]]:
    """Split the leading ``--flag[=value]`` words off an instruction's arguments."""
    in_spaces, in_word, in_quote = 0, 1, 2
    words: list[str] = []
    phase = in_spaces
    word = ""
    quote = ""
    blank_ok = False
    pos = 0
    n = len(line)
    while pos <= n:
        ch = line[pos] if pos != n else ""
        if phase == in_spaces:
            if pos == n:
                break
            if ch.isspace():
                pos += 1
                continue
            if ch != "-" or pos + 1 == n or line[pos + 1] != "-":
                return line[pos:], words
            phase = in_word
        if phase in (in_word, in_quote) and pos == n:
            if word != "--" and (blank_ok or word):
                words.append(word)
            break
        if phase == in_word:
            if ch.isspace():
                phase = in_spaces
                if word == "--":
                    return line[pos:], words
                if blank_ok or word:
                    words.append(word)
                word = ""
                blank_ok = False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = in_quote
                pos += 1
                continue
            if ch == "\\":
                if pos + 1 == n:
                    pos += 1
                    continue
                pos += 1
                ch = line[pos]
            word += ch
            pos += 1
            continue
        if phase == in_quote:
            if ch == quote:
                phase = in_word
                pos += 1
                continue
            if ch == "\\":
                if pos + 1 == n:
                    phase = in_word
                    pos += 1
                    continue
                pos += 1
                ch = line[pos]
            word += ch
        pos += 1
    return "", words


def parse_words(rest: str, escape: str) -> list[str]:
    """Whitespace-separated words keeping quotes and escapes (BuildKit ``parseWords``)."""
    in_spaces, in_word, in_quote = 0, 1, 2
    words: list[str] = []
    phase = in_spaces
    word = ""
    quote = ""
    blank_ok = False
    pos = 0
    n = len(rest)
    while pos <= n:
        ch = rest[pos] if pos != n else ""
        if phase == in_spaces:
            if pos == n:
                break
            if ch.isspace():
                pos += 1
                continue
            phase = in_word
        if phase in (in_word, in_quote) and pos == n:
            if blank_ok or word:
                words.append(word)
            break
        if phase == in_word:
            if ch.isspace():
                phase = in_spaces
                if blank_ok or word:
                    words.append(word)
                word = ""
                blank_ok = False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = in_quote
            if ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue
                word += ch
                pos += 1
                ch = rest[pos]
            word += ch
            pos += 1
            continue
        if phase == in_quote:
            if ch == quote:
                phase = in_word
            if ch == escape and quote != "'":
                if pos + 1 == n:
                    phase = in_word
                    pos += 1
                    continue
                pos += 1
                word += ch
                ch = rest[pos]
            word += ch
        pos += 1
    return words


def _parse_json(rest: str) -> list[str] | None:
    rest = rest.lstrip()
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, str) for v in value):
        raise BuildError(NOT_STRING_ARRAY)
    return list(value)


def _reject_constant(name: str) -> object:
    raise ValueError(name)


def _name_val(rest: str, key: str, escape: str) -> list[str]:
    words = parse_words(rest, escape)
    if not words:
        return []
    if "=" not in words[0]:
        parts = _WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise BuildError(f"{key} must have two arguments")
        return [parts[0], parts[1]]
    out: list[str] = []
    for word in words:
        if "=" not in word:
            raise BuildError(f"Syntax error - can't find = in {_go_q(word)}. Must be of the form: name=value")
        k, v = word.split("=", 1)
        out += [k, v]
    return out


def _go_q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _whitespace_words(rest: str) -> list[str]:
    if not rest:
        return []
    return _WHITESPACE.split(rest)


def node_from_line(line: str, escape: str) -> Node:
    """One (continuation-joined) instruction line to a Node; BuildError on bad arguments."""
    keyword, flags, rest = _split_command(line)
    cmd = keyword.lower()
    node = Node(cmd=cmd, keyword=keyword, original=line, flags=flags, args=[])
    if cmd in ("add", "copy", "volume"):
        parsed = _parse_json(rest)
        if parsed is not None:
            node.args, node.json = parsed, True
        else:
            node.args = _whitespace_words(rest)
    elif cmd in ("cmd", "entrypoint", "run", "shell"):
        if rest:
            parsed = _parse_json(rest)
            if parsed is not None:
                node.args, node.json = parsed, True
            else:
                node.args = [rest]
    elif cmd == "arg":
        node.args = parse_words(rest, escape)
    elif cmd in ("env", "label"):
        node.args = _name_val(rest, "ENV" if cmd == "env" else "LABEL", escape)
    elif cmd in ("expose", "from"):
        node.args = _whitespace_words(rest)
    elif cmd in ("maintainer", "stopsignal", "user", "workdir"):
        node.args = [rest] if rest else []
    elif cmd == "healthcheck":
        m = re.match(r"(\S*)(\s*)(.*)", rest, re.DOTALL)
        assert m is not None
        typ, tail = m.group(1), m.group(3)
        if typ:
            node.args = [typ]
            if tail:
                parsed = _parse_json(tail)
                if parsed is not None:
                    node.args += parsed
                    node.json = True
                else:
                    node.args.append(tail)
    elif cmd == "onbuild" and rest:
        node.sub = node_from_line(rest, escape)
        node.args = [node.sub.keyword, *node.sub.args]
    return node
