"""Typed Dockerfile instructions (BuildKit ``frontend/dockerfile/instructions``); values stay unexpanded."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.build.dockerfile.parser import Heredoc, Node, node_from_line, parse_heredoc
from dockyard.errors import BuildError


@dataclass(frozen=True)
class Arg:
    line: int
    original: str
    pairs: tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class Env:
    line: int
    original: str
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Label:
    line: int
    original: str
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Run:
    line: int
    original: str
    command: tuple[str, ...]
    shell_form: bool
    heredocs: tuple[Heredoc, ...] = ()
    mounts: tuple[str, ...] = ()
    network: str | None = None
    security: str | None = None


@dataclass(frozen=True)
class Copy:
    line: int
    original: str
    sources: tuple[str, ...]
    dest: str
    from_: str | None = None
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    excludes: tuple[str, ...] = ()
    parents: bool = False
    heredocs: tuple[Heredoc, ...] = ()


@dataclass(frozen=True)
class Add:
    line: int
    original: str
    sources: tuple[str, ...]
    dest: str
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    excludes: tuple[str, ...] = ()
    parents: bool = False
    heredocs: tuple[Heredoc, ...] = ()
    checksum: str | None = None
    keep_git_dir: bool = False
    unpack: bool | None = None


@dataclass(frozen=True)
class Workdir:
    line: int
    original: str
    path: str


@dataclass(frozen=True)
class User:
    line: int
    original: str
    user: str


@dataclass(frozen=True)
class Expose:
    line: int
    original: str
    ports: tuple[str, ...]


@dataclass(frozen=True)
class Entrypoint:
    line: int
    original: str
    command: tuple[str, ...]
    shell_form: bool


@dataclass(frozen=True)
class Cmd:
    line: int
    original: str
    command: tuple[str, ...]
    shell_form: bool


@dataclass(frozen=True)
class Volume:
    line: int
    original: str
    paths: tuple[str, ...]


@dataclass(frozen=True)
class StopSignal:
    line: int
    original: str
    signal: str


@dataclass(frozen=True)
class Shell:
    line: int
    original: str
    command: tuple[str, ...]


@dataclass(frozen=True)
class Healthcheck:
    """``test`` is None for ``HEALTHCHECK NONE``; durations are nanoseconds, None when the flag is absent."""

    line: int
    original: str
    test: tuple[str, ...] | None
    interval: int | None = None
    timeout: int | None = None
    start_period: int | None = None
    start_interval: int | None = None
    retries: int | None = None


@dataclass(frozen=True)
class Onbuild:
    line: int
    original: str
    expression: str


@dataclass(frozen=True)
class Maintainer:
    line: int
    original: str
    name: str


Command = (
    Arg
    | Env
    | Label
    | Run
    | Copy
    | Add
    | Workdir
    | User
    | Expose
    | Entrypoint
    | Cmd
    | Volume
    | StopSignal
    | Shell
    | Healthcheck
    | Onbuild
    | Maintainer
)


@dataclass(frozen=True)
class From:
    """A FROM line (becomes a Stage)."""

    line: int
    original: str
    base: str
    name: str | None
    platform: str | None


_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")
_ONBUILD_PREFIX = re.compile(r"(?i)^\s*ONBUILD\s*")


class _Flags:
    """BuildKit's BFlags: ``--name=value`` words checked against the instruction's declared flags."""

    def __init__(self, args: list[str]) -> None:
        self.args = args
        self.kinds: dict[str, str] = {}
        self.values: dict[str, list[str]] = {}

    def declare(self, name: str, kind: str) -> None:
        self.kinds[name] = kind

    def parse(self) -> None:
        for arg in self.args:
            if not arg.startswith("--"):
                raise BuildError(f"arg should start with -- : {arg}")
            if arg == "--":
                return
            body = arg[2:]
            value = ""
            has_value = "=" in body
            if has_value:
                body, value = body.split("=", 1)
            kind = self.kinds.get(body)
            if kind is None:
                raise BuildError(f"unknown flag: {body}")
            if body in self.values and kind != "strings":
                raise BuildError(f"duplicate flag specified: {body}")
            if kind == "bool":
                if has_value and value == "":
                    raise BuildError(f"missing a value on flag: {body}")
                lower = value.lower()
                if lower not in ("", "true", "false"):
                    raise BuildError(f"expecting boolean value for flag {body}, not: {value}")
                self.values[body] = ["false" if lower == "false" else "true"]
            else:
                if not has_value:
                    raise BuildError(f"missing a value on flag: {body}")
                self.values.setdefault(body, []).append(value)

    def string(self, name: str) -> str | None:
        v = self.values.get(name)
        return v[-1] if v else None

    def strings(self, name: str) -> tuple[str, ...]:
        return tuple(self.values.get(name, ()))

    def boolean(self, name: str) -> bool:
        return self.values.get(name, ["false"])[-1] == "true"

    def optional_bool(self, name: str) -> bool | None:
        v = self.values.get(name)
        return None if v is None else v[-1] == "true"


def _flags(node: Node, kinds: dict[str, str] | None = None) -> _Flags:
    f = _Flags(node.flags)
    for name, kind in (kinds or {}).items():
        f.declare(name, kind)
    f.parse()
    return f


def _at_least_one(name: str) -> BuildError:
    return BuildError(f"{name} requires at least one argument")


def _exactly_one(name: str) -> BuildError:
    return BuildError(f"{name} requires exactly one argument")


def _cmdline(node: Node) -> tuple[str, ...]:
    if not node.args:
        return ()
    if node.json:
        return tuple(node.args)
    return (" ".join(node.args),)


def _pairs(node: Node, name: str) -> tuple[tuple[str, str], ...]:
    if not node.args:
        raise _at_least_one(name)
    if len(node.args) % 2:
        raise BuildError(f"Bad input to {name}, too many arguments")
    out = []
    for k, v in zip(node.args[::2], node.args[1::2], strict=True):
        if not k:
            raise BuildError(f"{name} names can not be blank")
        out.append((k, v))
    return tuple(out)


_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([^0-9.]*)")


def parse_duration(text: str) -> int:
    """Go's ``time.ParseDuration`` in nanoseconds."""
    bad = BuildError(f'time: invalid duration "{text}"')
    s = text
    sign = 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise bad
    total = 0.0
    exact = 0
    while s:
        m = _DURATION_PART.match(s)
        if not m or not m.group(1) or m.group(1) == ".":
            raise bad
        number, unit = m.group(1), m.group(2)
        if not unit:
            raise BadUnitError(f'time: missing unit in duration "{text}"')
        if unit not in _UNITS:
            raise BadUnitError(f'time: unknown unit "{unit}" in duration "{text}"')
        whole, _, frac = number.partition(".")
        exact += int(whole or "0") * _UNITS[unit]
        if frac:
            total += float("0." + frac) * _UNITS[unit]
        s = s[m.end() :]
    return sign * (exact + int(total))


