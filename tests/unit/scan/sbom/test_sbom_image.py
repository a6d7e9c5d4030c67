"""The SBOM of synthetic multi-layer images: every cataloger, whiteouts, the introducing layer, the caches."""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

import pytest
from sbom_images import APK_INSTALLED, build_go_binary, go_version_m, mixed_image

from dockyard.image.base import BlobLayer, StaticImage
from dockyard.image.build import build_image, file, symlink
from dockyard.scan.package import Package
from dockyard.scan.sbom.index import Sbom, build


@pytest.fixture(scope="module")
def go_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_go_binary(tmp_path_factory.mktemp("go"))


def _by_name(sbom: Sbom, kind: str) -> dict[str, Package]:
    return {p.name: p for p in sbom.packages if p.kind == kind}


def test_mixed_image(go_binary: Path) -> None:
    image = mixed_image(go_binary.read_bytes())
    diff = [str(layer.diff_id()) for layer in image.layers()]
    sbom = build(image)
    assert sbom.complete, sbom.warnings
    assert sbom.os is not None and (sbom.os.family, sbom.os.ecosystem) == ("alpine", "Alpine:v3.19")

    apk = _by_name(sbom, "apk")
    assert sorted(apk) == ["expat", "libcrypto3", "musl", "zlib"]
    assert apk["expat"].purl == "pkg:apk/alpine/expat@2.5.0-r2?os_name=alpine&os_version=3.19"
    assert (apk["libcrypto3"].source, apk["libcrypto3"].source_version) == ("openssl", "3.1.4-r5")
    assert apk["expat"].ecosystem == "Alpine:v3.19" and apk["expat"].licenses == ("MIT",)
    # The top layer rewrote the database: the packages it already held keep the base layer, zlib is new.
    assert {n: diff.index(p.layer) for n, p in apk.items()} == {"expat": 0, "libcrypto3": 0, "musl": 0, "zlib": 3}

    python = _by_name(sbom, "python")
    assert sorted(python) == ["flask", "ruamel-yaml", "zope-interface"]  # six: whited out by the top layer
    assert python["flask"].purl == "pkg:pypi/flask@3.0.0" and python["flask"].ecosystem == "PyPI"
    assert python["ruamel-yaml"].path.endswith(".egg-info/PKG-INFO")
    assert {p.layer for p in python.values()} == {diff[1]}

    npm = _by_name(sbom, "npm")
    # node_modules packages and the application's own manifest (as Trivy and Syft); lib/package.json has no name
    assert sorted(npm) == ["@babel/core", "lodash", "minimist", "myapp"]
    assert npm["@babel/core"].purl == "pkg:npm/%40babel/core@7.23.0"
    assert npm["minimist"].ecosystem == "npm" and npm["minimist"].layer == diff[2]

    go = _by_name(sbom, "go")
    assert "=>\t../greet" in go_version_m(go_binary)
    assert sorted(go) == ["../greet", "example.com/app", "stdlib"]
    # a local-directory `replace` is the directory, with no version (not the published module's v1.2.3)
    assert go["../greet"].version == ""
    assert (go["example.com/app"].version, go["example.com/app"].purl) == ("", "pkg:golang/example.com/app")
    assert go["stdlib"].version.startswith("1.") and go["stdlib"].path == "usr/local/bin/app"
    assert go["stdlib"].purl == f"pkg:golang/stdlib@{go['stdlib'].version}"
    assert all(p.ecosystem == "Go" and p.layer == diff[2] for p in go.values())


def test_whiteout_of_a_package_database_removes_its_packages() -> None:
    image = build_image(
        [
            [file("etc/alpine-release", "3.19.1\n"), file("lib/apk/db/installed", APK_INSTALLED)],
            [file("lib/apk/db/.wh.installed", b"")],
        ]
    )
    sbom = build(image)
    assert [p for p in sbom.packages if p.kind == "apk"] == []
    assert sbom.os is not None and sbom.os.ecosystem == "Alpine:v3.19"


def test_a_package_upgraded_in_a_later_layer_is_attributed_to_that_layer() -> None:
    status = "Package: {n}\nStatus: install ok installed\nArchitecture: amd64\nVersion: {v}\n\n"
    base = status.format(n="a", v="1") + status.format(n="b", v="1")
    upper = status.format(n="a", v="1") + status.format(n="b", v="2")
    image = build_image(
        [
            [file("etc/debian_version", "12.5\n"), file("var/lib/dpkg/status", base)],
            [file("var/lib/dpkg/status", upper)],
        ]
    )
    diff = [str(layer.diff_id()) for layer in image.layers()]
    sbom = build(image)
    got = {(p.name, p.version): diff.index(p.layer) for p in sbom.packages}
    assert got == {("a", "1"): 0, ("b", "2"): 1}
    assert sbom.packages[0].purl == "pkg:deb/debian/a@1?arch=amd64&distro=debian-12"


