"""``dockyard build`` against BuildKit's frontend rules that need a real build: stages not needed for the target
are skipped, ``--target``, the predefined platform ARGs, ``SOURCE_DATE_EPOCH`` reaching RUN only when declared,
``<Dockerfile>.dockerignore`` beside a named Dockerfile, ``-f -``. Needs root and runc."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import podman_build_peer as peer
import pytest
from build_util import CORPUS, clone_store, dockyard, steps, store_image, write

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(os.geteuid() != 0, reason="RUN steps need root (runc, overlayfs mounts)"),
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed (Debian package runc)"),
]


@pytest.fixture(scope="module")
def store(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store for this module's builds (each uses its own tag and its own RUN commands)."""
    return clone_store(prepared, tmp_path_factory.mktemp("frontend") / "root")


def sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def test_unused_stage_is_not_built(store: Path) -> None:
    proc = dockyard(store, "build", "-t", "fr-multi:1", "--progress", "plain", CORPUS / "multistage")
    assert "[unused " not in proc.stderr and "the unused stage was built" not in proc.stderr
    seen = steps(proc.stderr)
    assert any(s.startswith("COPY --from=builder") for s in seen), seen


def test_target_builds_only_the_stages_it_needs(store: Path) -> None:
    proc = dockyard(store, "build", "-t", "fr-target:1", "--progress", "plain", "--target", "tester",
                    CORPUS / "multistage")  # fmt: skip
    assert "[unused " not in proc.stderr and "COPY --from" not in proc.stderr
    listing = peer.image_listing(store_image(store, "fr-target:1"))
    assert listing["out/tested"].sha256 == sha("tested\n") and "opt/out" not in listing


def test_predefined_platform_args(store: Path, tmp_path: Path) -> None:
    """TARGETARCH and friends are visible in RUN only when the stage declares them; TARGETVARIANT is empty on
    amd64."""
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        "FROM debian:bookworm\n"
        'RUN echo "undeclared=[$TARGETARCH]" > /undeclared\n'
        "ARG TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM\n"
        'RUN echo "$TARGETPLATFORM $TARGETOS $TARGETARCH [$TARGETVARIANT] $BUILDPLATFORM" > /platform\n'
    )})  # fmt: skip
    dockyard(store, "build", "-t", "fr-platform:1", "--progress", "plain", ctx)
    listing = peer.image_listing(store_image(store, "fr-platform:1"))
    assert listing["undeclared"].sha256 == sha("undeclared=[]\n")
    assert listing["platform"].sha256 == sha("linux/amd64 linux amd64 [] linux/amd64\n")


@pytest.mark.parametrize("via", ["build-arg", "env"])
def test_source_date_epoch_reaches_run_only_when_declared(via: str, store: Path, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        "FROM debian:bookworm\n"
        f'RUN echo "before=[$SOURCE_DATE_EPOCH]" > /before-{via}\n'
        "ARG SOURCE_DATE_EPOCH\n"
        'RUN echo "after=[$SOURCE_DATE_EPOCH]" > /after\n'
    )})  # fmt: skip
    tag = f"fr-epoch-{via}:1"
    if via == "env":
        dockyard(store, "build", "-t", tag, "--progress", "plain", ctx, env={"SOURCE_DATE_EPOCH": "1700000000"})
    else:
        dockyard(store, "build", "-t", tag, "--progress", "plain", "--build-arg", "SOURCE_DATE_EPOCH=1700000000", ctx)
    listing = peer.image_listing(store_image(store, tag))
    assert store_image(store, tag).config().created == "2023-11-14T22:13:20Z"
    assert listing[f"before-{via}"].sha256 == sha("before=[]\n")
    assert listing["after"].sha256 == sha("after=[1700000000]\n")


def test_named_dockerfile_dockerignore_wins(store: Path, tmp_path: Path) -> None:
    """``build.Dockerfile.dockerignore`` beside ``-f build.Dockerfile`` is used instead of ``.dockerignore``."""
    ctx = write(tmp_path / "ctx", {
        "build.Dockerfile": "FROM debian:bookworm\nCOPY . /ctx/\n",
        "build.Dockerfile.dockerignore": "a.txt\n",
        ".dockerignore": "b.txt\n",
        "a.txt": "a\n", "b.txt": "b\n",
    })  # fmt: skip
    dockyard(store, "build", "-t", "fr-ignore:1", "--progress", "plain", "-f", ctx / "build.Dockerfile", ctx)
    listing = peer.image_listing(store_image(store, "fr-ignore:1"))
    assert "ctx/a.txt" not in listing and "ctx/b.txt" in listing


