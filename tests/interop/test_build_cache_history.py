"""``dockyard build`` alone against BuildKit's rules: the history it writes (``# buildkit``, ``|1 GREETING=hola``,
``buildkit.dockerfile.v0``, ``empty_layer``), whiteouts in layers, and the build cache (what an unchanged rebuild,
a changed context file, a changed ARG, an ignored file and a new base rerun; ``COPY --link`` across a base change;
``builder prune -a``). Needs root and runc."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from build_util import clone_store, dockyard, steps, store_image, write

from dockyard.layers.compression import open_decompressed
from dockyard.layers.tarstream import TarReader

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(os.geteuid() != 0, reason="RUN steps need root (runc, overlayfs mounts)"),
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed (Debian package runc)"),
]

COMMENT = "buildkit.dockerfile.v0"
@pytest.fixture
def store(prepared: Path, tmp_path: Path) -> Path:
    """A fresh store holding debian:bookworm (its snapshot unpacked)."""
    return clone_store(prepared, tmp_path / "root")


def build(store: Path, context: Path, *args: str, tag: str = "t:1") -> tuple[str, str]:
    """Build ``context``; (image ID, progress output)."""
    iid = context.parent / f"{context.name}.iid"
    proc = dockyard(store, "build", "-t", tag, "--progress", "plain", "--iidfile", iid, *args, context)
    return iid.read_text().strip(), proc.stderr


# --------------------------------------------------------------------------- history and layers

HISTORY_DOCKERFILE = """\
FROM debian:bookworm
ARG GREETING=hello
ENV A=1
RUN echo $GREETING > /greeting
RUN true
WORKDIR /newdir
WORKDIR /newdir
COPY a.txt /a.txt
LABEL x=y
CMD ["sh"]
"""


def test_history_as_buildkit_writes_it(store: Path, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": HISTORY_DOCKERFILE, "a.txt": "a\n"})
    build(store, ctx, "--build-arg", "GREETING=hola")
    config = store_image(store, "t:1").config()
    base = store_image(store, "debian:bookworm").config()
    new = [(h.created_by, h.empty_layer, h.comment) for h in config.history[len(base.history):]]
    assert new == [
        ("ARG GREETING=hola", True, COMMENT),  # BuildKit writes the value used
        ("ENV A=1", True, COMMENT),
        ("RUN |1 GREETING=hola /bin/sh -c echo $GREETING > /greeting # buildkit", False, COMMENT),
        ("RUN |1 GREETING=hola /bin/sh -c true # buildkit", True, COMMENT),  # an empty diff adds no layer
        ("WORKDIR /newdir", False, COMMENT),  # it made the directory: a layer
        ("WORKDIR /newdir", True, COMMENT),  # it existed: nothing
        ("COPY a.txt /a.txt # buildkit", False, COMMENT),
        ("LABEL x=y", True, COMMENT),
        ('CMD ["sh"]', True, COMMENT),
    ]
    assert len(config.diff_ids) == len(base.diff_ids) + 3
    assert config.diff_ids[: len(base.diff_ids)] == base.diff_ids
    assert config.container_config["Cmd"] == ["sh"] and config.container_config["WorkingDir"] == "/newdir"
    assert "A=1" in config.container_config["Env"] and "GREETING=hola" not in config.container_config["Env"]


def test_env_redefinition_keeps_its_place(store: Path, tmp_path: Path) -> None:
    """BuildKit replaces a variable in place (PATH stays first) and appends new ones."""
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM debian:bookworm\nENV NEW=1 PATH=/x:$PATH\n"})
    build(store, ctx)
    env = store_image(store, "t:1").config().container_config["Env"]
    assert env == ["PATH=/x:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NEW=1"]


def _entries(store: Path, ref: str, index: int) -> dict[str, tuple[str, int]]:
    """name -> (kind, size) of the entries of the image's layer ``index``."""
    layer = store_image(store, ref).layers()[index]
    out: dict[str, tuple[str, int]] = {}
    with layer.open() as raw, open_decompressed(raw) as stream:
        for h in TarReader(stream):
            out[h.name.removeprefix("./").rstrip("/")] = (h.kind, h.size)
    return out


