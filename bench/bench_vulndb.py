"""``dockyard db import`` of a realistic 150k-record OSV database, and matching 100 packages against it.

    python bench/bench_vulndb.py [--records 150000]

The database: the real PyPI ``all.zip`` of ``../shared/osv-data`` (7,080 records) plus generated records in the real
shapes of osv.dev's Debian and Alpine data — ``DEBIAN-CVE-*`` (one entry per release, ``ecosystem_specific.urgency``,
fixed or open ranges), ``DSA-*``/``DLA-*`` with ``versions[]`` lists, ``ALPINE-CVE-*`` (one entry per release,
``_git``/``_p``/``-r`` versions, a CVSS v3 vector) — written as ``Debian/all.zip`` and ``Alpine/all.zip``.
The import runs as the CLI does (``python -m dockyard db import``, a child process) so that its wall time and peak
RSS are the command's own. Matching is timed cold (a new connection) and warm, for 100 packages of the three kinds.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from _common import ROOT

from dockyard.scan.package import OS, Package
from dockyard.scan.vuln.db import VulnDB
from dockyard.scan.vuln.match import match

_CHILD = (
    "import sys\n"
    "from dockyard.cli.main import main\n"
    "rc = main(sys.argv[1:])\n"
    "hwm = [line for line in open('/proc/self/status') if line.startswith('VmHWM:')][0]\n"
    "print(hwm.split()[1], file=sys.stderr)\n"
    "sys.exit(rc)\n"
)
SHARED = ROOT.parent / "shared" / "osv-data"
URGENCIES = ["unimportant", "low", "medium", "high", "not yet assigned", ""]
DEB_RELEASES = ["Debian:10", "Debian:11", "Debian:12", "Debian:13"]
ALPINE_RELEASES = [f"Alpine:v3.{n}" for n in range(12, 22)]
CVSS = [
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
    "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H",
    "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N",
]


def _packages(rnd: random.Random, prefix: str, n: int) -> list[str]:
    stems = ["lib", "py", "gnu", "x", "perl-", "ruby-", "node-", "golang-", ""]
    words = ["ssl", "xml2", "curl", "zlib", "expat", "png", "jpeg", "tiff", "glib", "gtk", "sql", "krb5", "ssh", "pcre"]
    return [f"{rnd.choice(stems)}{rnd.choice(words)}{i}{prefix}" for i in range(n)]


def _deb_version(rnd: random.Random) -> str:
    epoch = f"{rnd.randint(1, 3)}:" if rnd.random() < 0.1 else ""
    up = f"{rnd.randint(0, 9)}.{rnd.randint(0, 30)}.{rnd.randint(0, 20)}"
    if rnd.random() < 0.3:
        up += "+dfsg"
    rev = f"{rnd.randint(1, 12)}"
    if rnd.random() < 0.5:
        rev += f"+deb{rnd.randint(10, 13)}u{rnd.randint(1, 9)}"
    return f"{epoch}{up}-{rev}"


def _apk_version(rnd: random.Random) -> str:
    v = f"{rnd.randint(0, 9)}.{rnd.randint(0, 30)}.{rnd.randint(0, 20)}"
    roll = rnd.random()
    if roll < 0.1:
        v += f"_git2023{rnd.randint(1, 12):02d}{rnd.randint(1, 28):02d}"
    elif roll < 0.2:
        v += f"_p{rnd.randint(1, 9)}"
    elif roll < 0.25:
        v += f"_rc{rnd.randint(1, 4)}"
    return f"{v}-r{rnd.randint(0, 12)}"


def _debian_records(rnd: random.Random, n: int, names: list[str]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i in range(n):
        name = rnd.choice(names)
        if i % 5 == 0:  # a DSA/DLA with versions[]
            rid = f"{'DSA' if i % 2 else 'DLA'}-{10000 + i}-1"
            release = rnd.choice(DEB_RELEASES)
            fixed = _deb_version(rnd)
            versions = sorted({_deb_version(rnd) for _ in range(rnd.randint(5, 30))})
            cves = [f"CVE-20{rnd.randint(10, 25)}-{rnd.randint(1000, 99999)}" for _ in range(rnd.randint(1, 4))]
            affected = [
                {
                    "package": {"ecosystem": release, "name": name, "purl": f"pkg:deb/debian/{name}?arch=source"},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
                    "versions": versions,
                }
            ]
            rec: dict[str, object] = {"id": rid, "upstream": cves + [f"DEBIAN-{c}" for c in cves]}
            rec["summary"] = f"{name} - security update"
        else:  # a DEBIAN-CVE, one entry per release
            cve = f"CVE-20{rnd.randint(10, 25)}-{100000 + i}"
            rid = f"DEBIAN-{cve}"
            affected = []
            for release in rnd.sample(DEB_RELEASES, rnd.randint(1, 4)):
                events: list[dict[str, str]] = [{"introduced": "0"}]
                if rnd.random() < 0.7:
                    events.append({"fixed": _deb_version(rnd)})
                affected.append(
                    {
                        "package": {"ecosystem": release, "name": name, "purl": f"pkg:deb/debian/{name}?arch=source"},
                        "ranges": [{"type": "ECOSYSTEM", "events": events}],
                        "ecosystem_specific": {"urgency": rnd.choice(URGENCIES)},
                    }
                )
            rec = {"id": rid, "upstream": [cve], "details": f"generated record {i} in the DEBIAN-CVE shape"}
        rec.update(
            schema_version="1.7.3",
            modified="2026-11-01T00:00:00Z",
            published="2024-01-01T00:00:00Z",
            affected=affected,
            references=[{"type": "ADVISORY", "url": f"https://security-tracker.debian.org/tracker/{rid}"}],
        )
        out.append(rec)
    return out


def _alpine_records(rnd: random.Random, n: int, names: list[str]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i in range(n):
        cve = f"CVE-20{rnd.randint(10, 25)}-{200000 + i}"
        name = rnd.choice(names)
        affected = []
        for release in rnd.sample(ALPINE_RELEASES, rnd.randint(1, 6)):
            intro = "0" if rnd.random() < 0.8 else _apk_version(rnd).split("-")[0]
            affected.append(
                {
                    "package": {"ecosystem": release, "name": name, "purl": f"pkg:apk/alpine/{name}?arch=source"},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": intro}, {"fixed": _apk_version(rnd)}]}],
                }
            )
        out.append(
            {
                "schema_version": "1.7.3",
                "id": f"ALPINE-{cve}",
                "modified": "2026-11-01T00:00:00Z",
                "upstream": [cve],
                "severity": [{"type": "CVSS_V3", "score": rnd.choice(CVSS)}],
                "details": f"generated record {i} in the ALPINE-CVE shape",
                "affected": affected,
                "references": [{"type": "ADVISORY", "url": f"https://security.alpinelinux.org/vuln/{cve}"}],
            }
        )
    return out


def _write_zip(path: Path, records: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for rec in records:
            zf.writestr(f"{rec['id']}.json", json.dumps(rec, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=150_000)
    args = parser.parse_args()
    pypi_zip = SHARED / "PyPI" / "all.zip"
    if not pypi_zip.exists():
        sys.exit(f"{pypi_zip} is missing")
    with zipfile.ZipFile(pypi_zip) as zf:
        pypi_count = len([n for n in zf.namelist() if n.endswith(".json")])
    rest = args.records - pypi_count
    n_deb, n_alpine = rest * 2 // 3, rest - rest * 2 // 3
    rnd = random.Random(9)
    deb_names = _packages(rnd, "", 3000)
    apk_names = _packages(rnd, "-a", 1500)
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-vulndb-") as tmp:
        t0 = time.perf_counter()
        deb_records = _debian_records(rnd, n_deb, deb_names)
        alpine_records = _alpine_records(rnd, n_alpine, apk_names)
        _write_zip(Path(tmp) / "Debian" / "all.zip", deb_records)
        _write_zip(Path(tmp) / "Alpine" / "all.zip", alpine_records)
        del deb_records, alpine_records
        print(
            f"generated {n_deb:,} Debian + {n_alpine:,} Alpine records (+{pypi_count:,} real PyPI) "
            f"in {time.perf_counter() - t0:.1f}s",
            flush=True,
        )
        root = Path(tmp) / "root"
        zips = [str(pypi_zip), str(Path(tmp) / "Debian" / "all.zip"), str(Path(tmp) / "Alpine" / "all.zip")]
        t0 = time.perf_counter()
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, "--root", str(root), "db", "import", *zips],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        elapsed = time.perf_counter() - t0
        peak_kb = int(
            child.stderr.strip().splitlines()[-1]
        )  # the child's own peak (ru_maxrss of a fork is the parent's)
        size = (root / "vuln.db").stat().st_size
        print(
            f"db import, {args.records:,} records: {elapsed:.1f}s ({args.records / elapsed:,.0f} records/s), "
            f"peak RSS {peak_kb / 1024:.0f} MB, vuln.db {size / 1e6:.0f} MB",
            flush=True,
        )

        with zipfile.ZipFile(pypi_zip) as zf:
            pypi_names = sorted(
                {a["package"]["name"] for n in zf.namelist()[:600] for a in json.loads(zf.read(n)).get("affected", [])}
            )
        packages: list[Package] = []
        for name in rnd.sample(deb_names, 40):
            packages.append(Package(name, "1.0-1", "Debian:12", "", "dpkg", name, _deb_version(rnd)))
        for name in rnd.sample(apk_names, 30):
            packages.append(Package(name, _apk_version(rnd), "Alpine:v3.19", "", "apk"))
        for name in rnd.sample(pypi_names, 30):
            packages.append(Package(name, "1.0.0", "PyPI", "", "python"))
        bookworm = OS("debian", "12", "Debian:12")
        t0 = time.perf_counter()
        with VulnDB(root / "vuln.db") as db:
            found = match(packages, bookworm, db)
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            match(packages, bookworm, db)
            warm = time.perf_counter() - t0
        print(
            f"match 100 packages: {len(found)} findings, cold {cold * 1000:.0f} ms, warm {warm * 1000:.0f} ms",
            flush=True,
        )


if __name__ == "__main__":
    main()
