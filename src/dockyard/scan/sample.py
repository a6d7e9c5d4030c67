"""The brief's Docker Scout example, bundled (``make demo`` and the tests): a small image on a
``python:3-alpine``-like base whose apk database lists ``expat 2.5.0-r2``, and OSV records written from the real
advisories CVE-2023-52425 (High, CVSS 7.5) and CVE-2023-52426 (Medium, CVSS 5.5), both fixed in ``2.6.0-r0``:
Alpine's records in their published shape (``ALPINE-CVE-…``, ``upstream`` naming the CVE, no severity) and the CVE
records that carry the CVSS vectors. Built here, no network."""

from __future__ import annotations

import json
from pathlib import Path

from dockyard.image.base import StaticImage
from dockyard.image.build import LayerSpec, build_image, directory, file
from dockyard.oci.platform import Platform

_OS_RELEASE = (
    'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n'
    'HOME_URL="https://alpinelinux.org/"\n'
)

# name, version, origin, description
_APK = [
    ("musl", "1.2.4_git20230717-r4", "musl", "the musl c library (libc) implementation"),
    ("busybox", "1.36.1-r15", "busybox", "Size optimized toolbox of many common UNIX utilities"),
    ("zlib", "1.3.1-r0", "zlib", "A compression/decompression Library"),
    ("expat", "2.5.0-r2", "expat", "XML SAX Parser library written in C"),
    ("libffi", "3.4.4-r3", "libffi", "portable, high level programming interface to various calling conventions"),
    ("python3", "3.11.8-r0", "python3", "A high-level scripting language"),
]


def _apk_db(packages: list[tuple[str, str, str, str]]) -> str:
    entries = []
    for name, version, origin, description in packages:
        entries.append(f"P:{name}\nV:{version}\nA:x86_64\nT:{description}\nL:MIT\no:{origin}\n")
    return "\n".join(entries) + "\n"


def _base_layer() -> LayerSpec:
    return LayerSpec(
        [
            directory("etc"),
            file("etc/os-release", _OS_RELEASE),
            file("etc/alpine-release", "3.19.1\n"),
            directory("lib"),
            directory("lib/apk"),
            directory("lib/apk/db"),
            file("lib/apk/db/installed", _apk_db(_APK)),
        ],
        "/bin/sh -c #(nop) ADD file:alpine-minirootfs in / ",
    )


def base_image() -> StaticImage:
    """A ``python:3-alpine``-like base: Alpine 3.19 with expat 2.5.0-r2 among its packages."""
    return build_image(
        [
            _base_layer(),
        ],
        platform=Platform("linux", "amd64"),
        config={"Cmd": ["python3"], "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"]},
    )


def app_image() -> StaticImage:
    """The brief's ``myuser/tu-demo:latest``: the base and an application layer (no packages of its own)."""
    return build_image(
        [
            _base_layer(),
            LayerSpec(
                [directory("app"), file("app/app.py", "print('hello from tu-demo')\n")],
                "COPY app.py /app/ # buildkit",
            ),
        ],
        platform=Platform("linux", "amd64"),
        config={"Cmd": ["python3", "/app/app.py"], "WorkingDir": "/app"},
    )


_ADVISORIES = {
    "CVE-2023-52425": (
        "libexpat through 2.5.0 allows a denial of service (resource consumption) because many full reparsings "
        "are required in the case of a large token for which multiple buffer fills are needed.",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
        "2024-02-04T20:15:46Z",
    ),
    "CVE-2023-52426": (
        "libexpat through 2.5.0 allows recursive XML Entity Expansion if XML_DTD is undefined at compile time.",
        "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H",
        "2024-02-04T20:15:46Z",
    ),
}


def osv_records() -> list[dict[str, object]]:
    """The four OSV records of the example (two Alpine, two CVE), as osv.dev publishes their shapes."""
    records: list[dict[str, object]] = []
    for cve, (details, vector, published) in _ADVISORIES.items():
        records.append(
            {
                "schema_version": "1.6.0",
                "id": f"ALPINE-{cve}",
                "modified": "2024-03-07T05:00:00Z",
                "published": published,
                "upstream": [cve],
                "details": details,
                "affected": [
                    {
                        "package": {
                            "name": "expat",
                            "ecosystem": "Alpine:v3.19",
                            "purl": "pkg:apk/alpine/expat?arch=source",
                        },
                        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.6.0-r0"}]}],
                    }
                ],
            }
        )
        records.append(
            {
                "schema_version": "1.6.0",
                "id": cve,
                "modified": "2024-03-07T05:00:00Z",
                "published": published,
                "details": details,
                "severity": [{"type": "CVSS_V3", "score": vector}],
                "references": [{"type": "ADVISORY", "url": f"https://nvd.nist.gov/vuln/detail/{cve}"}],
            }
        )
    return records


def write_osv(folder: Path) -> Path:
    """The example's records as a folder of OSV JSON files (what ``dockyard db import`` takes)."""
    folder.mkdir(parents=True, exist_ok=True)
    for record in osv_records():
        (folder / f"{record['id']}.json").write_text(json.dumps(record, indent=2) + "\n")
    return folder


__all__ = ["app_image", "base_image", "osv_records", "write_osv"]