def test_layer_whiteouts_are_docker_style(store: Path, tmp_path: Path) -> None:
    """A deletion is a ``.wh.`` file, a directory replaced by a RUN an opaque ``.wh..wh..opq``; runtime mount
    points (hosts, resolv.conf, hostname) are not in the layer."""
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        "FROM debian:bookworm\n"
        "RUN rm /etc/issue && rm -rf /etc/apt/apt.conf.d && mkdir /etc/apt/apt.conf.d && touch /etc/apt/apt.conf.d/x\n"
    )})  # fmt: skip
    build(store, ctx)
    entries = _entries(store, "t:1", -1)
    assert "etc/.wh.issue" in entries and entries["etc/.wh.issue"][1] == 0
    assert "etc/apt/apt.conf.d/.wh..wh..opq" in entries
    assert "etc/apt/apt.conf.d/x" in entries
    assert not {"etc/hosts", "etc/resolv.conf", "etc/hostname"} & entries.keys()
    assert not any(name.startswith(("proc/", "sys/", "dev/")) for name in entries)


# --------------------------------------------------------------------------- cache

CACHE_DOCKERFILE = """\
FROM debian:bookworm
RUN echo base-step > /base
COPY app.txt /app.txt
ARG FLAVOR=plain
RUN cat /app.txt > /app.copy
RUN echo "$FLAVOR" > /flavor
COPY . /all/
RUN ls /all > /all.list
"""
CACHE_STEPS = (
    "RUN echo base-step > /base",
    "COPY app.txt /app.txt",
    "RUN cat /app.txt > /app.copy",
    'RUN echo "$FLAVOR" > /flavor',
    "COPY . /all/",
    "RUN ls /all > /all.list",
)


@pytest.fixture
def cache_ctx(tmp_path: Path) -> Path:
    return write(tmp_path / "ctx", {
        "Dockerfile": CACHE_DOCKERFILE, "app.txt": "app v1\n", "other.txt": "other\n", "ignored.txt": "ignored v1\n",
        ".dockerignore": "ignored.txt\n",
    })  # fmt: skip


def _expect(progress: str, done: Sequence[str]) -> None:
    seen = steps(progress)
    assert set(seen) == set(CACHE_STEPS), seen
    want = {s: ("DONE" if s in done else "CACHED") for s in CACHE_STEPS}
    assert seen == want, progress


def test_cache_unchanged_rebuild_runs_nothing(store: Path, cache_ctx: Path) -> None:
    _, first = build(store, cache_ctx)
    _expect(first, CACHE_STEPS)
    _, second = build(store, cache_ctx)
    _expect(second, ())


def test_cache_unchanged_rebuild_same_image_id(store: Path, cache_ctx: Path) -> None:
    first, _ = build(store, cache_ctx)
    second, progress = build(store, cache_ctx)
    _expect(progress, ())
    assert first == second


def test_cache_context_file_change_reruns_from_its_copy(store: Path, cache_ctx: Path) -> None:
    build(store, cache_ctx)
    (cache_ctx / "app.txt").write_text("app v2\n")
    _, progress = build(store, cache_ctx)
    _expect(progress, CACHE_STEPS[1:])


def test_cache_other_context_file_change_reruns_only_copy_dot(store: Path, cache_ctx: Path) -> None:
    build(store, cache_ctx)
    (cache_ctx / "other.txt").write_text("other v2\n")
    _, progress = build(store, cache_ctx)
    _expect(progress, CACHE_STEPS[4:])


def test_cache_arg_change_reruns_runs_in_its_scope(store: Path, cache_ctx: Path) -> None:
    """Changing FLAVOR: the RUN before the ARG and the COPY are reused; every RUN after ``ARG FLAVOR`` reruns
    (the ARG is in their environment), and the steps built on them."""
    build(store, cache_ctx, "--build-arg", "FLAVOR=spicy")
    _, progress = build(store, cache_ctx, "--build-arg", "FLAVOR=sweet")
    _expect(progress, CACHE_STEPS[2:])
    _, progress = build(store, cache_ctx, "--build-arg", "FLAVOR=spicy")
    _expect(progress, ())


def test_cache_undeclared_arg_changes_nothing(store: Path, cache_ctx: Path) -> None:
    build(store, cache_ctx)
    _, progress = build(store, cache_ctx, "--build-arg", "NOT_DECLARED=1")
    _expect(progress, ())


