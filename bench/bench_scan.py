"""SBOM + match of the Debian bookworm image against a 150k-record database, cold and cached, with peak memory; ``db
import`` of the 150k records; and ``trivy image --scanners vuln`` on the same image with its own DB, same run.

    python bench/bench_scan.py [--records 150000] [--runs 5]

The database: bench_vulndb's generator (the real PyPI ``all.zip`` plus generated Debian and Alpine records in
osv.dev's shapes) and the real bookworm records of ``../shared/osv-data/Debian/Debian-12``, so that the image has
findings. Trivy gets the same records as its bbolt DB (tests/trivydb.py). Whole commands are timed (``dockyard
scout cves --format json`` and ``trivy image --format json``); "cold" is a store without the image's SBOM (only
``vuln.db`` copied in) and, for Trivy, a cache dir without its layer cache; "cached" repeats on the same one.
Peak memory is the child's own ``ru_maxrss``. Targets (reported, not asserted): cached scan <= 0.2 s, peak <= 200 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from _common import ROOT, fixtures_util, fresh, median_time, peak_rss_mb, report, run_quiet, tool
from bench_vulndb import SHARED, _alpine_records, _debian_records, _packages, _write_zip
from trivydb import write_trivy_db

# Bytecode as an installed package has it (pip compiles at install): without it every run compiles ~70 modules
# (0.15 s here), which this environment's PYTHONDONTWRITEBYTECODE=1 would otherwise add to each scan.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"PYTHONPATH": str(ROOT / "src")}
TRIVY_FLAGS = ["--skip-version-check", "--disable-telemetry", "--skip-db-update", "--offline-scan", "--quiet"]


def _tool(name: str) -> str | None:
    return tool(name)


def _run(argv: list[str]) -> None:
    run_quiet(argv, ENV)


def _peak_rss_mb(argv: list[str]) -> float:
    return peak_rss_mb(argv, ENV)


def _in_process(archive: Path, root: Path, runs: int) -> None:
    """Where a cached scan's time goes: the library alone (cached SBOM lookup, match), and the interpreter + CLI."""
    from dockyard.scan.sbom import sbom
    from dockyard.scan.sbom.source import open_image
    from dockyard.scan.vuln.db import VulnDB
    from dockyard.scan.vuln.match import match_packages
    from dockyard.store.store import Store

    with Store(root) as store, open_image(f"docker-archive:{archive}", store) as (image, _):
        cache = store.cache_dir / "sbom"
        result = sbom(image, cache_root=cache)
        t_sbom = median_time(lambda: sbom(image, cache_root=cache), runs)
    with VulnDB(root / "vuln.db") as db:
        t0 = time.perf_counter()
        match_packages(result.packages, result.os, db)
        t_cold = time.perf_counter() - t0
        t_match = median_time(lambda: match_packages(result.packages, result.os, db), runs)
    images = [sys.executable, "-m", "dockyard", "--root", str(root), "images"]
    t_images = median_time(lambda: _run(images), runs)
    print(
        f"  in process: cached SBOM {t_sbom * 1000:.1f} ms, match {len(result.packages)} packages "
        f"{t_cold * 1000:.1f} ms (new connection) / {t_match * 1000:.1f} ms; "
        f"for scale, `dockyard images` (interpreter start-up and the CLI) {t_images:.3f}s",
        flush=True,
    )


