"""A parsed Dockerfile: its stages, meta ARGs, and the stage graph (which stages a target needs)."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass

from dockyard.build.dockerfile.instructions import Arg, Command, Copy, From, Run, to_instruction
from dockyard.build.dockerfile.parser import ParseError, parse_text
from dockyard.build.dockerfile.shell import expand
from dockyard.errors import BuildError, DockerfileError


@dataclass(frozen=True)
class Stage:
    """One ``FROM`` and the commands up to the next; ``base`` and ``platform`` are unexpanded."""

    index: int
    name: str | None
    base: str
    platform: str | None
    line: int
    commands: tuple[Command, ...]
    original: str = ""


@dataclass(frozen=True)
class Dockerfile:
    """A whole Dockerfile; ``syntax`` is the ``# syntax=`` directive (noted, not acted on)."""

    path: str
    escape: str
    syntax: str | None
    meta_args: tuple[Arg, ...]
    stages: tuple[Stage, ...]
    warnings: tuple[str, ...] = ()

    def stage(self, name_or_index: str) -> Stage:
        """The stage named (case-insensitively) or numbered ``name_or_index``."""
        wanted = name_or_index.lower()
        for st in self.stages:
            if st.name is not None and st.name == wanted:
                return st
        if name_or_index.isdigit() and int(name_or_index) < len(self.stages):
            return self.stages[int(name_or_index)]
        raise DockerfileError(self.path, 0, f'target stage "{name_or_index}" could not be found')


def parse(text: str, path: str = "Dockerfile") -> Dockerfile:
    """Parse a Dockerfile; DockerfileError names ``path`` and the line of the fault."""
    try:
        result = parse_text(text)
    except ParseError as e:
        raise DockerfileError(path, e.line, e.message) from None
    meta: list[Arg] = []
    stages: list[Stage] = []
    head: From | None = None
    commands: list[Command] = []
    names: set[str] = set()

    def close() -> None:
        if head is not None:
            stages.append(
                Stage(len(stages), head.name, head.base, head.platform, head.line, tuple(commands), head.original)
            )

    for node in result.nodes:
        try:
            ins = to_instruction(node)
        except BuildError as e:
            raise DockerfileError(path, node.start_line, str(e)) from None
        if isinstance(ins, From):
            close()
            if ins.name is not None:
                if ins.name in names:
                    raise DockerfileError(path, ins.line, f'duplicate stage name "{ins.name}"')
                names.add(ins.name)
            head, commands = ins, []
        elif head is None:
            if not isinstance(ins, Arg):
                raise DockerfileError(path, node.start_line, "no build stage in current context")
            meta.append(ins)
        else:
            commands.append(ins)
    close()
    if not stages:
        raise DockerfileError(path, 0, "no build stage in current context")
    return Dockerfile(
        path, result.escape, result.directives.get("syntax"), tuple(meta), tuple(stages), tuple(result.warnings)
    )


def parse_instruction(text: str, path: str = "ONBUILD") -> Command:
    """One instruction (an ONBUILD trigger of a base image, heredoc bodies included)."""
    try:
        result = parse_text(text)
    except ParseError as e:
        raise DockerfileError(path, e.line, e.message) from None
    if len(result.nodes) != 1:
        raise DockerfileError(path, 0, f"expected one instruction, found {len(result.nodes)}")
    node = result.nodes[0]
    try:
        ins = to_instruction(node)
    except BuildError as e:
        raise DockerfileError(path, node.start_line, str(e)) from None
    if isinstance(ins, From):
        raise DockerfileError(path, node.start_line, "FROM isn't allowed as an ONBUILD trigger")
    return ins


@dataclass(frozen=True)
class StageRefs:
    """What a stage refers to once FROM is expanded with the meta ARGs.

    ``base`` is the expanded FROM image (``scratch`` included); ``base_stage`` is set when it names an earlier
    stage. ``sources`` lists, for each COPY ``--from`` and RUN ``--mount=from=``, the position of the command in
    ``Stage.commands``, the stage index it names (None for an image) and the reference as written after expansion.
    """

    index: int
    base: str
    base_stage: int | None
    platform: str | None
    sources: tuple[tuple[int, int | None, str], ...]
    deps: frozenset[int]


