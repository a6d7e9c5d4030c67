"""Version orders: apk against real pairs as apk-tools sorts them; dpkg, PEP 440 and semver spot checks."""

from __future__ import annotations

import pytest

from dockyard.scan.vuln.versions import InvalidVersion, alpine, debian, order_for, pypi, semver

# (a, expected, b): real Alpine package versions (secdb and aports) and the order apk-tools 2 gives them.
APK_PAIRS = [
    ("1.2.4_git20230717-r5", ">", "1.2.4-r3"),  # musl in v3.19: a _git snapshot of 1.2.4 sorts after 1.2.4
    ("1.2.4_git20230717-r5", "<", "1.2.5-r0"),
    ("1.2.4_git20230717-r4", "<", "1.2.4_git20230717-r5"),
    ("1.2.4_git20230717-r5", ">", "1.2.4_git20230101-r9"),
    ("2.6.0_rc1-r0", "<", "2.6.0-r0"),
    ("2.6.0_alpha1", "<", "2.6.0_beta1"),
    ("2.6.0_beta1", "<", "2.6.0_pre1"),
    ("2.6.0_pre1", "<", "2.6.0_rc1"),
    ("2.6.0_p1-r0", ">", "2.6.0-r9"),
    ("9.3_p2-r1", "<", "9.4_p1-r0"),  # openssh
    ("8.1_p1-r0", ">", "8.1-r0"),
    ("2.5.0-r2", "<", "2.6.0-r0"),  # expat, the demo's package
    ("2.5.0-r2", ">", "2.5.0-r1"),
    ("2.5.0-r10", ">", "2.5.0-r9"),  # revisions are numbers, not strings
    ("1.1.1k-r0", ">", "1.1.1j-r0"),  # openssl letters
    ("1.1.1k-r0", "<", "1.1.1l-r0"),
    ("1.1.1-r0", "<", "1.1.1a-r0"),
    ("1.0.2u-r0", "<", "1.1.0-r0"),
    ("3.0.12-r1", ">", "3.0.2-r0"),
    ("1.36.1-r5", "<", "1.36.1-r15"),  # busybox
    ("1.2.12-r0", ">", "1.2.11-r3"),  # zlib
    ("1.2.13-r0", "=", "1.2.13-r0"),
    ("1.2.13", "<", "1.2.13-r0"),  # a -r revision after the same version is greater
    ("1.0-r1", "<", "1.0.1"),  # ... but a further .number beats a revision
    ("1.3_pre1-r1", "<", "1.3.2"),
    ("1.0_p10-r0", ">", "1.0_p9-r0"),
    ("0.1.0_alpha_pre2", "<", "0.1.0_alpha"),
    ("1.0.0_pre20191002222144-r0", "<", "1.0.0_pre20210530193627-r0"),
    ("1.01", "<", "1.1"),  # leading zeros: a fraction
    ("1.001", "<", "1.01"),
    ("2.34", ">", "0.1.0_alpha"),
    ("7.0.174", ">", "7.0.17"),
    ("20050718-r1", ">", "2.59"),
    ("1.6d", ">", "1.2.07.8"),
    ("4.5_p1-r1", ">", "4.5_p1"),
    ("2.9.11_pre20051101-r3", ">", "2.9.11_pre20051101"),
    ("1.2.9.1-r1", ">", "1.2.9.1"),
    ("22.7-r1", "<", "22.7.3-r1"),
    ("0.9.28.1", "<", "087-r1"),
    ("2.12r-r4", "<", "2.12r-r5"),
    ("1.8.5", "<", "1.8.5_p2"),
    ("1.2.3_cvs", "<", "1.2.3_svn"),
    ("1.2.3_svn", "<", "1.2.3_git"),
    ("1.2.3_git", "<", "1.2.3_hg"),
    ("1.2.3_hg", "<", "1.2.3_p"),
]


@pytest.mark.parametrize(("a", "op", "b"), APK_PAIRS)
def test_apk_order(a: str, op: str, b: str) -> None:
    expected = {"<": -1, "=": 0, ">": 1}[op]
    assert alpine.compare(a, b) == expected
    assert alpine.compare(b, a) == -expected
    pa, pb = alpine.parse(a), alpine.parse(b)
    assert (pa < pb, pa == pb, pa > pb) == (expected < 0, expected == 0, expected > 0)


@pytest.mark.parametrize("bad", ["1.0bc", "2.7.16-33", "4.10-1-r1", "", "r1", "1.0_foo"])
def test_apk_rejects_what_apk_rejects(bad: str) -> None:
    with pytest.raises(InvalidVersion):
        alpine.parse(bad)


def test_apk_invalid_compares_by_valid_prefix() -> None:
    assert alpine.compare("1.0", "1.0bc") == -1  # apk-tools: an invalid tail still makes the version greater
    assert alpine.compare("23_foo", "4_beta") == 1


def test_debian_order() -> None:
    assert debian.parse("1:4.13+dfsg1-1") > debian.parse("4.14")  # epoch
    assert debian.parse("2.36-9+deb12u4") > debian.parse("2.36-9+deb12u3")
    assert debian.parse("2.36-9+deb12u10") > debian.parse("2.36-9+deb12u4")
    assert debian.parse("1.0~rc1-1") < debian.parse("1.0-1")  # ~ before everything
    assert debian.parse("2.9.4+dfsg1-2.2+deb9u7") > debian.parse("2.9.4+dfsg1-2.2")
    with pytest.raises(InvalidVersion):
        debian.parse("no version")


def test_pypi_order() -> None:
    assert pypi.parse("2.0") == pypi.parse("2.0.0")
    assert pypi.parse("5.2b1") < pypi.parse("5.2")
    assert pypi.parse("2015.04.28") == pypi.parse("2015.4.28")
    assert pypi.parse("5.0.0-beta.2") == pypi.parse("5.0.0b2")
    with pytest.raises(InvalidVersion):
        pypi.parse("2.6.0-NA")


def test_semver_order() -> None:
    order = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11"]
    order += ["1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0"]
    keys = [semver.parse(v) for v in order]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert semver.parse("v1.1.0") == semver.parse("1.1.0")  # Go's v prefix
    assert semver.parse("go1.21.5") == semver.parse("1.21.5")  # the stdlib as SBOMs name it
    assert semver.parse("2.0.0+incompatible") == semver.parse("2.0.0")  # build metadata is not ordered
    # a Go pseudo-version is a pre-release of the next patch
    assert semver.parse("1.0.1-0.20211012131345-9c444070ec7b") < semver.parse("1.0.1")
    assert semver.parse("1.0.1-0.20211012131345-9c444070ec7b") > semver.parse("1.0.0")
    for bad in ("1.0", "01.0.0", "1.0.0-", "latest"):
        with pytest.raises(InvalidVersion):
            semver.parse(bad)


def test_registry() -> None:
    assert order_for("Debian:12") is debian.parse
    assert order_for("Ubuntu:22.04:LTS") is debian.parse
    assert order_for("Alpine:v3.19") is alpine.parse
    assert order_for("PyPI") is pypi.parse
    assert order_for("npm") is semver.parse and order_for("Go") is semver.parse
    assert order_for("Maven") is None