class _Counting:
    """Wraps an image's layers and counts how often each is opened."""

    def __init__(self, image: StaticImage) -> None:
        self.image = image
        self.opened = 0

    def layers(self) -> list[BlobLayer]:
        out = []
        for layer in self.image.layers():
            assert isinstance(layer, BlobLayer)

            def opener(layer: BlobLayer = layer) -> BinaryIO:
                self.opened += 1
                return layer.open()

            out.append(BlobLayer(layer.descriptor(), layer.diff_id(), opener, None))
        return out

    def manifest(self):  # type: ignore[no-untyped-def]
        return self.image.manifest()

    def config(self):  # type: ignore[no-untyped-def]
        return self.image.config()


def test_cache_per_image_and_per_layer(tmp_path: Path) -> None:
    image = _Counting(mixed_image())
    first = build(image, cache_root=tmp_path)  # type: ignore[arg-type]
    assert not first.cached and image.opened == 4
    second = build(image, cache_root=tmp_path)  # type: ignore[arg-type]
    assert second.cached and image.opened == 4
    assert second.packages == first.packages and second.os == first.os

    # Another image sharing the three lower layers: only its new top layer is read.
    shared = mixed_image().layers()[:3]
    extra = build_image([[file("app/node_modules/left-pad/package.json", b'{"name":"left-pad","version":"1.3.0"}')]])
    other = StaticImage(
        mixed_image().manifest(), mixed_image().config(), (*shared, *extra.layers())
    )  # manifest/config only give the ID here

    class _Other(_Counting):
        def manifest(self):  # type: ignore[no-untyped-def]
            return extra.manifest()

    counted = _Other(other)
    third = build(counted, cache_root=tmp_path)  # type: ignore[arg-type]
    assert counted.opened == 1
    assert "left-pad" in {p.name for p in third.packages} and "flask" in {p.name for p in third.packages}


def test_unreadable_cache_files_are_misses(tmp_path: Path) -> None:
    image = mixed_image()
    build(image, cache_root=tmp_path)
    for path in tmp_path.rglob("*.json"):
        path.write_text("{not json")
    again = build(image, cache_root=tmp_path)
    assert not again.cached and len(again.packages) == len(build(image).packages)


def test_a_layer_that_is_not_a_tar_makes_the_sbom_incomplete() -> None:
    good = mixed_image()
    layers = list(good.layers())
    bad = layers[1]
    assert isinstance(bad, BlobLayer)
    layers[1] = BlobLayer(bad.descriptor(), bad.diff_id(), lambda: io.BytesIO(b"\x1f\x8b" + b"not gzip" * 100), None)
    sbom = build(StaticImage(good.manifest(), good.config(), tuple(layers)))
    assert not sbom.complete
    assert any("layer 2" in w for w in sbom.warnings)
    assert {p.kind for p in sbom.packages} == {"apk", "npm"}  # what could be read is still there


def test_a_corrupt_apk_database_is_named() -> None:
    image = build_image(
        [[file("etc/alpine-release", "3.19.1\n"), file("lib/apk/db/installed", "garbage line\n\nP:x\n")]]
    )
    sbom = build(image)
    assert not sbom.complete
    assert all("lib/apk/db/installed" in w for w in sbom.warnings)


def test_go_modinfo_replace_forms() -> None:
    from dockyard.scan.sbom.catalogers.golang import BuildInfo, modules, parse_modinfo

    text = (
        "path\texample.com/app\n"
        "mod\texample.com/app\tv1.4.0\th1:abc=\n"
        "dep\tgolang.org/x/text\tv0.3.7\th1:def=\n"
        "dep\tgithub.com/old/lib\tv1.0.0\n"
        "=>\tgithub.com/fork/lib\tv1.0.1\th1:ghi=\n"
        "dep\texample.com/local\tv0.0.0-00010101000000-000000000000\n"
        "=>\t./local\t\n"
        "build\t-compiler=gc\n"
    )
    main, deps = parse_modinfo(text)
    found = [(f.name, f.version, f.role) for f in modules(BuildInfo("go1.21.5 X:nocoverageredesign", main, deps))]
    assert found == [
        ("example.com/app", "1.4.0", "main"),
        ("golang.org/x/text", "0.3.7", ""),
        ("github.com/fork/lib", "1.0.1", ""),
        ("./local", "", ""),
        ("stdlib", "1.21.5", "stdlib"),
    ]


def test_not_go_and_truncated_buildinfo() -> None:
    from dockyard.scan.sbom.catalogers.golang import MAGIC, read_buildinfo

    assert read_buildinfo(b"#!/bin/sh\necho hi\n") is None
    assert read_buildinfo(b"\x7fELF" + b"\0" * 60) is None
    truncated = b"\x7fELF" + b"\0" * 12 + MAGIC + b"\x08\x02" + b"\0" * 16 + b"\xff\xff\xff"
    assert read_buildinfo(truncated) is None