def test_cache_ignored_file_change_reruns_nothing(store: Path, cache_ctx: Path) -> None:
    build(store, cache_ctx)
    (cache_ctx / "ignored.txt").write_text("ignored v2\n")
    (cache_ctx / "ignored.txt").touch()
    _, progress = build(store, cache_ctx)
    _expect(progress, ())


def test_cache_mtime_only_change_reruns_nothing(store: Path, cache_ctx: Path) -> None:
    """BuildKit's content hash ignores mtimes."""
    build(store, cache_ctx)
    os.utime(cache_ctx / "app.txt", (1, 1))
    _, progress = build(store, cache_ctx)
    _expect(progress, ())


def test_cache_copy_link_survives_a_base_change(store: Path, tmp_path: Path) -> None:
    base2 = write(tmp_path / "base2", {"Dockerfile": "FROM debian:bookworm\nRUN echo other base > /other-base\n"})
    build(store, base2, tag="base2:1")
    ctx = write(tmp_path / "ctx", {
        "Dockerfile": "ARG BASE=debian:bookworm\nFROM $BASE\n"
                      "COPY --link app.txt /linked.txt\nCOPY app.txt /plain.txt\n",
        "app.txt": "app\n",
    })  # fmt: skip
    build(store, ctx, tag="a:1")
    _, progress = build(store, ctx, "--build-arg", "BASE=base2:1", tag="b:1")
    seen = steps(progress)
    assert seen == {"COPY --link app.txt /linked.txt": "CACHED", "COPY app.txt /plain.txt": "DONE"}, progress
    a, b = store_image(store, "a:1").config(), store_image(store, "b:1").config()
    assert a.diff_ids[-2] == b.diff_ids[-2]  # the --link layer is the same blob on both bases
    assert b.diff_ids[:-2] == store_image(store, "base2:1").config().diff_ids


def test_cache_copy_from_a_stage_is_keyed_by_what_it_copies(store: Path, tmp_path: Path) -> None:
    """BuildKit keys ``COPY --from`` by the content it takes, not by the stage: a builder stage that reruns (its
    ARG changed) but makes the same /out keeps the final stage's steps cached; different bytes rerun them."""
    ctx = write(tmp_path / "ctx", {
        "Dockerfile": "FROM debian:bookworm AS builder\nARG NOISE\nARG CONTENT=one\n"
                      "RUN echo \"$NOISE\" > /noise && echo \"$CONTENT\" > /out\n"
                      "FROM debian:bookworm\nCOPY --from=builder /out /out\nRUN cat /out > /seen\n",
    })  # fmt: skip
    build(store, ctx, "--build-arg", "NOISE=1")
    _, progress = build(store, ctx, "--build-arg", "NOISE=2")
    seen = {k: v for k, v in steps(progress).items() if not k.startswith("FROM")}
    assert seen == {
        'RUN echo "$NOISE" > /noise && echo "$CONTENT" > /out': "DONE",
        "COPY --from=builder /out /out": "CACHED",
        "RUN cat /out > /seen": "CACHED",
    }, progress
    _, progress = build(store, ctx, "--build-arg", "NOISE=2", "--build-arg", "CONTENT=two")
    assert steps(progress)["COPY --from=builder /out /out"] == "DONE"
    assert steps(progress)["RUN cat /out > /seen"] == "DONE"


def test_builder_prune_all_then_rebuild_runs_everything(store: Path, cache_ctx: Path) -> None:
    build(store, cache_ctx)
    proc = dockyard(store, "builder", "prune", "-a", "-f")
    assert proc.stdout.startswith("Total:")
    _, progress = build(store, cache_ctx)
    _expect(progress, CACHE_STEPS)


def test_no_cache_runs_everything(store: Path, cache_ctx: Path) -> None:
    build(store, cache_ctx)
    _, progress = build(store, cache_ctx, "--no-cache")
    _expect(progress, CACHE_STEPS)


# --------------------------------------------------------------------------- metadata instructions

CORPUS = Path(__file__).resolve().parents[1] / "testdata" / "build"


