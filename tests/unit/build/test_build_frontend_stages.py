"""The stage graph: which stages a target needs, FROM/COPY --from/RUN --mount=from references, meta ARGs."""

from __future__ import annotations

import pytest

from dockyard.build.dockerfile import meta_env, mount_from, needed_stages, parse, stage_refs
from dockyard.errors import DockerfileError

DOCKERFILE = """\
ARG BASE=debian
ARG TAG=${BASE}-slim
FROM ${BASE}:${TAG} AS base
RUN true
FROM alpine AS tools
FROM base AS build
RUN --mount=type=cache,target=/c --mount=type=bind,from=tools,source=/x,target=/y make || true
FROM alpine AS unused
RUN echo never
FROM base AS tools2
FROM scratch AS final
COPY --from=build /out /out
COPY --from=1 /u /u
COPY --from=docker.io/library/busybox:latest /bin/busybox /bin/
"""


def test_meta_env_defaults_and_build_args() -> None:
    df = parse(DOCKERFILE)
    assert meta_env(df) == {"BASE": "debian", "TAG": "debian-slim"}
    assert meta_env(df, {"BASE": "ubuntu"}, {"BUILDPLATFORM": "linux/amd64"}) == {
        "BUILDPLATFORM": "linux/amd64", "BASE": "ubuntu", "TAG": "ubuntu-slim"}


def test_stage_refs() -> None:
    df = parse(DOCKERFILE)
    refs = stage_refs(df, meta_env(df))
    assert refs[0].base == "debian:debian-slim" and refs[0].base_stage is None
    assert refs[2].base_stage == 0
    assert refs[2].sources == ((0, 1, "tools"),)
    assert refs[5].sources == ((0, 2, "build"), (1, 1, "1"), (2, None, "docker.io/library/busybox:latest"))
    assert refs[5].deps == {1, 2}


def test_run_mount_from_a_later_stage_is_refused() -> None:
    with pytest.raises(DockerfileError, match='cannot mount from stage "late"') as e:
        needed_stages(parse("FROM a\nRUN --mount=from=late,target=/x true\nFROM b AS late\n"), None)
    assert e.value.line == 2


def test_needed_stages_skip_unused() -> None:
    df = parse(DOCKERFILE)
    assert [s.name for s in df.stages] == ["base", "tools", "build", "unused", "tools2", "final"]
    assert needed_stages(df, None) == [0, 1, 2, 5]
    assert needed_stages(df, "tools2") == [0, 4]
    assert needed_stages(df, "TOOLS") == [1]
    with pytest.raises(DockerfileError, match='target stage "nope" could not be found'):
        needed_stages(df, "nope")


def test_forward_and_bad_references() -> None:
    with pytest.raises(DockerfileError, match='cannot copy from stage "later", it needs to be defined before'):
        needed_stages(parse("FROM a\nCOPY --from=later /x /x\nFROM b AS later\n"), None)
    with pytest.raises(DockerfileError, match="invalid stage index 5") as e:
        needed_stages(parse("FROM a\nFROM b\nCOPY --from=5 /x /x\n"), None)
    assert e.value.line == 3
    df = parse("FROM x AS x\nFROM X\n")
    refs = stage_refs(df, {})
    assert refs[0].base_stage is None  # a stage does not base itself on its own name
    assert refs[1].base_stage is None  # FROM matches stage names exactly (they are lower case)
    with pytest.raises(DockerfileError, match="base name"):
        stage_refs(parse("FROM $NOPE\n"), {})


def test_platform_expansion() -> None:
    df = parse("FROM --platform=$BUILDPLATFORM golang AS b\nFROM --platform=${TARGETPLATFORM} alpine\n")
    refs = stage_refs(df, {"BUILDPLATFORM": "linux/amd64", "TARGETPLATFORM": "linux/arm64"})
    assert [r.platform for r in refs] == ["linux/amd64", "linux/arm64"]


def test_mount_from() -> None:
    assert mount_from("type=bind,from=build,source=/a,target=/b") == "build"
    assert mount_from('"from=x,y",type=bind') == "x,y"
    assert mount_from("type=cache,target=/c") is None
