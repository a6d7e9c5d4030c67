"""purls and ecosystems per cataloger (the forms Trivy writes for Debian, Scout's for Alpine)."""

from __future__ import annotations

import pytest

from dockyard.scan.package import OS
from dockyard.scan.sbom.found import Found
from dockyard.scan.sbom.purls import ecosystem, purl

DEBIAN = OS("debian", "12", "Debian:12")
ALPINE = OS("alpine", "3.19.1", "Alpine:v3.19")


@pytest.mark.parametrize(
    ("found", "os", "expected", "eco"),
    [
        (
            Found("dpkg", "bash", "5.2.15-2+b2", "bash", "5.2.15-2", "amd64"),
            DEBIAN,
            "pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12",
            "Debian:12",
        ),
        (
            Found("dpkg", "libcap2", "1:2.66-4+b1", "libcap2", "1:2.66-4", "amd64"),
            DEBIAN,
            "pkg:deb/debian/libcap2@2.66-4%2Bb1?arch=amd64&distro=debian-12&epoch=1",
            "Debian:12",
        ),
        (
            Found("dpkg", "bash", "5.1-6ubuntu1", arch="amd64"),
            OS("ubuntu", "22.04", "Ubuntu:22.04:LTS"),
            "pkg:deb/ubuntu/bash@5.1-6ubuntu1?arch=amd64&distro=ubuntu-22.04",
            "Ubuntu:22.04:LTS",
        ),
        (Found("dpkg", "bash", "5.2", arch="amd64"), None, "pkg:deb/debian/bash@5.2?arch=amd64", "Debian"),
        (
            Found("apk", "expat", "2.5.0-r2", "expat", "2.5.0-r2", "x86_64"),
            ALPINE,
            "pkg:apk/alpine/expat@2.5.0-r2?os_name=alpine&os_version=3.19",
            "Alpine:v3.19",
        ),
        (Found("python", "zope-interface", "6.1"), ALPINE, "pkg:pypi/zope-interface@6.1", "PyPI"),
        (Found("npm", "@types/node", "20.1.0"), None, "pkg:npm/%40types/node@20.1.0", "npm"),
        (Found("npm", "lodash", "4.17.21"), None, "pkg:npm/lodash@4.17.21", "npm"),
        (Found("go", "golang.org/x/text", "0.3.7"), None, "pkg:golang/golang.org/x/text@0.3.7", "Go"),
        (Found("go", "example.com/app", ""), None, "pkg:golang/example.com/app", "Go"),
        (Found("go", "stdlib", "1.19.8", role="stdlib"), None, "pkg:golang/stdlib@1.19.8", "Go"),
    ],
)
def test_purl_and_ecosystem(found: Found, os: OS | None, expected: str, eco: str) -> None:
    assert purl(found, os) == expected
    assert ecosystem(found, os) == eco


def test_apk_on_a_debian_image_keeps_its_own_ecosystem() -> None:
    assert ecosystem(Found("apk", "x", "1"), DEBIAN) == "Alpine"
    assert ecosystem(Found("dpkg", "x", "1"), ALPINE) == "Debian"