@pytest.fixture(scope="module")
def metadata_store(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding the ``metadata`` corpus entry built as ``meta:1``."""
    root = clone_store(prepared, tmp_path_factory.mktemp("meta") / "root")
    dockyard(root, "build", "-t", "meta:1", "--progress", "plain", CORPUS / "metadata")
    return root


# EXPOSE and HEALTHCHECK as BuildKit's current dockerfile2llb writes them (convert_expose.go: "EXPOSE %v" of the
# []string parsePortSpecs returns; convert.go: "HEALTHCHECK %+v" of *HealthcheckConfig). Older BuildKit printed a
# port map and a %q of the pointer ('&{["CMD-SHELL" ...] "30s" ...}'); podman/buildah differ again.
METADATA_HISTORY = [
    ("SHELL [/bin/bash -o pipefail -c]", True),
    ('RUN /bin/bash -o pipefail -c echo "shell=${BASH_VERSINFO[0]:+bash}" | tee /shell-used # buildkit', False),
    ("ENV APP_HOME=/srv/app PATH=/srv/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", True),
    ("ENV LEGACY=legacy form value", True),
    ("WORKDIR /srv/app", False),
    ("WORKDIR /srv/app/sub", False),
    ("EXPOSE [8080/tcp 53/udp 9000/tcp]", True),
    ("VOLUME [/data /cache]", True),
    ("LABEL org.example.name=metadata test org.example.multi=a b org.example.empty=", True),
    ("STOPSIGNAL SIGQUIT", True),
    (
        "HEALTHCHECK {Test:[CMD-SHELL test -d /srv/app || exit 1] Interval:30s Timeout:5s StartPeriod:10s "
        "StartInterval:0s Retries:3}",
        True,
    ),
    ('ENTRYPOINT ["/bin/sh" "-c"]', True),
    ('CMD ["echo hello"]', True),
    ("USER nobody:nogroup", True),
]


@pytest.mark.parametrize("entry", METADATA_HISTORY, ids=lambda e: e[0].split()[0])
def test_history_metadata_instruction_text(entry: tuple[str, bool], metadata_store: Path) -> None:
    """Each metadata instruction's history entry as BuildKit's dockerfile2llb writes it (ONBUILD writes none)."""
    config = store_image(metadata_store, "meta:1").config()
    base = len(store_image(metadata_store, "debian:bookworm").config().history)
    history = [(h.created_by, h.empty_layer) for h in config.history[base:]]
    assert entry in history, history
    assert all(h.comment == COMMENT for h in config.history[base:])
    assert not any(text.startswith("ONBUILD") for text, _ in history)


def test_metadata_config_in_docker_format(metadata_store: Path) -> None:
    cfg = store_image(metadata_store, "meta:1").config().container_config
    assert cfg["Healthcheck"] == {"Test": ["CMD-SHELL", "test -d /srv/app || exit 1"], "Interval": 30_000_000_000,
                                  "Timeout": 5_000_000_000, "StartPeriod": 10_000_000_000, "Retries": 3}  # fmt: skip
    assert cfg["OnBuild"] == ["RUN echo triggered > /tmp/onbuild", "COPY . /app/src"]
    assert cfg["Shell"] == ["/bin/bash", "-o", "pipefail", "-c"]
    assert cfg["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}, "9000/tcp": {}}
    assert cfg["Volumes"] == {"/data": {}, "/cache": {}}
    assert (cfg["StopSignal"], cfg["User"], cfg["WorkingDir"]) == ("SIGQUIT", "nobody:nogroup", "/srv/app/sub")
    assert (cfg["Entrypoint"], cfg["Cmd"]) == (["/bin/sh", "-c"], ["echo hello"])


def test_onbuild_triggers_run_in_the_child(metadata_store: Path, tmp_path: Path) -> None:
    """FROM an image with ONBUILD triggers: they run first (RUN as the base's USER and SHELL, COPY from the child's
    context); the child's config has no OnBuild."""
    import podman_build_peer as peer

    ctx = write(tmp_path / "child", {"Dockerfile": "FROM meta:1\nUSER root\nRUN echo child > /child\n",
                                     "file.txt": "from the child context\n"})  # fmt: skip
    build(metadata_store, ctx, tag="child:1")
    image = store_image(metadata_store, "child:1")
    listing = peer.image_listing(image)
    assert listing["tmp/onbuild"].uid == 65534 and "app/src/file.txt" in listing and "child" in listing
    assert not image.config().container_config.get("OnBuild")
