"""``dockyard sbom`` against the peers: dpkg-query on the unpacked Debian image, Trivy 0.76 and Syft 1.18.1
(both offline), on the real Debian bookworm minbase image and on a synthetic image with every cataloger.

Where the peers disagree, dockyard's choice (each asserted below):

* Debian source version when ``Source:`` names no version (``Source: zlib``): Trivy and ``dpkg-query
  ${source:Version}`` give the binary's version, Syft gives nothing. dockyard follows Trivy and dpkg: Debian's
  advisories are keyed by source package and source version, so the matcher needs one for every package.
* Which dpkg stanzas are packages: dockyard takes the issue's rule and dpkg's own (state ``installed``:
  dpkg-query's ``ii``/``hi``). Trivy also counts ``half-installed`` and ``unpacked`` packages (anything not
  wanted ``deinstall``/``purge``), Syft every stanza, ``config-files`` (removed, only its conffiles left)
  included. A package that is not installed has not run its maintainer scripts and may be half on disk; a
  removed one is not there at all: reporting either as installed would report vulnerabilities in code that is
  not (fully) in the image. The minbase image has only installed packages, so the three agree there.
* Debian purls: the epoch goes to an ``epoch`` qualifier (Trivy; Syft keeps it in the version); ``distro`` is
  ``debian-12`` (VERSION_ID, as Syft and the issue's example; Trivy writes ``debian-12.15``).
* Python names: normalised per PEP 503 (``zope-interface``, ``ruamel-yaml``), as Syft; Trivy keeps the
  metadata's spelling (``zope.interface``) -- the OSV PyPI ecosystem matches on normalised names.
* Go: ``stdlib`` is ``1.19.8`` (OSV's form; Trivy writes ``v1.19.8``, Syft ``go1.19.8``); the main module built
  from a checkout has no version (Trivy; Syft writes ``(devel)``). Both peers agree on the rest: a local
  ``replace`` is reported as its directory (``../greet``), an application's own ``package.json`` is a package.
* Alpine purls: ``?os_name=alpine&os_version=3.19`` (Docker Scout's form, the issue's); Trivy writes
  ``arch=x86_64&distro=3.19.1`` and Syft ``arch=x86_64&distro=alpine-3.19.1``: names and versions agree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fixtures_util import offline_prefix, peer_tool, require_tool

from dockyard.image.base import StaticImage
from dockyard.layers.unpack import unpack
from dockyard.scan.sbom.index import Sbom, build
from dockyard.store.store import Store
from dockyard.transport import oci_layout
from dockyard.transport.oci_layout import RefName

sys.path.insert(0, os.fspath(Path(__file__).resolve().parents[1] / "unit" / "scan" / "sbom"))
from sbom_images import build_go_binary, mixed_image

pytestmark = [pytest.mark.interop]


def trivy_cyclonedx(target: Path, tmp: Path) -> dict[str, Any]:
    out = tmp / "trivy.json"
    subprocess.run(
        [
            *offline_prefix(),
            peer_tool("trivy"), "image", "--input", os.fspath(target), "--format", "cyclonedx", "--scanners", "",
            "--skip-version-check", "--disable-telemetry", "--skip-db-update", "--offline-scan",
            "--cache-dir", os.fspath(tmp / "trivy-cache"), "-o", os.fspath(out), "--quiet",
        ],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


def syft_cyclonedx(source: str, tmp: Path) -> dict[str, Any]:
    out = tmp / "syft.json"
    env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    subprocess.run(
        [*offline_prefix(), peer_tool("syft"), "scan", source, "-o", f"cyclonedx-json={out}", "-q"],
        check=True, capture_output=True, timeout=600, env=env,
    )  # fmt: skip
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


def _props(component: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties", [])}


def _libraries(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in doc.get("components", []) if c["type"] == "library"]


@pytest.fixture(scope="module")
def debian_sbom(debian_docker_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Sbom:
    from dockyard.scan.sbom.source import open_image

    root = tmp_path_factory.mktemp("store")
    with Store(root) as store, open_image(f"docker-archive:{debian_docker_archive}", store) as (image, _):
        return build(image)


def test_debian_equals_dpkg_query(debian_sbom: Sbom, debian_docker_archive: Path, tmp_path: Path) -> None:
    dpkg_query = require_tool("dpkg-query")
    from dockyard.scan.sbom.source import open_image

    rootfs = tmp_path / "rootfs"
    with Store(tmp_path / "store") as store, open_image(f"docker-archive:{debian_docker_archive}", store) as (image, _):
        unpack([layer.open for layer in image.layers()], rootfs)
    fmt = "${db:Status-Abbrev}\\t${Package}\\t${Version}\\t${source:Package}\\t${source:Version}\\t${Architecture}\\n"
    listed = subprocess.run(
        [dpkg_query, f"--admindir={rootfs}/var/lib/dpkg", "-W", "-f", fmt], check=True, capture_output=True, text=True
    ).stdout
    expected = {tuple(line.split("\t")[1:]) for line in listed.splitlines() if line.startswith("ii ")}
    got = {
        (p.name, p.version, p.source, p.source_version, p.purl.split("arch=")[1].split("&")[0])
        for p in debian_sbom.packages
    }
    assert len(expected) == 88  # debootstrap --variant=minbase bookworm
    assert got == expected
    assert debian_sbom.os is not None and debian_sbom.os.ecosystem == "Debian:12"
    assert all(p.kind == "dpkg" and p.ecosystem == "Debian:12" for p in debian_sbom.packages)
    assert debian_sbom.complete


def test_debian_equals_trivy(debian_sbom: Sbom, debian_docker_archive: Path, tmp_path: Path) -> None:
    doc = trivy_cyclonedx(debian_docker_archive, tmp_path)
    theirs = set()
    for c in _libraries(doc):
        p = _props(c)
        src = p["aquasecurity:trivy:SrcVersion"]
        if p.get("aquasecurity:trivy:SrcRelease"):
            src += "-" + p["aquasecurity:trivy:SrcRelease"]
        if p.get("aquasecurity:trivy:SrcEpoch"):
            src = p["aquasecurity:trivy:SrcEpoch"] + ":" + src
        purl = c["purl"].replace("distro=debian-12.15", "distro=debian-12")  # Trivy's distro has the point release
        theirs.add(
            (c["name"], c["version"], p["aquasecurity:trivy:SrcName"], src, purl, p["aquasecurity:trivy:LayerDiffID"])
        )
    ours = {(p.name, p.version, p.source, p.source_version, p.purl, p.layer) for p in debian_sbom.packages}
    assert ours == theirs


def test_debian_against_syft(debian_sbom: Sbom, debian_docker_archive: Path, tmp_path: Path) -> None:
    doc = syft_cyclonedx(f"docker-archive:{debian_docker_archive}", tmp_path)
    ours = {p.name: p for p in debian_sbom.packages}
    libs = _libraries(doc)
    assert {(c["name"], c["version"]) for c in libs} == {(p.name, p.version) for p in debian_sbom.packages}
    no_source_version = 0
    for c in libs:
        p = _props(c)
        mine = ours[c["name"]]
        assert p.get("syft:metadata:source", c["name"]) == mine.source
        if "syft:metadata:sourceVersion" in p:
            assert p["syft:metadata:sourceVersion"] == mine.source_version
        else:  # Syft leaves it empty when Source: names no version; dockyard (Trivy, dpkg) takes the binary's
            assert mine.source_version == mine.version
            no_source_version += 1
    assert no_source_version > 0


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Sbom]:
    work = tmp_path_factory.mktemp("mixed")
    binary = build_go_binary(work / "go")
    image = mixed_image(binary.read_bytes())
    layout = work / "layout"
    oci_layout.write([(image, [RefName("app")])], layout, as_tar=False)
    return layout, build(image)


def _ours(sbom: Sbom) -> set[tuple[str, str, str]]:
    return {(p.kind, p.name, p.version) for p in sbom.packages}


def test_mixed_image_against_trivy(mixed: tuple[Path, Sbom], tmp_path: Path) -> None:
    layout, sbom = mixed
    doc = trivy_cyclonedx(layout, tmp_path)
    kinds = {"alpine": "apk", "python-pkg": "python", "node-pkg": "npm", "gobinary": "go"}
    theirs = set()
    for c in _libraries(doc):
        kind = kinds[_props(c)["aquasecurity:trivy:PkgType"]]
        name, version = c["name"], c.get("version", "")
        if kind == "npm" and c.get("group"):
            name = f"{c['group']}/{name}"
        if kind == "python":
            from packaging.utils import canonicalize_name

            name = canonicalize_name(name)  # Trivy keeps the metadata's spelling
        if kind == "go" and name == "stdlib":
            version = version.removeprefix("v")
        theirs.add((kind, name, version))
    assert _ours(sbom) == theirs
    layers = {c["name"]: _props(c).get("aquasecurity:trivy:LayerDiffID") for c in _libraries(doc)}
    assert {p.name: p.layer for p in sbom.packages if p.kind == "apk"} == {
        n: layers[n] for n in ("expat", "libcrypto3", "musl", "zlib")
    }


def test_mixed_image_against_syft(mixed: tuple[Path, Sbom], tmp_path: Path) -> None:
    layout, sbom = mixed
    doc = syft_cyclonedx(f"oci-dir:{layout}", tmp_path)
    theirs = set()
    for c in _libraries(doc):
        purl = c["purl"]
        kind = {"apk": "apk", "pypi": "python", "npm": "npm", "golang": "go"}[purl[4:].split("/")[0]]
        version = c.get("version", "")
        if kind == "go":
            version = "" if version == "(devel)" else version.removeprefix("go")
        theirs.add((kind, c["name"], version))
    assert _ours(sbom) == theirs


def test_peers_are_here() -> None:
    assert shutil.which(peer_tool("trivy")) and shutil.which(peer_tool("syft"))


def test_dpkg_states_against_peers(tmp_path: Path) -> None:
    from test_sbom_dpkg import STATUS  # installed, hold, config-files, half-installed, unpacked stanzas

    from dockyard.image.build import build_image, file

    image = build_image([[file("etc/os-release", 'ID=debian\nVERSION_ID="12"\n'), file("var/lib/dpkg/status", STATUS)]])
    layout = tmp_path / "layout"
    oci_layout.write([(image, [RefName("app")])], layout, as_tar=False)
    ours = {p.name for p in build(image).packages}
    installed = {"bash", "libcap2", "libgcc-s1", "tzdata", "zlib1g"}
    assert ours == installed
    trivy = {c["name"] for c in _libraries(trivy_cyclonedx(layout, tmp_path))}
    assert trivy == installed | {"half", "unpacked-only"}
    syft = {c["name"] for c in _libraries(syft_cyclonedx(f"oci-dir:{layout}", tmp_path))}
    assert syft == installed | {"half", "unpacked-only", "removed-but-configured"}


def _real_packages_image() -> tuple[StaticImage, int, int]:
    """A layer of real npm packages (the package.json files of the npm installed here, /usr/lib/node_modules)
    and a layer of real Python metadata (this venv's ``*.dist-info/METADATA``), at their own paths."""
    import importlib.metadata
    import sysconfig

    from dockyard.image.build import build_image, file

    npm_root = Path("/usr/lib/node_modules")
    npm = sorted(npm_root.rglob("package.json")) if npm_root.is_dir() else []
    if not npm:
        pytest.skip("no npm installation under /usr/lib/node_modules here")
    site = Path(sysconfig.get_paths()["purelib"])
    metas = sorted(site.glob("*.dist-info/METADATA"))
    layers = [
        [file(os.fspath(p.relative_to("/")), p.read_bytes()) for p in npm],
        [file(os.fspath(p.relative_to("/")), p.read_bytes()) for p in metas],
    ]
    dists = {d.metadata["Name"] for d in importlib.metadata.distributions(path=[os.fspath(site)])}
    return build_image(layers), len(npm), len(dists)


def test_real_npm_and_python_packages_against_both_peers(tmp_path: Path) -> None:
    from packaging.utils import canonicalize_name

    image, _npm_files, dists = _real_packages_image()
    sbom = build(image)
    assert sbom.complete, sbom.warnings
    assert len([p for p in sbom.packages if p.kind == "python"]) == dists
    layout = tmp_path / "layout"
    oci_layout.write([(image, [RefName("app")])], layout, as_tar=False)

    def inventory(doc: dict[str, Any]) -> set[tuple[str, str, str]]:
        out = set()
        for c in _libraries(doc):
            kind = "npm" if c["purl"].startswith("pkg:npm/") else "python"
            name = f"{c['group']}/{c['name']}" if c.get("group") else c["name"]
            out.add((kind, canonicalize_name(name) if kind == "python" else name, c.get("version", "")))
        return out

    ours = _ours(sbom)
    assert len(ours) > 100
    assert inventory(trivy_cyclonedx(layout, tmp_path)) == ours
    assert inventory(syft_cyclonedx(f"oci-dir:{layout}", tmp_path)) == ours
