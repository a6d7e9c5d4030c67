"""Dockerfile builds: dockyard against ``podman build --layers --runtime runc`` on the same Dockerfiles and the same
Debian bookworm base, same run, cold (an empty cache: a fresh store / podman state with only the base loaded) and
cached (the same build again). Whole commands; loading the base is not timed.

    python bench/bench_build.py [--runs N]

The Dockerfiles: the ones here (an app with COPY/RUN/WORKDIR, a multi-stage build, ten RUN steps) and every
``tests/testdata/build/*/`` corpus entry whose Dockerfile needs no secret, network or build argument (``bench: no``
in its first lines excludes one). Prints medians and ratios dockyard/podman (lower is better).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, fixtures_util, fresh, median_time, report

sys.path.insert(0, str(ROOT / "tests" / "interop"))

import podman_build_peer as peer

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}

BUILTIN = {
    "app": (
        """FROM debian:bookworm
ENV APP_HOME=/srv/app
WORKDIR /srv/app
COPY . .
RUN mkdir -p data && for i in $(seq 1 200); do echo "record $i" > data/$i.txt; done && chmod -R go-w data
RUN ln -s /srv/app/data /data && rm -f /etc/issue.net
USER nobody
CMD ["ls", "/srv/app/data"]
""",
        {"main.py": "print('hello')\n", "lib/util.py": "X = 1\n", "README": "app\n"},
    ),
    "multistage": (
        """FROM debian:bookworm AS build
WORKDIR /build
RUN for i in $(seq 1 50); do head -c 4096 /dev/zero | tr '\\0' "$((i % 10))" > part-$i; done && cat part-* > out.bin
FROM debian:bookworm
COPY --from=build /build/out.bin /opt/out.bin
RUN sha256sum /opt/out.bin > /opt/out.sha256
""",
        {},
    ),
    "ten-runs": ("FROM debian:bookworm\n" + "".join(f"RUN echo step{i} > /step{i}\n" for i in range(10)), {}),
}


def _contexts(work: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for name, (dockerfile, files) in BUILTIN.items():
        ctx = work / "contexts" / name
        ctx.mkdir(parents=True)
        (ctx / "Dockerfile").write_text(dockerfile)
        for rel, text in files.items():
            (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
            (ctx / rel).write_text(text)
        out[name] = ctx
    corpus = ROOT / "tests" / "testdata" / "build"
    for entry in sorted(corpus.glob("*/Dockerfile")) if corpus.is_dir() else []:
        text = entry.read_text(errors="replace")
        head = "\n".join(text.splitlines()[:5]).lower()
        if "bench: no" in head or "--mount=type=secret" in text or "--mount=type=ssh" in text or "http" in text:
            continue  # secrets, SSH and URLs need what the tests serve
        if "FROM" in text and "debian:bookworm" not in text and "scratch" not in text:
            continue
        ctx = work / "contexts" / f"corpus-{entry.parent.name}"
        shutil.copytree(entry.parent, ctx, symlinks=True)
        out[f"corpus/{entry.parent.name}"] = ctx
    return out


def _dockyard_build(root: Path, ctx: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "dockyard", "--root", str(root), "build", "-q", "-t", "bench:1", str(ctx)],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV,
    )  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    runs = ap.parse_args().runs
    archive = fixtures_util.ensure_debian_docker_archive()
    work = Path(tempfile.mkdtemp(prefix="bench-build-"))
    try:
        contexts = _contexts(work)
        base = work / "base-store"
        subprocess.run([sys.executable, "-m", "dockyard", "--root", str(base), "load", "-i", str(archive)],
                       check=True, capture_output=True, env=ENV)  # fmt: skip
        root = work / "store"
        totals = {"cold": [0.0, 0.0], "cached": [0.0, 0.0]}
        for name, ctx in contexts.items():

            def fresh_store() -> None:
                if root.exists():
                    fixtures_util.remove_tree(root)
                shutil.copytree(base, root)

            try:
                cold = median_time(lambda c=ctx: _dockyard_build(root, c), runs, setup=fresh_store)  # type: ignore[misc]
                cached = median_time(lambda c=ctx: _dockyard_build(root, c), runs)  # type: ignore[misc]
            except subprocess.CalledProcessError:
                print(f"{name}: dockyard failed to build it; skipped", flush=True)
                continue
            p_cold: list[float] = []
            p_cached: list[float] = []
            # podman 4.3 knows no heredocs, COPY --link, ADD --checksum: Dockerfile.podman says the same without them
            podman_file = ctx / "Dockerfile.podman"
            dockerfile = podman_file if podman_file.exists() else None
            try:
                for _ in range(runs):
                    with peer.podman_state() as state:
                        peer.load_image(state, f"docker-archive:{archive}", "docker.io/library/debian:bookworm")
                        out = fresh(work / "podman-out") / "image.tar"
                        p_cold.append(peer.build(state, ctx, out, dockerfile=dockerfile).seconds)
                        p_cached.append(peer.build(state, ctx, out, dockerfile=dockerfile).seconds)
            except RuntimeError as exc:
                print(f"{name}: podman failed to build it; skipped ({str(exc).splitlines()[-1][:100]})", flush=True)
                continue
            pc, pw = sorted(p_cold)[len(p_cold) // 2], sorted(p_cached)[len(p_cached) // 2]
            report(f"build {name} cold", cold, "podman", pc)
            report(f"build {name} cached", cached, "podman", pw)
            totals["cold"][0] += cold
            totals["cold"][1] += pc
            totals["cached"][0] += cached
            totals["cached"][1] += pw
        for kind, (ours, theirs) in totals.items():
            if theirs:
                report(f"all Dockerfiles, {kind} (sum of medians)", ours, "podman", theirs)
        print(f"({runs} runs each, medians; podman {peer.__name__}: vfs storage, runc, --layers)", flush=True)
    finally:
        fixtures_util.remove_tree(work)


if __name__ == "__main__":
    main()
