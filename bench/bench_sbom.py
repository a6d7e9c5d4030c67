"""SBOM of the Debian bookworm minbase image (docker-archive, 88 dpkg packages): dockyard cold and cached against
``trivy image --scanners ''`` (cold and with its own layer cache) and ``syft``, whole commands, same run.

    python bench/bench_sbom.py [--runs N]

Each tool writes CycloneDX JSON to a file. "cold": an empty cache (dockyard: a fresh store root; Trivy: a fresh
``--cache-dir``); "cached": the same command again. Prints medians, ratios dockyard/peer (lower is better) and
dockyard's peak RSS. Targets (issue 9): SBOM <= 0.5x Trivy's time, a cached scan <= 0.2 s.

Also, same content both sides: the package list in each tool's own JSON (``dockyard sbom --format json`` against
``trivy image --format json --list-all-pkgs --scanners ''``), cold, runs interleaved, with the package counts
of both documents printed so a mismatch shows.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, fixtures_util, fresh, median_time, peak_rss_mb, report, run_quiet, tool

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "SYFT_CHECK_FOR_APP_UPDATE": "false"}


def _tool(name: str) -> str | None:
    return tool(name)


def _run(argv: list[str]) -> None:
    run_quiet(argv, ENV)


def _peak_rss_mb(argv: list[str]) -> float:
    return peak_rss_mb(argv, ENV)


def _trivy_argv(trivy: str, archive: Path, fmt: str, cache: Path, out: Path) -> list[str]:
    argv = [trivy, "image", "--input", str(archive), "--format", fmt, "--scanners", "", "--skip-version-check",
            "--disable-telemetry", "--skip-db-update", "--offline-scan", "--cache-dir", str(cache), "-o", str(out),
            "--quiet"]  # fmt: skip
    return [*argv, "--list-all-pkgs"] if fmt == "json" else argv


def _count_packages(path: Path, tool_name: str) -> int:
    doc = json.loads(path.read_text(encoding="utf-8"))
    if tool_name == "trivy":
        return sum(len(r.get("Packages") or []) for r in doc.get("Results") or [])
    return len(doc["packages"])


def _same_content(archive: Path, work: Path, runs: int, trivy: str | None) -> None:
    """Package lists in each tool's own JSON, cold, dockyard and trivy runs interleaved."""
    root, ours_out = work / "json-root", work / "ours-list.json"
    tcache, trivy_out = work / "json-trivy-cache", work / "trivy-list.json"
    ours = [sys.executable, "-m", "dockyard", "--root", str(root), "sbom", f"docker-archive:{archive}"]
    commands = {"dockyard": ([*ours, "--format", "json", "-o", str(ours_out)], root)}
    if trivy is not None:
        commands["trivy"] = (_trivy_argv(trivy, archive, "json", tcache, trivy_out), tcache)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, (argv, cache) in commands.items():
            fresh(cache)
            t0 = time.perf_counter()
            _run(argv)
            times[name].append(time.perf_counter() - t0)
    cold = statistics.median(times["dockyard"])
    peer = statistics.median(times["trivy"]) if trivy is not None else None
    report("SBOM cold, package lists as JSON (dockyard --format json vs trivy --list-all-pkgs)", cold, "trivy", peer)
    counts = f"dockyard {_count_packages(ours_out, 'dockyard')}"
    if trivy is not None:
        counts += f", trivy {_count_packages(trivy_out, 'trivy')}"
    met = "met" if peer and cold <= 0.5 * peer else "NOT met"
    print(f"  packages listed: {counts}; target <= 0.5x trivy: {met}", flush=True)


def _in_process(archive: Path, work: Path, runs: int) -> None:
    """The library alone, without the interpreter's start-up: walk + catalogers, and a cached lookup."""
    from dockyard.scan.sbom import sbom
    from dockyard.scan.sbom.source import open_image
    from dockyard.store.store import Store

    cache = work / "lib-cache"
    with Store(work / "lib-store") as store, open_image(f"docker-archive:{archive}", store) as (image, _):
        cold = median_time(lambda: sbom(image), runs)
        sbom(image, cache_root=cache)
        cached = median_time(lambda: sbom(image, cache_root=cache), runs)
    print(f"  in process: cold {cold:.3f}s, cached {cached * 1000:.1f}ms", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    runs = ap.parse_args().runs
    archive = fixtures_util.ensure_debian_docker_archive()
    work = Path(tempfile.mkdtemp(prefix="bench-sbom-"))
    try:
        root = work / "root"
        out = work / "out.json"
        ours = [sys.executable, "-m", "dockyard", "--root", str(root), "sbom", f"docker-archive:{archive}"]
        ours += ["--format", "cyclonedx", "-o", str(out)]
        cold = median_time(lambda: _run(ours), runs, setup=lambda: fresh(root))
        cached = median_time(lambda: _run(ours), runs)  # the store root of the last cold run
        table = [*ours[:-4], "--format", "table", "-o", str(out)]
        cached_table = median_time(lambda: _run(table), runs)
        fresh(root)
        rss = _peak_rss_mb(ours)
        print(f"dockyard sbom: cold {cold:.3f}s, cached {cached:.3f}s, peak RSS (cold) {rss:.0f} MB", flush=True)
        print(f"  cached, --format table (no CycloneDX library to import): {cached_table:.3f}s", flush=True)
        images = median_time(lambda: _run([sys.executable, "-m", "dockyard", "--root", str(root), "images"]), runs)
        print(f"  for scale: `dockyard images` (interpreter start-up and the CLI) {images:.3f}s", flush=True)
        # "cold" above also creates the store (its SQLite database, synchronous writes): here the store exists
        # and only its SBOM cache is emptied, as for a user's first scan of a new image.
        warm_store = median_time(lambda: _run(ours), runs, setup=lambda: fresh(root / "cache"))
        print(f"  cold SBOM in an existing store (its SBOM cache emptied): {warm_store:.3f}s", flush=True)
        _in_process(archive, work, runs)

        trivy = _tool("trivy")
        t_cold = t_warm = None
        if trivy is not None:
            tcache = work / "trivy-cache"
            targv = _trivy_argv(trivy, archive, "cyclonedx", tcache, work / "trivy.json")
            t_cold = median_time(lambda: _run(targv), runs, setup=lambda: fresh(tcache))
            t_warm = median_time(lambda: _run(targv), runs)
        report("SBOM cold (dockyard cold vs trivy cold)", cold, "trivy", t_cold)
        report("SBOM cached (dockyard cached vs trivy with its cache)", cached, "trivy", t_warm)

        syft = _tool("syft")
        s_time = None
        if syft is not None:
            sargv = [syft, "scan", f"docker-archive:{archive}", "-o", f"cyclonedx-json={work / 'syft.json'}", "-q"]
            s_time = median_time(lambda: _run(sargv), runs)
        report("SBOM cold (dockyard cold vs syft)", cold, "syft", s_time)
        _same_content(archive, work, runs, trivy)
        print(
            f"targets: cold <= 0.5x trivy: {'met' if t_cold and cold <= 0.5 * t_cold else 'NOT met'}; "
            f"cached <= 0.2 s: {'met' if cached <= 0.2 else 'NOT met'}"
            f" (table: {'met' if cached_table <= 0.2 else 'NOT met'})"
            f" ({runs} runs, medians)",
            flush=True,
        )
    finally:
        fixtures_util.remove_tree(work)


if __name__ == "__main__":
    main()
