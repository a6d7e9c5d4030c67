"""dpkg status: installed packages only, the ``Source:`` forms, distroless stanzas, a corrupt file."""

from __future__ import annotations

from dockyard.layers.walk import FileInfo
from dockyard.scan.sbom.catalogers.dpkg import Dpkg, parse
from dockyard.scan.sbom.found import Found, Problem

STATUS = """Package: bash
Status: install ok installed
Priority: required
Architecture: amd64
Source: bash (5.2.15-2)
Version: 5.2.15-2+b2
Description: GNU Bourne Again SHell
 Bash is an sh-compatible command language interpreter.
 .
 More text.

Package: libgcc-s1
Status: install ok installed
Architecture: amd64
Source: gcc-12
Version: 12.2.0-14

Package: zlib1g
Status: install ok installed
Architecture: amd64
Source: zlib
Version: 1:1.2.13.dfsg-1

Package: libcap2
Status: hold ok installed
Architecture: amd64
Source: libcap2 (1:2.66-4)
Version: 1:2.66-4+b1

Package: removed-but-configured
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1

Package: half
Status: install reinstreq half-installed
Architecture: amd64
Version: 2.0-1

Package: unpacked-only
Status: install ok unpacked
Architecture: amd64
Version: 3.0-1

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2024a-0+deb12u1
"""


def test_installed_only_with_source_forms() -> None:
    found = {f.name: f for f in parse(STATUS)}
    assert sorted(found) == ["bash", "libcap2", "libgcc-s1", "tzdata", "zlib1g"]
    assert found["bash"] == Found("dpkg", "bash", "5.2.15-2+b2", "bash", "5.2.15-2", "amd64")
    assert (found["libgcc-s1"].source, found["libgcc-s1"].source_version) == ("gcc-12", "12.2.0-14")
    assert (found["zlib1g"].source, found["zlib1g"].source_version) == ("zlib", "1:1.2.13.dfsg-1")
    assert (found["libcap2"].source, found["libcap2"].source_version) == ("libcap2", "1:2.66-4")
    assert (found["tzdata"].source, found["tzdata"].source_version) == ("tzdata", "2024a-0+deb12u1")


def test_distroless_stanzas_have_no_status() -> None:
    text = "Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n"
    assert list(parse(text)) == []
    assert [f.name for f in parse(text, need_status=False)] == ["base-files"]
    dpkg = Dpkg()
    info = FileInfo("var/lib/dpkg/status.d/base-files", "file", len(text), 0o644)
    assert dpkg.required(info.path, info)
    assert not dpkg.required("var/lib/dpkg/status.d/base-files.md5sums", info)
    assert [f.name for f in dpkg.analyze(info.path, info, lambda: text.encode()) if isinstance(f, Found)] == [
        "base-files"
    ]


def test_corrupt_status_is_a_problem_not_a_crash() -> None:
    dpkg = Dpkg()
    info = FileInfo("var/lib/dpkg/status", "file", 10, 0o644)
    binary = list(dpkg.analyze(info.path, info, lambda: b"\xff\xfe\x00garbage"))
    assert len(binary) == 1 and isinstance(binary[0], Problem)
    junk = list(dpkg.analyze(info.path, info, lambda: b"this is not a status file\nat all\n"))
    assert len(junk) == 1 and isinstance(junk[0], Problem)
