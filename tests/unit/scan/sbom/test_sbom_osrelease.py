"""OS detection: release files -> OSV ecosystem names, in the documented order."""

from __future__ import annotations

import pytest

from dockyard.scan.sbom.osrelease import detect, ecosystem

DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'
UBUNTU_LTS = 'NAME="Ubuntu"\nVERSION="22.04.4 LTS (Jammy Jellyfish)"\nID=ubuntu\nVERSION_ID="22.04"\n'
UBUNTU = 'NAME="Ubuntu"\nVERSION="23.10 (Mantic Minotaur)"\nID=ubuntu\nVERSION_ID="23.10"\n'
ALPINE = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n'


@pytest.mark.parametrize(
    ("files", "family", "version", "eco"),
    [
        ({"etc/os-release": DEBIAN}, "debian", "12", "Debian:12"),
        ({"usr/lib/os-release": DEBIAN}, "debian", "12", "Debian:12"),
        ({"etc/os-release": UBUNTU_LTS}, "ubuntu", "22.04", "Ubuntu:22.04:LTS"),
        ({"etc/os-release": UBUNTU}, "ubuntu", "23.10", "Ubuntu:23.10"),
        ({"etc/os-release": ALPINE}, "alpine", "3.19.1", "Alpine:v3.19"),
        # etc/os-release is a symlink to usr/lib/os-release (Debian and Alpine ship it so)
        (
            {"etc/os-release": "@link:../usr/lib/os-release", "usr/lib/os-release": ALPINE},
            "alpine",
            "3.19.1",
            "Alpine:v3.19",
        ),
        ({"etc/os-release": "@link:/usr/lib/os-release", "usr/lib/os-release": DEBIAN}, "debian", "12", "Debian:12"),
        # etc/os-release wins over usr/lib/os-release
        ({"etc/os-release": UBUNTU_LTS, "usr/lib/os-release": DEBIAN}, "ubuntu", "22.04", "Ubuntu:22.04:LTS"),
        # no os-release: the distribution's own files
        ({"etc/debian_version": "12.5\n"}, "debian", "12", "Debian:12"),
        ({"etc/alpine-release": "3.18.4\n"}, "alpine", "3.18.4", "Alpine:v3.18"),
        # a dangling link falls through to the next file
        ({"etc/os-release": "@link:gone", "etc/debian_version": "11.9\n"}, "debian", "11", "Debian:11"),
    ],
)
def test_detect(files: dict[str, str], family: str, version: str, eco: str) -> None:
    os = detect(files)
    assert os is not None
    assert (os.family, os.version, os.ecosystem) == (family, version, eco)


def test_debian_testing_without_version_id_takes_debian_version() -> None:
    os = detect(
        {
            "etc/os-release": 'ID=debian\nPRETTY_NAME="Debian GNU/Linux trixie/sid"\n',
            "etc/debian_version": "trixie/sid\n",
        }
    )
    assert os is not None and os.ecosystem == "Debian"


def test_distroless_debian_without_release_files() -> None:
    assert detect({}) is None
    os = detect({}, distroless_dpkg=True)
    assert os is not None and os.family == "debian"


@pytest.mark.parametrize(
    ("family", "version", "text", "eco"),
    [("alpine", "3.20.0_alpha20240315", "", "Alpine:v3.20"), ("fedora", "39", "", ""), ("ubuntu", "", "", "Ubuntu")],
)
def test_ecosystem_edges(family: str, version: str, text: str, eco: str) -> None:
    assert ecosystem(family, version, text) == eco