class BadUnitError(BuildError):
    """A duration without a known unit."""


def _interval(f: _Flags, name: str) -> int | None:
    value = f.string(name)
    if value is None:
        return None
    if value == "":
        return 0
    d = parse_duration(value)
    if d == 0:
        return 0
    if d < 1_000_000:
        raise BuildError(f'Interval "{name}" cannot be less than 1ms')
    return d


def _healthcheck(node: Node) -> Healthcheck:
    if not node.args:
        raise _at_least_one("HEALTHCHECK")
    typ = node.args[0].upper()
    args = node.args[1:]
    line, orig = node.start_line, node.original
    if typ == "NONE":
        if args:
            raise BuildError("HEALTHCHECK NONE takes no arguments")
        return Healthcheck(line, orig, None)
    f = _flags(
        node,
        {
            "interval": "string",
            "timeout": "string",
            "start-period": "string",
            "start-interval": "string",
            "retries": "string",
        },
    )
    if typ != "CMD":
        raise BuildError(f'Unknown type "{typ}" in HEALTHCHECK (try CMD)')
    cmd = tuple(args) if node.json else ((" ".join(args),) if args else ())
    if not cmd:
        raise BuildError("Missing command after HEALTHCHECK CMD")
    test = ("CMD", *cmd) if node.json else ("CMD-SHELL", *cmd)
    retries: int | None = None
    raw_retries = f.string("retries")
    if raw_retries is not None and raw_retries != "":
        if not re.fullmatch(r"[+-]?[0-9]+", raw_retries) or abs(int(raw_retries)) >= 2**31:
            raise BuildError(f'strconv.ParseInt: parsing "{raw_retries}": invalid syntax')
        retries = int(raw_retries)
        if retries < 0:
            raise BuildError(f"--retries cannot be negative ({retries})")
    return Healthcheck(
        line,
        orig,
        test,
        _interval(f, "interval"),
        _interval(f, "timeout"),
        _interval(f, "start-period"),
        _interval(f, "start-interval"),
        retries,
    )


def _sources_and_dest(node: Node, name: str) -> tuple[tuple[str, ...], str, tuple[Heredoc, ...]]:
    if len(node.args) < 2:
        raise BuildError(
            f"{name} requires at least two arguments, but only one was provided. Destination could not be determined"
        )
    srcs, dest = node.args[:-1], node.args[-1]
    if parse_heredoc(dest) is not None:
        raise BuildError(f"{name} cannot accept a heredoc as a destination")
    by_name = {h.name: h for h in node.heredocs}
    paths: list[str] = []
    docs: list[Heredoc] = []
    for src in srcs:
        marker = parse_heredoc(src) if not node.json else None
        if marker is not None:
            found = by_name.get(marker.name)
            docs.append(found if found is not None else Heredoc(marker.name, "", marker.expand, marker.chomp))
        else:
            paths.append(src)
    return tuple(paths), dest, tuple(docs)


def _from(node: Node) -> From:
    args = node.args
    name: str | None = None
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _STAGE_NAME.match(name):
            raise BuildError(
                f'invalid name for build stage: "{args[2]}", name can\'t start with a number or contain symbols'
            )
    elif len(args) != 1:
        raise BuildError("FROM requires either one or three arguments")
    f = _flags(node, {"platform": "string"})
    return From(node.start_line, node.original.strip(), args[0], name, f.string("platform"))


