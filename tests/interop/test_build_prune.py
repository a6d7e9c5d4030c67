"""What builds keep in the store goes with the prunes: ``builder prune`` takes the steps whose layers no image uses
(``-a``: all, and the cache mounts), ``image prune`` the unpacked layers of the layers it removed; the store's own
check stays clean and ``system df`` counts the cache."""

from __future__ import annotations

import json
from pathlib import Path

from build_util import dockyard
from fixtures_util import ensure_debian_docker_archive, require_root


def test_prunes_take_the_build_cache(tmp_path: Path) -> None:
    require_root("builds run runc over overlayfs")
    root = tmp_path / "store"
    dockyard(root, "load", "-i", ensure_debian_docker_archive())
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM debian:bookworm\nRUN --mount=type=cache,target=/cache echo x > /cache/x && echo built > /built\n"
    )
    dockyard(root, "build", "-q", "-t", "app:1", ctx)
    snapshots = root / "build" / "snapshots"
    assert len(list(snapshots.iterdir())) == 1  # the Debian layer, unpacked for overlayfs
    df = dockyard(root, "system", "df", "--format", "{{.Type}}={{.TotalCount}}").stdout
    assert "Build Cache=1" in df
    dockyard(root, "build", "-q", "-t", "app:1", ctx)  # all cached: the step's usage count goes up
    [entry] = json.loads(dockyard(root, "system", "df", "-v", "--format", "{{json .BuildCache}}").stdout)
    assert entry["UsageCount"] == "2" and entry["Shared"] == "true" and entry["Size"] == "6B"  # /built
    assert entry["Description"].startswith("RUN ") and len(entry["ID"]) == 64
    table = dockyard(root, "system", "df", "-v").stdout
    assert "Build cache usage: 6B\n\nCACHE ID" in table and f"{entry['ID'][:12]}   regular   " in table
    dockyard(root, "builder", "prune", "-f")  # the step's layer is app:1's: kept
    assert "Build Cache=1" in dockyard(root, "system", "df", "--format", "{{.Type}}={{.TotalCount}}").stdout
    dockyard(root, "image", "prune", "-a", "-f")
    assert list(snapshots.iterdir()) == []
    assert "Build Cache=0" in dockyard(root, "system", "df", "--format", "{{.Type}}={{.TotalCount}}").stdout
    assert (root / "build" / "cache-mounts").is_dir()
    dockyard(root, "builder", "prune", "-a", "-f")
    assert not (root / "build" / "cache-mounts").exists()
    assert "OK" in dockyard(root, "system", "check").stdout