def test_catalog_table_names_the_registry() -> None:
    from dockyard.scan.sbom.catalogers import CATALOGERS
    from dockyard.scan.sbom.osrelease import ReleaseFiles
    from dockyard.scan.sbom.result import CATALOG

    assert tuple((a.name, a.version) for a in [ReleaseFiles(), *CATALOGERS]) == CATALOG


def test_a_cached_sbom_loads_neither_walker_nor_catalogers(tmp_path: Path) -> None:
    import subprocess
    import sys

    from dockyard.scan.sbom import sbom

    image = mixed_image()
    first = sbom(image, cache_root=tmp_path)
    code = (
        "import sys; sys.path.insert(0, sys.argv[2]); from sbom_images import mixed_image\n"
        "from pathlib import Path; from dockyard.scan.sbom import sbom\n"
        "s = sbom(mixed_image(), cache_root=Path(sys.argv[1]))\n"
        "names = ('dockyard.layers.walk', 'debian.deb822', 'dockyard.scan.sbom.index')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print(s.cached, len(s.packages), heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path), str(Path(__file__).parent)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split(maxsplit=2)
    out[-1] = out[-1].strip()
    assert out == ["True", str(len(first.packages)), "[]"]


def test_distroless_debian_and_ubuntu_images() -> None:
    distroless = build_image(
        [
            [
                file("etc/os-release", 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Distroless"\n'),
                file(
                    "var/lib/dpkg/status.d/base-files",
                    "Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n",
                ),
                file("var/lib/dpkg/status.d/base-files.md5sums", "abc  etc/issue\n"),
                file("var/lib/dpkg/status.d/libssl3", "Package: libssl3\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n"),
            ]
        ]
    )
    sbom = build(distroless)
    assert sbom.complete and sbom.os is not None and sbom.os.ecosystem == "Debian:12"
    assert [(p.name, p.source, p.ecosystem) for p in sbom.packages] == [
        ("base-files", "base-files", "Debian:12"),
        ("libssl3", "openssl", "Debian:12"),
    ]
    ubuntu = build_image(
        [
            [
                file("usr/lib/os-release", 'ID=ubuntu\nVERSION="22.04.4 LTS (Jammy Jellyfish)"\nVERSION_ID="22.04"\n'),
                symlink("etc/os-release", "../usr/lib/os-release"),
                file("var/lib/dpkg/status", "Package: bash\nStatus: install ok installed\nVersion: 5.1-6ubuntu1\n"),
            ]
        ]
    )
    sbom = build(ubuntu)
    assert sbom.os is not None and sbom.os.ecosystem == "Ubuntu:22.04:LTS"
    assert sbom.packages[0].purl == "pkg:deb/ubuntu/bash@5.1-6ubuntu1?distro=ubuntu-22.04"
    assert sbom.packages[0].ecosystem == "Ubuntu:22.04:LTS"


def test_hard_linked_python_metadata_and_opaque_directory() -> None:
    from dockyard.image.build import hardlink, opaque

    meta = "Metadata-Version: 2.1\nName: {n}\nVersion: 1.0\n"
    image = build_image(
        [
            [
                file("a/x-1.0.dist-info/METADATA", meta.format(n="x")),
                file("b/y-1.0.dist-info/METADATA", meta.format(n="y")),
            ],
            [hardlink("c/x-1.0.dist-info/METADATA", "a/x-1.0.dist-info/METADATA"), opaque("b")],
        ]
    )
    diff = [str(layer.diff_id()) for layer in image.layers()]
    sbom = build(image)
    assert [(p.name, p.path, diff.index(p.layer)) for p in sbom.packages] == [
        ("x", "a/x-1.0.dist-info/METADATA", 0),
        ("x", "c/x-1.0.dist-info/METADATA", 1),
    ]


def test_broken_package_json_counts_only_for_installed_packages() -> None:
    image = build_image(
        [
            [
                file("app/node_modules/ok/package.json", b'{"name":"ok","version":"1.0.0"}'),
                file("app/node_modules/ok/test/fixtures/package.json", b"{broken on purpose"),
                file("app/node_modules/bad/package.json", b"{broken"),
            ]
        ]
    )
    sbom = build(image)
    assert [p.name for p in sbom.packages] == ["ok"]
    assert len(sbom.warnings) == 1 and "app/node_modules/bad/package.json" in sbom.warnings[0]


def test_a_package_deleted_then_installed_again_is_introduced_by_the_later_layer() -> None:
    status = "Package: a\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n"
    image = build_image(
        [
            [file("etc/debian_version", "12.5\n"), file("var/lib/dpkg/status", status)],
            [file("var/lib/dpkg/.wh.status", b"")],
            [file("tmp/unrelated", "x")],
            [file("var/lib/dpkg/status", status)],
            [file("tmp/other", "y")],
        ]
    )
    diff = [str(layer.diff_id()) for layer in image.layers()]
    (pkg,) = build(image).packages
    assert diff.index(pkg.layer) == 3


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path: Path) -> None:
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache directory should be")
    sbom = build(mixed_image(), cache_root=blocked)
    assert sbom.complete and len(sbom.packages) == 11 and not sbom.cached