def _records(n: int) -> tuple[list[dict[str, object]], list[dict[str, object]], int]:
    """(Debian records, Alpine records, PyPI count): generated up to ``n`` with the real PyPI and bookworm ones."""
    with zipfile.ZipFile(SHARED / "PyPI" / "all.zip") as zf:
        pypi_count = len([name for name in zf.namelist() if name.endswith(".json")])
    bookworm = [json.loads(p.read_text()) for p in sorted((SHARED / "Debian" / "Debian-12").glob("*.json"))]
    rest = n - pypi_count - len(bookworm)
    n_deb, n_alpine = rest * 2 // 3, rest - rest * 2 // 3
    rnd = random.Random(9)
    deb = _debian_records(rnd, n_deb, _packages(rnd, "", 3000))
    alpine = _alpine_records(rnd, n_alpine, _packages(rnd, "-a", 1500))
    return [*deb, *bookworm], alpine, pypi_count


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=150_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    runs = args.runs
    pypi_zip = SHARED / "PyPI" / "all.zip"
    if not pypi_zip.exists():
        sys.exit(f"{pypi_zip} is missing")
    archive = fixtures_util.ensure_debian_docker_archive()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True, env=ENV)
    work = Path(tempfile.mkdtemp(prefix="bench-scan-"))
    try:
        deb, alpine, pypi_count = _records(args.records)
        _write_zip(work / "Debian" / "all.zip", deb)
        _write_zip(work / "Alpine" / "all.zip", alpine)
        total = len(deb) + len(alpine) + pypi_count
        print(f"database: {total:,} records ({len(deb):,} Debian, {len(alpine):,} Alpine, {pypi_count:,} PyPI)")

        # db import of the whole database (a fresh root each run).
        dbroot = work / "db-root"
        zips = [str(pypi_zip), str(work / "Debian" / "all.zip"), str(work / "Alpine" / "all.zip")]
        imp = [sys.executable, "-m", "dockyard", "--root", str(dbroot), "db", "import", *zips]
        import_runs = max(1, min(runs, 3))
        t_import = median_time(lambda: _run(imp), import_runs, setup=lambda: fresh(dbroot))
        fresh(dbroot)
        rss_import = _peak_rss_mb(imp)
        size = (dbroot / "vuln.db").stat().st_size
        print(
            f"db import, {total:,} records: {t_import:.1f}s ({total / t_import:,.0f} records/s), "
            f"peak RSS {rss_import:.0f} MB, vuln.db {size / 1e6:.0f} MB ({import_runs} runs, median)",
            flush=True,
        )

        # SBOM + match of the Debian image.
        root = work / "root"
        scan = [sys.executable, "-m", "dockyard", "--root", str(root), "scout", "cves", "--format", "json"]
        scan.append(f"docker-archive:{archive}")

        def cold_root() -> None:
            fresh(root)
            shutil.copy2(dbroot / "vuln.db", root / "vuln.db")

        cold = median_time(lambda: _run(scan), runs, setup=cold_root)
        cached = median_time(lambda: _run(scan), runs)
        rss_cached = _peak_rss_mb(scan)
        cold_root()
        rss_cold = _peak_rss_mb(scan)
        found = json.loads(subprocess.run(scan, capture_output=True, text=True, env=ENV, check=True).stdout)
        n_vulns = sum(len(p["vulnerabilities"]) for p in found)
        print(
            f"dockyard scout cves (SBOM + match, {n_vulns} findings): cold {cold:.3f}s, cached {cached:.3f}s; "
            f"peak RSS cold {rss_cold:.0f} MB, cached {rss_cached:.0f} MB",
            flush=True,
        )
        _in_process(archive, root, runs)

        trivy = _tool("trivy")
        t_cold = t_cached = t_rss = None
        t_write = 0.0
        if trivy is not None:
            tcache = work / "trivy-cache"
            records = [*deb, *alpine]
            with zipfile.ZipFile(pypi_zip) as zf:
                records += [json.loads(zf.read(n)) for n in zf.namelist() if n.endswith(".json")]
            t0 = time.perf_counter()
            write_trivy_db(tcache, records)
            t_write = time.perf_counter() - t0
            del records
            tdb = (tcache / "db" / "trivy.db").stat().st_size
            print(f"trivy.db written from the same records in {t_write:.1f}s ({tdb / 1e6:.0f} MB)", flush=True)
            targv = [trivy, "image", "--input", str(archive), "--format", "json", "--scanners", "vuln"]
            targv += [*TRIVY_FLAGS, "--cache-dir", str(tcache), "-o", str(work / "trivy.json")]

            def trivy_cold() -> None:
                shutil.rmtree(tcache / "fanal", ignore_errors=True)

            t_cold = median_time(lambda: _run(targv), runs, setup=trivy_cold)
            t_cached = median_time(lambda: _run(targv), runs)
            t_rss = _peak_rss_mb(targv)
            doc = json.loads((work / "trivy.json").read_text())
            t_vulns = sum(len(r.get("Vulnerabilities") or []) for r in doc.get("Results") or [])
            print(f"trivy image --scanners vuln ({t_vulns} findings): peak RSS (cached) {t_rss:.0f} MB", flush=True)
        report("scan cold (dockyard cold vs trivy cold)", cold, "trivy", t_cold)
        report("scan cached (dockyard cached vs trivy with its layer cache)", cached, "trivy", t_cached)
        report("scan peak RSS cached", rss_cached, "trivy", t_rss, unit=" MB")
        print(
            f"targets: cached scan <= 0.2 s: {'met' if cached <= 0.2 else 'NOT met'} ({cached:.3f}s); "
            f"peak <= 200 MB: {'met' if max(rss_cold, rss_cached) <= 200 else 'NOT met'} "
            f"({max(rss_cold, rss_cached):.0f} MB) ({runs} runs, medians)",
            flush=True,
        )
    finally:
        fixtures_util.remove_tree(work)


if __name__ == "__main__":
    main()