def to_instruction(node: Node) -> Command | From:
    """A parsed node to its typed instruction (BuildError on bad arguments or flags)."""
    c, line, orig = node.cmd, node.start_line, node.original
    if c == "from":
        return _from(node)
    if c == "env":
        _flags(node)
        return Env(line, orig, _pairs(node, "ENV"))
    if c == "label":
        _flags(node)
        return Label(line, orig, _pairs(node, "LABEL"))
    if c == "maintainer":
        if len(node.args) != 1:
            raise _exactly_one("MAINTAINER")
        _flags(node)
        return Maintainer(line, orig, node.args[0])
    if c == "arg":
        if not node.args:
            raise _at_least_one("ARG")
        _flags(node)
        pairs: list[tuple[str, str | None]] = []
        for word in node.args:
            if "=" in word:
                k, v = word.split("=", 1)
                if not k:
                    raise BuildError("ARG names can not be blank")
                pairs.append((k, v))
            else:
                pairs.append((word, None))
        return Arg(line, orig, tuple(pairs))
    if c == "copy":
        f = _flags(
            node,
            {
                "chown": "string",
                "from": "string",
                "chmod": "string",
                "link": "bool",
                "parents": "bool",
                "exclude": "strings",
            },
        )
        srcs, dest, docs = _sources_and_dest(node, "COPY")
        return Copy(
            line,
            orig,
            srcs,
            dest,
            f.string("from"),
            f.string("chown"),
            f.string("chmod"),
            f.boolean("link"),
            f.strings("exclude"),
            f.boolean("parents"),
            docs,
        )
    if c == "add":
        f = _flags(
            node,
            {
                "chown": "string",
                "chmod": "string",
                "link": "bool",
                "keep-git-dir": "bool",
                "checksum": "string",
                "exclude": "strings",
                "parents": "bool",
                "unpack": "bool",
            },
        )
        srcs, dest, docs = _sources_and_dest(node, "ADD")
        return Add(
            line,
            orig,
            srcs,
            dest,
            f.string("chown"),
            f.string("chmod"),
            f.boolean("link"),
            f.strings("exclude"),
            f.boolean("parents"),
            docs,
            f.string("checksum"),
            f.boolean("keep-git-dir"),
            f.optional_bool("unpack"),
        )
    if c == "onbuild":
        if not node.args or node.sub is None:
            raise _at_least_one("ONBUILD")
        _flags(node)
        trigger = node.args[0].strip().upper()
        if trigger == "ONBUILD":
            raise BuildError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger in ("MAINTAINER", "FROM"):
            raise BuildError(f"{trigger} isn't allowed as an ONBUILD trigger")
        expression = _ONBUILD_PREFIX.sub("", orig, count=1)
        for h in node.heredocs:
            expression += "\n" + h.content + h.name
        return Onbuild(line, orig, expression)
    if c == "workdir":
        if len(node.args) != 1:
            raise _exactly_one("WORKDIR")
        _flags(node)
        return Workdir(line, orig, node.args[0])
    if c == "run":
        f = _flags(node, {"mount": "strings", "network": "string", "security": "string"})
        return Run(
            line,
            orig,
            _cmdline(node),
            not node.json,
            tuple(node.heredocs),
            f.strings("mount"),
            f.string("network"),
            f.string("security"),
        )
    if c == "cmd":
        _flags(node)
        return Cmd(line, orig, _cmdline(node), not node.json)
    if c == "entrypoint":
        _flags(node)
        return Entrypoint(line, orig, _cmdline(node), not node.json)
    if c == "healthcheck":
        return _healthcheck(node)
    if c == "expose":
        if not node.args:
            raise _at_least_one("EXPOSE")
        _flags(node)
        return Expose(line, orig, tuple(node.args))
    if c == "user":
        if len(node.args) != 1:
            raise _exactly_one("USER")
        _flags(node)
        return User(line, orig, node.args[0])
    if c == "volume":
        if not node.args:
            raise _at_least_one("VOLUME")
        _flags(node)
        paths = []
        for v in node.args:
            v = v.strip()
            if not v:
                raise BuildError("VOLUME specified can not be an empty string")
            paths.append(v)
        return Volume(line, orig, tuple(paths))
    if c == "stopsignal":
        if len(node.args) != 1:
            raise _exactly_one("STOPSIGNAL")
        _flags(node)
        return StopSignal(line, orig, node.args[0])
    if c == "shell":
        _flags(node)
        cmdline = _cmdline(node)
        if not cmdline:
            raise _at_least_one("SHELL")
        if not node.json:
            raise BuildError("SHELL requires the arguments to be in JSON form")
        return Shell(line, orig, cmdline)
    raise BuildError(f"unknown instruction: {node.keyword}")


def parse_instruction_line(text: str, escape: str = "\\") -> Command | From:
    """One instruction line (no heredoc bodies) to its typed instruction."""
    return to_instruction(node_from_line(text, escape))
