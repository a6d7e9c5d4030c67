"""``--cache-to`` / ``--cache-from`` through a real Distribution registry and a local OCI layout: a second store
that imports the first one's cache runs no step and makes the very same image; a cache that is not there yet (the
first CI run) is no error; ``mode=min`` exports only the steps of the result's layers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from build_util import dockyard
from fixtures_util import ensure_debian_docker_archive, require_root
from registry_util import Registry

DOCKERFILE = """\
FROM debian:bookworm AS build
RUN echo built > /built && echo more > /more
FROM debian:bookworm
COPY --from=build /built /built
RUN cat /built > /copy
"""



@pytest.fixture(scope="module")
def base_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_root("builds run runc over overlayfs")
    root = tmp_path_factory.mktemp("cache-base") / "store"
    dockyard(root, "load", "-i", ensure_debian_docker_archive())
    return root


def _store(base: Path, tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    shutil.copytree(base, root)
    return root


def _context(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    return ctx


def _steps(log: str) -> tuple[int, int]:
    """(cached, ran) among the RUN and COPY steps of a ``--progress plain`` log."""
    import re

    heads: dict[str, str] = {}
    cached: set[str] = set()
    for line in log.splitlines():
        m = re.match(r"#(\d+) (.*)$", line)
        if not m:
            continue
        n, text = m.groups()
        if n not in heads:
            heads[n] = text
        elif text == "CACHED":
            cached.add(n)
    steps = [n for n, text in heads.items() if re.search(r"\] (RUN|COPY) ", text)]
    return sum(n in cached for n in steps), sum(n not in cached for n in steps)


@pytest.mark.parametrize("kind", ["registry", "local"])
def test_a_second_store_builds_from_the_first_ones_cache(
    kind: str, base_store: Path, registry: Registry, tmp_path: Path
) -> None:
    ctx = _context(tmp_path)
    where = f"type=registry,ref={registry.host}/cache/app:buildcache" if kind == "registry" else None
    if where is None:
        where = f"type=local,dest={tmp_path / 'cache-layout'}"
    source = where.replace("dest=", "src=")
    first, second = _store(base_store, tmp_path, "a"), _store(base_store, tmp_path, "b")
    # the cache is not there yet: the first CI run builds everything and says nothing is imported
    log = dockyard(first, "build", "--progress", "plain", "--cache-from", source, "--cache-to", f"{where},mode=max",
                    "--iidfile", tmp_path / "id-a", ctx).stderr  # fmt: skip
    assert "0 steps imported" in log and "steps written" in log
    log = dockyard(second, "build", "--progress", "plain", "--cache-from", source, "--iidfile", tmp_path / "id-b",
                    ctx).stderr  # fmt: skip
    cached, ran = _steps(log)
    assert (cached, ran) == (3, 0), log
    assert (tmp_path / "id-a").read_text() == (tmp_path / "id-b").read_text()


def test_mode_min_exports_only_the_results_steps(base_store: Path, tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    root = _store(base_store, tmp_path, "a")
    layout = tmp_path / "min"
    dockyard(root, "build", "-q", "--cache-to", f"type=local,dest={layout}", ctx)
    index = json.loads((layout / "index.json").read_text())
    digest = index["manifests"][0]["digest"].split(":", 1)[1]
    top = json.loads((layout / "blobs" / "sha256" / digest).read_text())
    manifest = json.loads((layout / "blobs" / "sha256" / top["manifests"][0]["digest"].split(":", 1)[1]).read_text())
    config = json.loads((layout / "blobs" / "sha256" / manifest["config"]["digest"].split(":", 1)[1]).read_text())
    lines = [r["created_by"] for r in config["records"]]
    assert any("cat /built" in line for line in lines) and any(line.startswith("COPY /built /built") for line in lines)
    assert not any("echo built" in line for line in lines)  # the build stage's own layer is not in the result