def test_dockerfile_from_stdin(store: Path, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"a.txt": "from stdin build\n"})
    argv = [sys.executable, "-m", "dockyard", "--root", os.fspath(store), "build", "-t", "fr-stdin:1", "--progress",
            "plain", "-f", "-", os.fspath(ctx)]  # fmt: skip
    proc = subprocess.run(argv, input="FROM debian:bookworm\nCOPY a.txt /a.txt\n", capture_output=True, text=True,
                          timeout=600, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    listing = peer.image_listing(store_image(store, "fr-stdin:1"))
    assert listing["a.txt"].sha256 == sha("from stdin build\n")


def test_run_cache_mount_persists_and_stays_out_of_layers(store: Path, tmp_path: Path) -> None:
    """``--mount=type=cache``: what a RUN leaves there is seen by the next build's RUN (--no-cache reruns it) and
    is in no layer."""
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        "FROM debian:bookworm\n"
        "RUN --mount=type=cache,target=/cache,id=fr-cache "
        "echo x >> /cache/count && wc -l < /cache/count > /seen-count && ls -d /cache > /cache-dir\n"
    )})  # fmt: skip
    dockyard(store, "build", "-t", "fr-cache:1", "--progress", "plain", ctx)
    dockyard(store, "build", "-t", "fr-cache:2", "--progress", "plain", "--no-cache", ctx)
    first = peer.image_listing(store_image(store, "fr-cache:1"))
    second = peer.image_listing(store_image(store, "fr-cache:2"))
    assert first["seen-count"].sha256 == sha("1\n") and second["seen-count"].sha256 == sha("2\n")
    assert not any(p == "cache" or p.startswith("cache/") for p in second)


def test_run_bind_mount_from_stage(store: Path, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": (
        "FROM debian:bookworm AS src\n"
        "RUN mkdir /payload && echo bound > /payload/f\n"
        "FROM debian:bookworm\n"
        "RUN --mount=type=bind,from=src,source=/payload,target=/mnt cat /mnt/f > /from-bind\n"
    )})  # fmt: skip
    dockyard(store, "build", "-t", "fr-bind:1", "--progress", "plain", ctx)
    listing = peer.image_listing(store_image(store, "fr-bind:1"))
    assert listing["from-bind"].sha256 == sha("bound\n")
    assert "mnt/f" not in listing and "payload" not in listing


def test_copy_exclude(store: Path, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {
        "Dockerfile": "FROM debian:bookworm\nCOPY --exclude=*.log --exclude=sub/skip dir/ /dst/\n",
        "dir/a.txt": "a\n", "dir/b.log": "b\n", "dir/sub/skip": "s\n", "dir/sub/keep": "k\n",
    })  # fmt: skip
    dockyard(store, "build", "-t", "fr-exclude:1", "--progress", "plain", ctx)
    listing = peer.image_listing(store_image(store, "fr-exclude:1"))
    assert {"dst/a.txt", "dst/sub/keep"} <= listing.keys()
    assert not {"dst/b.log", "dst/sub/skip"} & listing.keys()


def test_named_build_context(store: Path, tmp_path: Path) -> None:
    """``--build-context extra=DIR``: ``COPY --from=extra`` reads that directory."""
    extra = write(tmp_path / "extra", {"e.txt": "extra context\n"})
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM debian:bookworm\nCOPY --from=extra e.txt /e.txt\n"})
    dockyard(store, "build", "-t", "fr-bctx:1", "--progress", "plain", "--build-context", f"extra={extra}", ctx)
    listing = peer.image_listing(store_image(store, "fr-bctx:1"))
    assert listing["e.txt"].sha256 == sha("extra context\n")


def test_context_from_tarball_url(store: Path, tmp_path: Path) -> None:
    import tarfile

    from build_util import http_server

    src = write(tmp_path / "src", {"Dockerfile": "FROM debian:bookworm\nCOPY t.txt /t.txt\n", "t.txt": "tarball\n"})
    served = tmp_path / "served"
    served.mkdir()
    with tarfile.open(served / "ctx.tar.gz", "w:gz") as t:
        for name in ("Dockerfile", "t.txt"):
            t.add(src / name, arcname=name)
    with http_server(served) as url:
        dockyard(store, "build", "-t", "fr-tarurl:1", "--progress", "plain", f"{url}/ctx.tar.gz")
    listing = peer.image_listing(store_image(store, "fr-tarurl:1"))
    assert listing["t.txt"].sha256 == sha("tarball\n")