def mount_from(mount: str) -> str | None:
    """The ``from=`` field of a raw ``--mount`` value (CSV ``key=value`` fields), or None."""
    try:
        fields = next(csv.reader([mount]), [])
    except csv.Error:
        return None
    for f in fields:
        key, sep, value = f.partition("=")
        if sep and key.strip().lower() == "from":
            return value
    return None


def resolve_stage(df: Dockerfile, ref: str, *, numeric: bool = True) -> int | None:
    """The index of the stage ``ref`` names (a stage name, case-insensitively, or a number when ``numeric``),
    or None when it names an image."""
    if numeric and ref.isdigit():
        idx = int(ref)
        if idx >= len(df.stages):
            raise DockerfileError(df.path, 0, f"invalid stage index {idx}")
        return idx
    wanted = ref.lower()
    for st in df.stages:
        if st.name == wanted:
            return st.index
    return None


def stage_refs(df: Dockerfile, meta_env: Mapping[str, str]) -> tuple[StageRefs, ...]:
    """Each stage's base and sources, FROM and ``--platform`` expanded with ``meta_env`` (meta ARGs, build args,
    BUILDPLATFORM...). As BuildKit: FROM names an earlier stage only by its exact (lower-case) name; COPY
    ``--from`` takes a name or an index, RUN ``--mount=from=`` a name; both must name an earlier stage."""
    out: list[StageRefs] = []
    for st in df.stages:
        try:
            base = expand(st.base, meta_env, escape=df.escape)
            platform = expand(st.platform, meta_env, escape=df.escape) if st.platform is not None else None
        except BuildError as e:
            raise DockerfileError(df.path, st.line, str(e)) from None
        if not base:
            raise DockerfileError(df.path, st.line, f"base name ({st.base}) should not be blank")
        base_stage = None
        for prev in df.stages[: st.index]:
            if prev.name is not None and prev.name == base:
                base_stage = prev.index
        here = st.name or str(st.index)
        sources: list[tuple[int, int | None, str]] = []
        for pos, cmd in enumerate(st.commands):
            refs: list[tuple[str, bool]] = []
            if isinstance(cmd, Copy) and cmd.from_:
                refs.append((cmd.from_, True))
            elif isinstance(cmd, Run):
                refs += [(r, False) for r in (mount_from(m) for m in cmd.mounts) if r]
            for raw, is_copy in refs:
                try:
                    ref = expand(raw, meta_env, escape=df.escape)
                except BuildError:
                    ref = raw
                try:
                    idx = resolve_stage(df, ref, numeric=is_copy)
                except DockerfileError as e:
                    raise DockerfileError(df.path, cmd.line, e.reason) from None
                if idx is not None and idx >= st.index:
                    message = (
                        f'cannot copy from stage "{ref}", it needs to be defined before current stage "{here}"'
                        if is_copy
                        else f'cannot mount from stage "{ref}", stage needs to be defined before current command'
                    )
                    raise DockerfileError(df.path, cmd.line, message)
                sources.append((pos, idx, ref))
        deps = {i for _, i, _ in sources if i is not None}
        if base_stage is not None:
            deps.add(base_stage)
        out.append(StageRefs(st.index, base, base_stage, platform, tuple(sources), frozenset(deps)))
    return tuple(out)


def meta_env(
    df: Dockerfile, build_args: Mapping[str, str] | None = None, predefined: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The variables FROM lines see: ``predefined`` (BUILDPLATFORM, TARGETPLATFORM...), then each meta ARG with
    its build-arg value or its default (expanded with what precedes it); an ARG with neither stays unset."""
    args = build_args or {}
    env = dict(predefined or {})
    for arg in df.meta_args:
        for key, default in arg.pairs:
            if key in args:
                env[key] = args[key]
            elif default is not None:
                try:
                    env[key] = expand(default, env, escape=df.escape)
                except BuildError as e:
                    raise DockerfileError(df.path, arg.line, str(e)) from None
    return env


def needed_stages(df: Dockerfile, target: str | None, env: Mapping[str, str] | None = None) -> list[int]:
    """The indices, ascending, of the target stage (the last one when None) and every stage it depends on;
    ``env`` is what FROM lines see (default: ``meta_env(df)``)."""
    refs = stage_refs(df, env if env is not None else meta_env(df))
    start = df.stage(target).index if target is not None else len(df.stages) - 1
    seen: set[int] = set()
    todo = [start]
    while todo:
        i = todo.pop()
        if i in seen:
            continue
        seen.add(i)
        todo.extend(refs[i].deps)
    return sorted(seen)
