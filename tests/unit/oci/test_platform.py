"""Platforms: the tables of github.com/containerd/platforms (platforms_test.go, database.go,
platform_windows_compat.go), ported, with a fixed default host instead of the Go runtime's."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.errors import InvalidInput, InvalidPlatform
from dockyard.oci import platform as platforms
from dockyard.oci.platform import KNOWN_ARCH, KNOWN_OS, Platform, normalize_arch, normalize_os

AMD64_HOST = Platform("linux", "amd64")
ARM_V6_HOST = Platform("linux", "arm", "v6")
ARM_V7_HOST = Platform("linux", "arm", "v7")


def P(os: str, arch: str, variant: str | None = None, **kw: Any) -> Platform:
    return Platform(os, arch, variant, **kw)


# --- Parse (TestParseSelector) ------------------------------------------------------------------------------------

# (input, expected, also matches, formatted, uses FormatAll)
PARSE_CASES: list[tuple[str, Platform, list[Platform], str, bool]] = [
    (
        "linux/arm64",
        P("linux", "arm64"),
        [P("linux", "aarch64"), P("linux", "aarch64", "v8"), P("linux", "arm64", "v8")],
        "linux/arm64",
        False,
    ),
    (
        "linux/arm64/v8",
        P("linux", "arm64", "v8"),
        [P("linux", "aarch64"), P("linux", "aarch64", "v8"), P("linux", "arm64")],
        "linux/arm64/v8",
        False,
    ),
    (
        "linux/arm",
        P("linux", "arm"),
        [P("linux", "arm", "v7"), P("linux", "armhf"), P("linux", "arm", "7")],
        "linux/arm",
        False,
    ),
    ("linux/arm/v6", P("linux", "arm", "v6"), [P("linux", "armel")], "linux/arm/v6", False),
    ("linux/arm/v7", P("linux", "arm", "v7"), [P("linux", "arm"), P("linux", "armhf")], "linux/arm/v7", False),
    ("arm", P("linux", "arm"), [], "linux/arm", False),
    ("armel", P("linux", "arm", "v6"), [], "linux/arm/v6", False),
    ("armhf", P("linux", "arm"), [], "linux/arm", False),
    ("Aarch64", P("linux", "arm64"), [], "linux/arm64", False),
    ("x86_64", P("linux", "amd64"), [], "linux/amd64", False),
    ("Linux/x86_64", P("linux", "amd64"), [], "linux/amd64", False),
    ("i386", P("linux", "386"), [], "linux/386", False),
    ("linux", P("linux", "amd64"), [], "linux/amd64", False),
    ("s390x", P("linux", "s390x"), [], "linux/s390x", False),
    ("linux/s390x", P("linux", "s390x"), [], "linux/s390x", False),
    ("macOS", P("darwin", "amd64"), [], "darwin/amd64", False),
    ("windows", P("windows", "amd64"), [], "windows/amd64", False),
    ("windows()", P("windows", "amd64"), [], "windows/amd64", True),
    ("windows(10.0.17763)", P("windows", "amd64", os_version="10.0.17763"), [], "windows(10.0.17763)/amd64", True),
    (
        "windows(10.0.17763+win32k)",
        P("windows", "amd64", os_version="10.0.17763", os_features=("win32k",)),
        [],
        "windows(10.0.17763+win32k)/amd64",
        True,
    ),
    ("linux(+gpu)", P("linux", "amd64", os_features=("gpu",)), [], "linux(+gpu)/amd64", True),
    ("linux(+gpu+simd)", P("linux", "amd64", os_features=("gpu", "simd")), [], "linux(+gpu+simd)/amd64", True),
    (
        "linux(+unsorted+erofs)",
        P("linux", "amd64", os_features=("unsorted", "erofs")),
        [],
        "linux(+erofs+unsorted)/amd64",
        True,
    ),
    (
        "windows(10.0.17763%2Bbuild.42)",
        P("windows", "amd64", os_version="10.0.17763+build.42"),
        [],
        "windows(10.0.17763%2Bbuild.42)/amd64",
        True,
    ),
    (
        "windows(10.0.17763%2Bbuild.42+win32k)",
        P("windows", "amd64", os_version="10.0.17763+build.42", os_features=("win32k",)),
        [],
        "windows(10.0.17763%2Bbuild.42+win32k)/amd64",
        True,
    ),
    ("windows(50%25done)", P("windows", "amd64", os_version="50%done"), [], "windows(50%25done)/amd64", True),
    # The brief's and Docker's everyday specifiers.
    ("linux/amd64", P("linux", "amd64"), [P("linux", "x86_64"), P("linux", "x86-64"), P("linux", "amd64", "v1")],
     "linux/amd64", False),
    ("linux/amd64/v3", P("linux", "amd64", "v3"), [P("linux", "x86_64", "v3")], "linux/amd64/v3", False),
    ("linux/386", P("linux", "386"), [P("linux", "i386"), P("linux", "i686")], "linux/386", False),
    ("linux/arm/7", P("linux", "arm", "v7"), [P("linux", "arm")], "linux/arm/v7", False),
    ("linux/arm/6", P("linux", "arm", "v6"), [P("linux", "armel")], "linux/arm/v6", False),
    ("linux/arm64/8", P("linux", "arm64", "v8"), [P("linux", "arm64")], "linux/arm64/v8", False),
    ("LINUX/ARM64/V8", P("linux", "arm64", "v8"), [P("linux", "arm64")], "linux/arm64/v8", False),
    ("linux/riscv64", P("linux", "riscv64"), [], "linux/riscv64", False),
    ("linux/ppc64le", P("linux", "ppc64le"), [], "linux/ppc64le", False),
    ("macos/arm64", P("darwin", "arm64"), [P("darwin", "aarch64")], "darwin/arm64", False),
    ("freebsd/amd64", P("freebsd", "amd64"), [], "freebsd/amd64", False),
    ("plan10/mips9", P("plan10", "mips9"), [], "plan10/mips9", False),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected", "also", "formatted", "v2"), PARSE_CASES)
def test_parse(text: str, expected: Platform, also: list[Platform], formatted: str, v2: bool) -> None:
    parsed = Platform.parse(text, default=AMD64_HOST)
    assert parsed == expected
    assert parsed.matches(expected)
    for other in also:
        assert parsed.matches(other), other
    assert (parsed.format_all() if v2 else str(parsed)) == formatted
    # The formatted output parses back to the same thing.
    reparsed = Platform.parse(formatted, default=AMD64_HOST)
    assert (reparsed.format_all() if v2 else str(reparsed)) == formatted
    assert reparsed.normalized() == parsed.normalized()


def test_lone_os_takes_the_default_architecture() -> None:
    assert Platform.parse("linux", default=Platform("linux", "arm64")) == P("linux", "arm64")
    # containerd keeps an arm host's variant unless it is the default v7.
    assert Platform.parse("linux", default=ARM_V6_HOST) == P("linux", "arm", "v6")
    assert Platform.parse("linux", default=ARM_V7_HOST) == P("linux", "arm")
    assert Platform.parse("linux", default=Platform("linux", "armhf")) == P("linux", "arm")
    assert Platform.parse("windows", default=Platform("linux", "x86_64")) == P("windows", "amd64")
    assert Platform.parse("arm64", default=Platform("darwin", "arm64")) == P("darwin", "arm64")
    assert Platform.parse("amd64", default=Platform("macos", "arm64")) == P("darwin", "amd64")
    # Without a default, the host fills in.
    host = Platform.host()
    assert Platform.parse(host.architecture).os == host.os
    assert Platform.parse("linux").architecture == host.architecture
    assert platforms.parse("linux/amd64") == P("linux", "amd64")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "''"),
        ("/linux/arm", "''"),
        ("linux/arm/", "''"),
        ("linux /arm", "'linux '"),
        ("linux/&arm", "'&arm'"),
        ("linux/arm/foo/bar", "too many components"),
        ("linux/arm/v7/x", "too many components"),
        ("*", "wildcards"),
        ("linux/*", "wildcards"),
        ("notanos", "unknown operating system or architecture"),
        ("linux//arm", "''"),
        ("linux/arm64\n", "arm64"),
        ("linux/ärm", "ärm"),
        ("windows(1.0", "windows(1.0"),
        ("windows(50%zzdone)/amd64", "bad %-escape"),
        ("windows(50%2)/amd64", "bad %-escape"),
        ("linux(+f%ff)/amd64", "not UTF-8"),
        ("linux(x)(y)/amd64", "linux(x)(y)"),
    ],
)
def test_parse_invalid(text: str, needle: str) -> None:
    with pytest.raises(InvalidPlatform) as info:
        Platform.parse(text, default=AMD64_HOST)
    message = str(info.value)
    assert needle in message
    assert repr(text) in message
    assert "\n" not in message
    assert isinstance(info.value, InvalidInput)


def test_parse_non_string() -> None:
    with pytest.raises(InvalidPlatform, match="want a string"):
        Platform.parse(42)  # type: ignore[arg-type]


# --- normalisation (database.go) ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arch", "variant", "expected"),
    [
        ("i386", "", ("386", "")),
        ("i386", "v1", ("386", "")),
        ("i686", "", ("386", "")),
        ("x86_64", "", ("amd64", "")),
        ("x86-64", "", ("amd64", "")),
        ("amd64", "v1", ("amd64", "")),
        ("amd64", "V1", ("amd64", "")),
        ("amd64", "v2", ("amd64", "v2")),
        ("AMD64", "", ("amd64", "")),
        ("aarch64", "", ("arm64", "")),
        ("aarch64", "v8", ("arm64", "")),
        ("arm64", "8", ("arm64", "")),
        ("arm64", "v8", ("arm64", "")),
        ("arm64", "v8.0", ("arm64", "v8.0")),
        ("arm64", "v9", ("arm64", "v9")),
        ("armhf", "", ("arm", "v7")),
        ("armhf", "v6", ("arm", "v7")),
        ("armel", "", ("arm", "v6")),
        ("arm", "", ("arm", "v7")),
        ("arm", "7", ("arm", "v7")),
        ("arm", "v7", ("arm", "v7")),
        ("arm", "5", ("arm", "v5")),
        ("arm", "6", ("arm", "v6")),
        ("arm", "8", ("arm", "v8")),
        ("arm", "v6", ("arm", "v6")),
        ("ppc64le", "", ("ppc64le", "")),
        ("S390X", "", ("s390x", "")),
        ("mystery", "Beta", ("mystery", "beta")),
    ],
)
def test_normalize_arch(arch: str, variant: str, expected: tuple[str, str]) -> None:
    assert normalize_arch(arch, variant) == expected


@pytest.mark.parametrize(
    ("os", "expected"),
    [("linux", "linux"), ("Linux", "linux"), ("macos", "darwin"), ("MacOS", "darwin"), ("Windows", "windows")],
)
def test_normalize_os(os: str, expected: str) -> None:
    assert normalize_os(os) == expected


def test_normalized() -> None:
    p = Platform("Linux", "aarch64", "v8", os_features=("b", "a", "b"))
    n = p.normalized()
    assert n == Platform("linux", "arm64", None, os_features=("a", "b"))
    assert str(n) == "linux/arm64"
    assert str(p) == "Linux/aarch64/v8"
    assert Platform("linux", "arm").normalized() == Platform("linux", "arm", "v7")
    assert Platform("linux", "armel").normalized() == Platform("linux", "arm", "v6")
    assert Platform("linux", "x86_64", "v1").normalized() == Platform("linux", "amd64")
    assert Platform("linux", "i686").normalized() == Platform("linux", "386")
    assert Platform("macos", "arm64").normalized() == Platform("darwin", "arm64")
    # Normalising is idempotent.
    assert n.normalized() == n


def test_known_tables() -> None:
    assert {"linux", "windows", "darwin", "freebsd"} <= KNOWN_OS
    assert {"386", "amd64", "arm", "arm64", "ppc64le", "riscv64", "s390x", "loong64"} <= KNOWN_ARCH
    assert "aarch64" not in KNOWN_ARCH


# --- matching (NewMatcher(p).Match) ------------------------------------------------------------------------------

MATCH_CASES: list[tuple[Platform, Platform, bool]] = [
    (P("linux", "amd64"), P("linux", "amd64"), True),
    (P("linux", "amd64"), P("linux", "x86_64"), True),
    (P("linux", "amd64"), P("linux", "amd64", "v1"), True),
    (P("linux", "amd64"), P("linux", "amd64", "v2"), False),
    (P("linux", "amd64", "v3"), P("linux", "amd64"), False),
    (P("linux", "amd64"), P("windows", "amd64"), False),
    (P("linux", "amd64"), P("linux", "arm64"), False),
    (P("linux", "amd64"), P("linux", "386"), False),
    (P("linux", "arm64"), P("linux", "arm64", "v8"), True),
    (P("linux", "arm64", "v8"), P("linux", "arm64"), True),
    (P("linux", "arm64"), P("linux", "aarch64"), True),
    (P("linux", "arm64"), P("linux", "arm64", "v9"), False),
    (P("linux", "arm64"), P("linux", "arm", "v8"), False),
    (P("linux", "arm"), P("linux", "arm", "v7"), True),
    (P("linux", "arm", "v7"), P("linux", "arm"), True),
    (P("linux", "arm"), P("linux", "armhf"), True),
    (P("linux", "arm"), P("linux", "arm", "v6"), False),
    (P("linux", "arm", "v6"), P("linux", "armel"), True),
    (P("linux", "arm", "v6"), P("linux", "arm"), False),
    (P("linux", "arm", "v5"), P("linux", "arm", "5"), True),
    (P("Linux", "ARM64"), P("linux", "arm64"), True),
    (P("macos", "arm64"), P("darwin", "arm64"), True),
    # OS version only counts for Windows.
    (P("linux", "amd64", os_version="1"), P("linux", "amd64", os_version="2"), True),
    # OS features: the candidate's must be a subset of the wanted platform's.
    (P("linux", "amd64"), P("linux", "amd64", os_features=("gpu",)), False),
    (P("linux", "amd64", os_features=("gpu",)), P("linux", "amd64"), True),
    (P("linux", "amd64", os_features=("gpu", "simd")), P("linux", "amd64", os_features=("simd",)), True),
    (P("linux", "amd64", os_features=("simd", "gpu")), P("linux", "amd64", os_features=("gpu", "simd", "gpu")), True),
    (P("linux", "amd64", os_features=("gpu",)), P("linux", "amd64", os_features=("gpu", "simd")), False),
    # Windows builds (platform_windows_compat.go).
    (P("windows", "amd64", os_version="10.0.17763"), P("windows", "amd64", os_version="10.0.17763.1234"), True),
    (P("windows", "amd64", os_version="10.0.17763.5"), P("windows", "amd64", os_version="10.0.17764"), False),
    (P("windows", "amd64", os_version="10.0.17763"), P("windows", "amd64"), True),
    (P("windows", "amd64"), P("windows", "amd64", os_version="10.0.17763"), True),
    (P("windows", "amd64", os_version="garbage"), P("windows", "amd64", os_version="10.0.1"), True),
    (P("windows", "amd64", os_version="10.0.20348"), P("windows", "amd64", os_version="10.0.20348.1"), True),
    (P("windows", "amd64", os_version="10.0.26100"), P("windows", "amd64", os_version="10.0.20348"), True),
    (P("windows", "amd64", os_version="10.0.26100"), P("windows", "amd64", os_version="10.0.22621"), True),
    (P("windows", "amd64", os_version="10.0.26100"), P("windows", "amd64", os_version="10.0.26200"), False),
    (P("windows", "amd64", os_version="10.0.26100"), P("windows", "amd64", os_version="10.0.17763"), False),
    (P("windows", "amd64", os_version="10.0.20348"), P("windows", "amd64", os_version="6.3.20348"), False),
    (P("windows", "amd64", os_version="10.0.17763"), P("windows", "amd64", os_version="10.0.99999"), False),
]


@pytest.mark.parametrize(("wanted", "candidate", "ok"), MATCH_CASES)
def test_matches(wanted: Platform, candidate: Platform, ok: bool) -> None:
    assert wanted.matches(candidate) is ok


def test_select_from_index_entries() -> None:
    index = [
        Platform.from_json({"architecture": "amd64", "os": "linux"}),
        Platform.from_json({"architecture": "arm", "os": "linux", "variant": "v6"}),
        Platform.from_json({"architecture": "arm", "os": "linux", "variant": "v7"}),
        Platform.from_json({"architecture": "arm64", "os": "linux", "variant": "v8"}),
        Platform.from_json({"architecture": "unknown", "os": "unknown"}),
    ]

    def pick(spec: str) -> int | None:
        wanted = Platform.parse(spec, default=AMD64_HOST)
        return next((i for i, p in enumerate(index) if wanted.matches(p)), None)

    assert pick("linux/amd64") == 0
    assert pick("linux/arm/v6") == 1
    assert pick("linux/arm") == 2
    assert pick("linux/arm/v7") == 2
    assert pick("linux/arm64") == 3
    assert pick("linux/arm64/v8") == 3
    assert pick("linux/aarch64") == 3
    assert pick("linux/s390x") is None
    assert pick("windows/amd64") is None


# --- JSON ---------------------------------------------------------------------------------------------------------


def test_json_round_trip() -> None:
    obj = {
        "architecture": "amd64",
        "os": "windows",
        "os.version": "10.0.17763.1879",
        "os.features": ["win32k"],
        "variant": "v3",
        "features": ["sse4"],
    }
    p = Platform.from_json(obj)
    assert p == Platform("windows", "amd64", "v3", "10.0.17763.1879", ("win32k",), ("sse4",))
    assert p.to_json() == obj
    assert Platform.from_json(p.to_json()) == p


def test_to_json_leaves_out_absent_fields() -> None:
    assert Platform("linux", "arm64").to_json() == {"architecture": "arm64", "os": "linux"}
    assert Platform("linux", "arm64", "v8").to_json() == {"architecture": "arm64", "os": "linux", "variant": "v8"}
    # Fields are kept as given, not normalised.
    assert Platform.from_json({"architecture": "aarch64", "os": "linux"}).architecture == "aarch64"
    assert Platform.from_json({"architecture": "arm64", "os": "linux", "variant": ""}).variant is None
    assert Platform.from_json({"architecture": "arm64", "os": "linux", "variant": None}).variant is None


@pytest.mark.parametrize(
    ("obj", "needle"),
    [
        ({"os": "linux"}, "'architecture'"),
        ({"architecture": "amd64"}, "'os'"),
        ({"architecture": "", "os": "linux"}, "'architecture'"),
        ({"architecture": "amd64", "os": ""}, "'os'"),
        ({"architecture": 5, "os": "linux"}, "'architecture'"),
        ({"architecture": "amd64", "os": ["linux"]}, "'os'"),
        ({"architecture": "arm", "os": "linux", "variant": 7}, "'variant'"),
        ({"architecture": "amd64", "os": "windows", "os.version": 10}, "'os.version'"),
        ({"architecture": "amd64", "os": "linux", "os.features": "gpu"}, "'os.features'"),
        ({"architecture": "amd64", "os": "linux", "os.features": [1]}, "'os.features'"),
        ({"architecture": "amd64", "os": "linux", "features": {"a": 1}}, "'features'"),
    ],
)
def test_from_json_errors_name_the_field(obj: dict[str, Any], needle: str) -> None:
    with pytest.raises(InvalidPlatform) as info:
        Platform.from_json(obj)
    assert needle in str(info.value)


def test_from_json_refuses_non_objects() -> None:
    with pytest.raises(InvalidPlatform, match="must be a JSON object, not list"):
        Platform.from_json(["linux"])  # type: ignore[arg-type]


# --- construction, formatting -----------------------------------------------------------------------------------


def test_constructor_checks_types_and_empties() -> None:
    p = Platform("linux", "arm64", "", "", ["x"])  # type: ignore[arg-type]
    assert p.variant is None
    assert p.os_version is None
    assert p.os_features == ("x",)
    with pytest.raises(InvalidPlatform, match="architecture"):
        Platform("linux", None)  # type: ignore[arg-type]
    with pytest.raises(InvalidPlatform, match="os"):
        Platform(1, "amd64")  # type: ignore[arg-type]
    with pytest.raises(InvalidPlatform, match="variant"):
        Platform("linux", "arm", 7)  # type: ignore[arg-type]
    with pytest.raises(InvalidPlatform, match="os_features"):
        Platform("linux", "amd64", os_features="gpu")  # type: ignore[arg-type]
    with pytest.raises(InvalidPlatform, match="features"):
        Platform("linux", "amd64", features=(1,))  # type: ignore[arg-type]


def test_value_semantics() -> None:
    assert Platform("linux", "amd64") == Platform("linux", "amd64", None)
    assert hash(Platform("linux", "amd64")) == hash(Platform("linux", "amd64", ""))
    assert Platform("linux", "arm64") != Platform("linux", "arm64", "v8")
    with pytest.raises(AttributeError):
        Platform("linux", "amd64").os = "windows"  # type: ignore[misc]


def test_str() -> None:
    assert str(Platform("linux", "arm", "v7")) == "linux/arm/v7"
    assert str(Platform("linux", "amd64")) == "linux/amd64"
    assert str(Platform("", "amd64")) == "unknown"
    assert Platform("", "amd64").format_all() == "unknown"
    assert str(Platform("windows", "amd64", os_version="10.0.17763")) == "windows/amd64"


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        (P("windows", "amd64", os_version="10.0.17763+build.42"), "windows(10.0.17763%2Bbuild.42)/amd64"),
        (
            P("windows", "amd64", os_version="10.0.17763+build.42", os_features=("win32k",)),
            "windows(10.0.17763%2Bbuild.42+win32k)/amd64",
        ),
        (P("windows", "amd64", os_version="50%done"), "windows(50%25done)/amd64"),
        (P("windows", "amd64", os_version="1.0(beta)"), "windows(1.0%28beta%29)/amd64"),
        (P("windows", "amd64", os_version="a/b"), "windows(a%2Fb)/amd64"),
        (P("windows", "amd64", os_version="10.0.17763"), "windows(10.0.17763)/amd64"),
        (P("linux", "amd64", os_features=("feat+v2",)), "linux(+feat%2Bv2)/amd64"),
        (P("linux", "amd64", os_features=("100%gpu",)), "linux(+100%25gpu)/amd64"),
        (
            P("windows", "amd64", os_version="10.0+build", os_features=("feat+1",)),
            "windows(10.0%2Bbuild+feat%2B1)/amd64",
        ),
        (P("linux", "amd64", os_features=("", "gpu", "", "simd")), "linux(+gpu+simd)/amd64"),
        (P("linux", "arm", "v7", os_features=("b", "a")), "linux(+a+b)/arm/v7"),
    ],
)
def test_format_all_encoding(platform: Platform, expected: str) -> None:
    formatted = platform.format_all()
    assert formatted == expected
    reparsed = Platform.parse(formatted, default=AMD64_HOST)
    assert reparsed.os_version == platform.os_version
    assert reparsed.os_features == tuple(sorted(f for f in platform.os_features if f))


# --- the host -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("system", "machine", "expected"),
    [
        ("linux", "x86_64", "linux/amd64"),
        ("linux", "aarch64", "linux/arm64"),
        ("linux", "armv7l", "linux/arm/v7"),
        ("linux", "armv6l", "linux/arm/v6"),
        ("linux", "armv8l", "linux/arm/v8"),
        ("linux", "i686", "linux/386"),
        ("linux", "i586", "linux/386"),
        ("linux", "ppc64le", "linux/ppc64le"),
        ("linux", "s390x", "linux/s390x"),
        ("linux", "riscv64", "linux/riscv64"),
        ("linux", "loongarch64", "linux/loong64"),
        ("darwin", "arm64", "darwin/arm64"),
        ("darwin", "x86_64", "darwin/amd64"),
        ("win32", "AMD64", "windows/amd64"),
        ("win32", "ARM64", "windows/arm64"),
        ("cygwin", "x86_64", "windows/amd64"),
        ("freebsd14", "amd64", "freebsd/amd64"),
        ("openbsd7", "arm64", "openbsd/arm64"),
    ],
)
def test_from_machine(system: str, machine: str, expected: str) -> None:
    assert str(Platform.from_machine(system, machine)) == expected


def test_host_is_normalised_and_known() -> None:
    host = Platform.host()
    assert host == host.normalized()
    assert host.os in KNOWN_OS
    assert host.architecture in KNOWN_ARCH
    assert host.matches(host)
