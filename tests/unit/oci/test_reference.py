"""Image references: the tables of github.com/distribution/reference (regexp_test.go, reference_test.go,
normalize_test.go) and of Go's path/match_test.go, ported."""

from __future__ import annotations

import re

import pytest

from dockyard.errors import InvalidInput, InvalidReference
from dockyard.oci import _grammar
from dockyard.oci import reference as refs
from dockyard.oci.digest import Digest
from dockyard.oci.reference import Reference, familiar_match, path_match

SHA_F = "sha256:" + "f" * 64
SHA_BUSYBOX = "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"
SHA_REDIS = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
SHA_BE17 = "sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912"
HUB = "registry-1.docker.io"
HEX64 = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"


# --- the grammar (regexp_test.go) ---------------------------------------------------------------------------------

DOMAIN_CASES = [
    ("test.com", True),
    ("test.com:10304", True),
    ("test.com:http", False),
    ("localhost", True),
    ("localhost:8080", True),
    ("a", True),
    ("a.b", True),
    ("ab.cd.com", True),
    ("a-b.com", True),
    ("-ab.com", False),
    ("ab-.com", False),
    ("ab.c-om", True),
    ("ab.-com", False),
    ("ab.com-", False),
    ("0101.com", True),
    ("001a.com", True),
    ("b.gbc.io:443", True),
    ("b.gbc.io", True),
    ("xn--n3h.com", True),
    ("Asdf.com", True),
    ("192.168.1.1:75050", True),
    ("192.168.1.1:750050", True),
    ("[fd00:1:2::3]:75050", True),
    ("[fd00:1:2::3]75050", False),
    ("[fd00:1:2::3]::75050", False),
    ("[fd00:1:2::3%eth0]:75050", False),
    ("[fd00:1:2::3%25]:75050", False),
    ("[fd00::1%ab]", False),
    ("[fd00123123123]:75050", True),
    ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:75050", True),
    ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:750505", True),
    ("fd00:1:2::3:75050", False),
    # Python-specific: $ would accept a trailing newline, \Z does not.
    ("test.com\n", False),
    ("tést.com", False),
]


@pytest.mark.parametrize(("text", "ok"), DOMAIN_CASES)
def test_domain_regexp(text: str, ok: bool) -> None:
    assert bool(_grammar.ANCHORED_DOMAIN_RE.match(text)) is ok


FULL_NAME_CASES: list[tuple[str, tuple[str, str] | None]] = [
    ("", None),
    ("short", ("", "short")),
    ("simple/name", ("simple", "name")),
    ("library/ubuntu", ("library", "ubuntu")),
    ("docker/stevvooe/app", ("docker", "stevvooe/app")),
    (
        "aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb",
        ("aa", "aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb"),
    ),
    ("aa/aa/bb/bb/bb", ("aa", "aa/bb/bb/bb")),
    ("a/a/a/a", ("a", "a/a/a")),
    ("a/a/a/a/", None),
    ("a//a/a", None),
    ("a", ("", "a")),
    ("a/aa", ("a", "aa")),
    ("a/aa/a", ("a", "aa/a")),
    ("foo.com", ("", "foo.com")),
    ("foo.com/", None),
    ("foo.com:8080/bar", ("foo.com:8080", "bar")),
    ("foo.com:http/bar", None),
    ("foo.com/bar", ("foo.com", "bar")),
    ("foo.com/bar/baz", ("foo.com", "bar/baz")),
    ("localhost:8080/bar", ("localhost:8080", "bar")),
    ("sub-dom1.foo.com/bar/baz/quux", ("sub-dom1.foo.com", "bar/baz/quux")),
    ("blog.foo.com/bar/baz", ("blog.foo.com", "bar/baz")),
    ("a^a", None),
    ("aa/asdf$$^/aa", None),
    ("asdf$$^/aa", None),
    ("aa-a/a", ("aa-a", "a")),
    ("a/" * 128 + "a", ("a", "a/" * 127 + "a")),
    ("a-/a/a/a", None),
    ("foo.com/a-/a/a", None),
    ("-foo/bar", None),
    ("foo/bar-", None),
    ("foo-/bar", None),
    ("foo/-bar", None),
    ("_foo/bar", None),
    ("foo_bar", ("", "foo_bar")),
    ("foo_bar.com", ("", "foo_bar.com")),
    ("foo_bar.com:8080", None),
    ("foo_bar.com:8080/app", None),
    ("foo.com/foo_bar", ("foo.com", "foo_bar")),
    ("____/____", None),
    ("_docker/_docker", None),
    ("docker_/docker_", None),
    ("b.gcr.io/test.example.com/my-app", ("b.gcr.io", "test.example.com/my-app")),
    ("xn--n3h.com/myimage", ("xn--n3h.com", "myimage")),
    ("xn--7o8h.com/myimage", ("xn--7o8h.com", "myimage")),
    ("example.com/xn--7o8h.com/myimage", ("example.com", "xn--7o8h.com/myimage")),
    (
        "example.com/some_separator__underscore/myimage",
        ("example.com", "some_separator__underscore/myimage"),
    ),
    ("example.com/__underscore/myimage", None),
    ("example.com/..dots/myimage", None),
    ("example.com/.dots/myimage", None),
    ("example.com/nodouble..dots/myimage", None),
    ("docker./docker", None),
    (".docker/docker", None),
    ("docker-/docker", None),
    ("-docker/docker", None),
    ("do..cker/docker", None),
    ("do__cker:8080/docker", None),
    ("do__cker/docker", ("", "do__cker/docker")),
    (
        "registry.io/foo/project--id.module--name.ver---sion--name",
        ("registry.io", "foo/project--id.module--name.ver---sion--name"),
    ),
    ("Asdf.com/foo/bar", ("Asdf.com", "foo/bar")),
    ("Foo/FarB", None),
    ("foo___bar", None),
    ("foo/bar\n", None),
]


@pytest.mark.parametrize(("text", "subs"), FULL_NAME_CASES)
def test_anchored_name_regexp(text: str, subs: tuple[str, str] | None) -> None:
    assert _grammar.ANCHORED_NAME_RE.groups == 2
    match = _grammar.ANCHORED_NAME_RE.match(text)
    if subs is None:
        assert match is None
    else:
        assert match is not None
        assert (match.group(1) or "", match.group(2)) == subs


REFERENCE_REGEXP_CASES: list[tuple[str, tuple[str, str, str] | None]] = [
    ("registry.com:8080/myapp:tag", ("registry.com:8080/myapp", "tag", "")),
    ("registry.com:8080/myapp@" + SHA_BE17, ("registry.com:8080/myapp", "", SHA_BE17)),
    ("registry.com:8080/myapp:tag2@" + SHA_BE17, ("registry.com:8080/myapp", "tag2", SHA_BE17)),
    ("registry.com:8080/myapp@sha256:badbadbadbad", None),
    ("registry.com:8080/myapp:invalid~tag", None),
    ("bad_hostname.com:8080/myapp:tag", None),
    ("localhost:8080@" + SHA_BE17, ("localhost", "8080", SHA_BE17)),
    ("localhost:8080/name@" + SHA_BE17, ("localhost:8080/name", "", SHA_BE17)),
    ("localhost:http/name@" + SHA_BE17, None),
    ("localhost@" + SHA_BE17, ("localhost", "", SHA_BE17)),
    ("registry.com:8080/myapp@bad", None),
    ("registry.com:8080/myapp@2bad", None),
    # A tag is at most 128 characters.
    ("name:" + "t" * 128, ("name", "t" * 128, "")),
    ("name:" + "t" * 129, None),
    ("name:-tag", None),
    ("name:.tag", None),
    ("name:_tag", ("name", "_tag", "")),
    ("name:tag\n", None),
    ("name:täg", None),
]


@pytest.mark.parametrize(("text", "subs"), REFERENCE_REGEXP_CASES)
def test_reference_regexp(text: str, subs: tuple[str, str, str] | None) -> None:
    assert _grammar.REFERENCE_RE.groups == 3
    match = _grammar.REFERENCE_RE.match(text)
    if subs is None:
        assert match is None
    else:
        assert match is not None
        assert match.group(0) == text
        assert (match.group(1), match.group(2) or "", match.group(3) or "") == subs


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821", True),
        ("7EC43B381E5AEFE6E04EFB0B3F0693FF2A4A50652D64AEC573905F2DB5889A1C", False),
        ("da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf", False),
        ("sha256:da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821", False),
        ("da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf98218482", False),
    ],
)
def test_identifier_regexp(text: str, ok: bool) -> None:
    assert bool(_grammar.ANCHORED_IDENTIFIER_RE.match(text)) is ok


def test_unanchored_regexps_are_gos_exported_ones() -> None:
    assert _grammar.TAG_RE.fullmatch("v1.2-rc_3")
    assert _grammar.DIGEST_RE.fullmatch("sha256+b64u.x_y:" + "a" * 32)
    assert not _grammar.DIGEST_RE.fullmatch("sha256:" + "a" * 31)
    assert _grammar.NAME_RE.fullmatch("localhost:5000/a/b")
    assert _grammar.IDENTIFIER_RE.search("id " + "a" * 64)
    assert _grammar.DOMAIN_RE.fullmatch("[::1]:80")
    assert re.ASCII & _grammar.TAG_RE.flags


# --- Parse as Docker's grammar splits it (reference_test.go TestReferenceParse) --------------------------------

# Every valid input of TestReferenceParse, with what ParseNormalizedNamed makes of it: the full string and
# (domain, path, tag, digest).
NORMALIZED_CASES: list[tuple[str, str, tuple[str, str, str | None, str | None]]] = [
    ("test_com", "docker.io/library/test_com", ("docker.io", "library/test_com", None, None)),
    ("test.com:tag", "docker.io/library/test.com:tag", ("docker.io", "library/test.com", "tag", None)),
    ("test.com:5000", "docker.io/library/test.com:5000", ("docker.io", "library/test.com", "5000", None)),
    ("test.com/repo:tag", "test.com/repo:tag", ("test.com", "repo", "tag", None)),
    ("test:5000/repo", "test:5000/repo", ("test:5000", "repo", None, None)),
    ("test:5000/repo:tag", "test:5000/repo:tag", ("test:5000", "repo", "tag", None)),
    ("test:5000/repo@" + SHA_F, "test:5000/repo@" + SHA_F, ("test:5000", "repo", None, SHA_F)),
    ("test:5000/repo:tag@" + SHA_F, "test:5000/repo:tag@" + SHA_F, ("test:5000", "repo", "tag", SHA_F)),
    (
        "lowercase:Uppercase",
        "docker.io/library/lowercase:Uppercase",
        ("docker.io", "library/lowercase", "Uppercase", None),
    ),
    (
        "a/" * 126 + "a:tag-puts-this-over-max",
        "docker.io/" + "a/" * 126 + "a:tag-puts-this-over-max",
        ("docker.io", "a/" * 126 + "a", "tag-puts-this-over-max", None),
    ),
    (
        "sub-dom1.foo.com/bar/baz/quux",
        "sub-dom1.foo.com/bar/baz/quux",
        ("sub-dom1.foo.com", "bar/baz/quux", None, None),
    ),
    (
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
        ("sub-dom1.foo.com", "bar/baz/quux", "some-long-tag", None),
    ),
    (
        "b.gcr.io/test.example.com/my-app:test.example.com",
        "b.gcr.io/test.example.com/my-app:test.example.com",
        ("b.gcr.io", "test.example.com/my-app", "test.example.com", None),
    ),
    (
        "xn--n3h.com/myimage:xn--n3h.com",
        "xn--n3h.com/myimage:xn--n3h.com",
        ("xn--n3h.com", "myimage", "xn--n3h.com", None),
    ),
    (
        "xn--7o8h.com/myimage:xn--7o8h.com@sha512:" + "f" * 128,
        "xn--7o8h.com/myimage:xn--7o8h.com@sha512:" + "f" * 128,
        ("xn--7o8h.com", "myimage", "xn--7o8h.com", "sha512:" + "f" * 128),
    ),
    ("foo_bar.com:8080", "docker.io/library/foo_bar.com:8080", ("docker.io", "library/foo_bar.com", "8080", None)),
    ("foo/foo_bar.com:8080", "docker.io/foo/foo_bar.com:8080", ("docker.io", "foo/foo_bar.com", "8080", None)),
    ("192.168.1.1", "docker.io/library/192.168.1.1", ("docker.io", "library/192.168.1.1", None, None)),
    ("192.168.1.1:tag", "docker.io/library/192.168.1.1:tag", ("docker.io", "library/192.168.1.1", "tag", None)),
    ("192.168.1.1:5000", "docker.io/library/192.168.1.1:5000", ("docker.io", "library/192.168.1.1", "5000", None)),
    ("192.168.1.1/repo", "192.168.1.1/repo", ("192.168.1.1", "repo", None, None)),
    ("192.168.1.1:5000/repo", "192.168.1.1:5000/repo", ("192.168.1.1:5000", "repo", None, None)),
    ("192.168.1.1:5000/repo:5050", "192.168.1.1:5000/repo:5050", ("192.168.1.1:5000", "repo", "5050", None)),
    ("[2001:db8::1]/repo", "[2001:db8::1]/repo", ("[2001:db8::1]", "repo", None, None)),
    (
        "[2001:db8:1:2:3:4:5:6]/repo:tag",
        "[2001:db8:1:2:3:4:5:6]/repo:tag",
        ("[2001:db8:1:2:3:4:5:6]", "repo", "tag", None),
    ),
    ("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000/repo", ("[2001:db8::1]:5000", "repo", None, None)),
    ("[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000/repo:tag", ("[2001:db8::1]:5000", "repo", "tag", None)),
    (
        "[2001:db8::1]:5000/repo@" + SHA_F,
        "[2001:db8::1]:5000/repo@" + SHA_F,
        ("[2001:db8::1]:5000", "repo", None, SHA_F),
    ),
    (
        "[2001:db8::1]:5000/repo:tag@" + SHA_F,
        "[2001:db8::1]:5000/repo:tag@" + SHA_F,
        ("[2001:db8::1]:5000", "repo", "tag", SHA_F),
    ),
    ("[2001:db8::]:5000/repo", "[2001:db8::]:5000/repo", ("[2001:db8::]:5000", "repo", None, None)),
    ("[::1]:5000/repo", "[::1]:5000/repo", ("[::1]:5000", "repo", None, None)),
    (
        "example.com/" + "a" * 255 + ":tag",
        "example.com/" + "a" * 255 + ":tag",
        ("example.com", "a" * 255, "tag", None),
    ),
    # The brief's examples.
    ("alpine", "docker.io/library/alpine", ("docker.io", "library/alpine", None, None)),
    ("myuser/app", "docker.io/myuser/app", ("docker.io", "myuser/app", None, None)),
    ("index.docker.io/x", "docker.io/library/x", ("docker.io", "library/x", None, None)),
    ("index.docker.io/myuser/x:1", "docker.io/myuser/x:1", ("docker.io", "myuser/x", "1", None)),
    ("localhost:5000/a", "localhost:5000/a", ("localhost:5000", "a", None, None)),
    ("localhost/a", "localhost/a", ("localhost", "a", None, None)),
    ("localhost", "docker.io/library/localhost", ("docker.io", "library/localhost", None, None)),
    ("localhost:5000", "docker.io/library/localhost:5000", ("docker.io", "library/localhost", "5000", None)),
    ("Foo/bar", "Foo/bar", ("Foo", "bar", None, None)),
    ("example.com/a/b/c/d:v1", "example.com/a/b/c/d:v1", ("example.com", "a/b/c/d", "v1", None)),
    # Docker's quirk: "foo_bar.com" contains a "." so it is split off as a domain, but it is no valid host
    # name, so the grammar keeps it in the path and the domain ends up empty.
    ("foo_bar.com/app", "foo_bar.com/app", ("", "foo_bar.com/app", None, None)),
]


@pytest.mark.parametrize(("text", "full", "parts"), NORMALIZED_CASES)
def test_parse_normalized(text: str, full: str, parts: tuple[str, str, str | None, str | None]) -> None:
    ref = refs.parse(text)
    digest = None if parts[3] is None else Digest.parse(parts[3])
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (*parts[:3], digest)
    assert str(ref) == full
    # The normalised string is a fixed point.
    assert refs.parse(str(ref)) == ref
    assert Reference.parse(full) == ref


# Every invalid input of TestReferenceParse, TestValidateReferenceName and TestValidateRemoteName.
INVALID_CASES = [
    "",
    ":justtag",
    "@" + SHA_F,
    "repo@sha256:" + "f" * 34,
    "validname@invaliddigest:" + "f" * 64,
    "Uppercase:tag",
    "test:5000/Uppercase/lowercase:tag",
    "domain/" + "a" * 256 + ":tag",
    "aa/asdf$$^/aa",
    "[2001:db8::1]",
    "[2001:db8::1]:5000",
    "[2001:db8::1]:tag",
    "[fe80::1%eth0]:5000/repo",
    "[fe80::1%@invalidzone]:5000/repo",
    "[fe80::1%25]:5000/repo",
    "https://github.com/docker/docker",
    "docker/Docker",
    "-docker",
    "-docker/docker",
    "-docker.io/docker/docker",
    "docker///docker",
    "docker.io/docker/Docker",
    "docker.io/docker///docker",
    "[fc00::1]",
    "[fc00::1]:5000",
    "fc00::1:5000/debian",
    "[fe80::1%eth0]:5000/debian",
    "[2001:db8:3:4::192.0.2.33]:5000/debian",
    HEX64,
    "docker-/docker",
    "-docker-/docker",
    "____/____",
    "_docker/_docker",
    "dock..er/docker",
    "dock_.er/docker",
    "dock-.er/docker",
    "docker/",
    "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_" * 4 + "/docker",
    "-foo",
    # Beyond the Go tables.
    "alpine\n",
    "alpine:",
    "alpine@",
    "alpine:latest@",
    "alpine@sha256:" + "F" * 64,
    "alpine@SHA256:" + "f" * 64,
    "alpine@md5:" + "f" * 32,
    "alpine:tag:tag",
    "alpine tag",
    "/alpine",
    "alpine/",
    "docker.io/",
    "ålpine",
    "alpine:" + "t" * 129,
]


@pytest.mark.parametrize("text", INVALID_CASES)
def test_parse_invalid(text: str) -> None:
    with pytest.raises(InvalidReference) as info:
        refs.parse(text)
    message = str(info.value)
    assert "\n" not in message
    assert isinstance(info.value, InvalidInput)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("text", [t for t in INVALID_CASES if t and len(t) < 120 and "\n" not in t])
def test_invalid_message_names_the_input(text: str) -> None:
    with pytest.raises(InvalidReference) as info:
        refs.parse(text)
    message = str(info.value)
    # Docker's lowercase message names the repository part; every other names the whole input.
    remote = text.split("/", 1)[-1].split(":", 1)[0] if "/" in text else text.split(":", 1)[0]
    assert text in message or remote in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Alpine", "invalid reference format: repository name (library/Alpine) must be lowercase"),
        ("docker/Docker", "invalid reference format: repository name (docker/Docker) must be lowercase"),
        ("docker.io/docker/Docker:Tag", "invalid reference format: repository name (docker/Docker) must be lowercase"),
        (
            "test:5000/Uppercase/lowercase:tag",
            "invalid reference format: repository name (Uppercase/lowercase) must be lowercase",
        ),
        (HEX64, f"invalid repository name ({HEX64}), cannot specify 64-byte hexadecimal strings"),
        ("aa/asdf$$^/aa", "invalid reference format: 'aa/asdf$$^/aa'"),
        ("", "invalid reference format: the reference is empty"),
        ("Foo_bar/baz", "invalid reference format: repository name (Foo_bar/baz) must be lowercase"),
    ],
)
def test_error_messages(text: str, message: str) -> None:
    with pytest.raises(InvalidReference) as info:
        refs.parse(text)
    assert str(info.value) == message


def test_digest_errors_are_reference_errors() -> None:
    with pytest.raises(InvalidReference, match=r"invalid reference format: 'validname@invaliddigest:f+': "):
        refs.parse("validname@invaliddigest:" + "f" * 64)
    with pytest.raises(InvalidReference, match="repo@sha256"):
        refs.parse("repo@sha256:" + "f" * 40)


def test_non_string_is_refused() -> None:
    with pytest.raises(InvalidReference, match="want a string"):
        refs.parse(None)  # type: ignore[arg-type]


# --- lengths -------------------------------------------------------------------------------------------------------


def test_repository_path_length_limit() -> None:
    # distribution/reference v0.6 limits the path (the name without its domain) to 255 characters.
    assert refs.parse("example.com/" + "a" * 255).path == "a" * 255
    with pytest.raises(InvalidReference, match="must not be more than 255 characters"):
        refs.parse("example.com/" + "a" * 256)
    # On Docker Hub the library/ prefix counts.
    assert len(refs.parse("a" * 247).path) == 255
    with pytest.raises(InvalidReference, match="must not be more than 255 characters"):
        refs.parse("a" * 248)
    # 255 path characters after a long domain are fine.
    assert refs.parse("registry." + "x" * 50 + ".example.com/" + "a" * 255 + ":t").tag == "t"


def test_hex_identifier_only_refused_alone() -> None:
    assert refs.parse("docker.io/" + HEX64).path == "library/" + HEX64
    assert refs.parse(HEX64[:63]).path == "library/" + HEX64[:63]
    assert refs.parse(HEX64 + ":tag").tag == "tag"
    with pytest.raises(InvalidReference, match="64-byte hexadecimal"):
        refs.parse(HEX64)


# --- normalize_test.go ---------------------------------------------------------------------------------------------

VALID_REPO_NAMES = [
    "docker/docker",
    "library/debian",
    "debian",
    "docker.io/docker/docker",
    "docker.io/library/debian",
    "docker.io/debian",
    "index.docker.io/docker/docker",
    "index.docker.io/library/debian",
    "index.docker.io/debian",
    "127.0.0.1:5000/docker/docker",
    "127.0.0.1:5000/library/debian",
    "127.0.0.1:5000/debian",
    "192.168.0.1",
    "192.168.0.1:80",
    "192.168.0.1:8/debian",
    "192.168.0.2:25000/debian",
    "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
    "[fc00::1]:5000/docker",
    "[fc00::1]:5000/docker/docker",
    "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
    "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
    "Docker/docker",
    "DOCKER/docker",
    "docker-rules/docker",
    "docker---rules/docker",
    "doc/docker",
    "d/docker",
    "jess/t",
    "dock__er/docker",
]


@pytest.mark.parametrize("text", VALID_REPO_NAMES)
def test_valid_repository_names(text: str) -> None:
    ref = refs.parse(text)
    assert ref.tag is None or text.endswith(":" + ref.tag)
    assert refs.parse(str(ref)) == ref


# (remote name, familiar name, full name, ambiguous name, domain)
REPOSITORY_INFO = [
    ("fooo/bar", "fooo/bar", "docker.io/fooo/bar", "index.docker.io/fooo/bar", "docker.io"),
    ("library/ubuntu", "ubuntu", "docker.io/library/ubuntu", "library/ubuntu", "docker.io"),
    ("nonlibrary/ubuntu", "nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", "", "docker.io"),
    ("other/library", "other/library", "docker.io/other/library", "", "docker.io"),
    ("private/moonbase", "127.0.0.1:8000/private/moonbase", "127.0.0.1:8000/private/moonbase", "", "127.0.0.1:8000"),
    ("privatebase", "127.0.0.1:8000/privatebase", "127.0.0.1:8000/privatebase", "", "127.0.0.1:8000"),
    ("private/moonbase", "example.com/private/moonbase", "example.com/private/moonbase", "", "example.com"),
    ("privatebase", "example.com/privatebase", "example.com/privatebase", "", "example.com"),
    (
        "private/moonbase",
        "example.com:8000/private/moonbase",
        "example.com:8000/private/moonbase",
        "",
        "example.com:8000",
    ),
    ("privatebasee", "example.com:8000/privatebasee", "example.com:8000/privatebasee", "", "example.com:8000"),
    (
        "library/ubuntu-12.04-base",
        "ubuntu-12.04-base",
        "docker.io/library/ubuntu-12.04-base",
        "index.docker.io/library/ubuntu-12.04-base",
        "docker.io",
    ),
    ("library/foo", "foo", "docker.io/library/foo", "docker.io/foo", "docker.io"),
    ("library/foo/bar", "library/foo/bar", "docker.io/library/foo/bar", "", "docker.io"),
    ("store/foo/bar", "store/foo/bar", "docker.io/store/foo/bar", "", "docker.io"),
    ("bar", "Foo/bar", "Foo/bar", "", "Foo"),
    ("bar", "FOO/bar", "FOO/bar", "", "FOO"),
]


@pytest.mark.parametrize(
    ("text", "remote", "familiar", "full", "domain"),
    [
        (text, remote, familiar, full, domain)
        for remote, familiar, full, ambiguous, domain in REPOSITORY_INFO
        for text in (familiar, full, ambiguous)
        if text
    ],
)
def test_parse_repository_info(text: str, remote: str, familiar: str, full: str, domain: str) -> None:
    ref = refs.parse(text)
    assert ref.familiar_name() == familiar
    assert str(ref) == full
    assert ref.repository == full
    assert ref.name == full
    assert ref.domain == domain
    assert ref.path == remote


def test_parse_reference_with_tag_and_digest() -> None:
    short = "busybox:latest@" + SHA_BUSYBOX
    ref = refs.parse(short)
    assert str(ref) == "docker.io/library/" + short
    assert ref.tag == "latest"
    assert ref.digest == Digest.parse(SHA_BUSYBOX)
    assert ref.familiar() == short
    assert ref.identifier == SHA_BUSYBOX


def test_invalid_reference_components() -> None:
    with pytest.raises(InvalidReference):
        refs.parse("-foo")
    ref = refs.parse("busybox")
    with pytest.raises(InvalidReference, match="invalid tag format: '-foo'"):
        ref.with_tag("-foo")
    with pytest.raises(InvalidReference, match="foo"):
        ref.with_digest("foo")


@pytest.mark.parametrize(
    ("text", "domain", "path"),
    [
        ("test.com/foo", "test.com", "foo"),
        ("test_com/foo", "docker.io", "test_com/foo"),
        ("docker/migrator", "docker.io", "docker/migrator"),
        ("test.com:8080/foo", "test.com:8080", "foo"),
        ("test-com:8080/foo", "test-com:8080", "foo"),
        ("foo", "docker.io", "library/foo"),
        ("xn--n3h.com/foo", "xn--n3h.com", "foo"),
        ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
        ("docker.io/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo/bar", "docker.io", "library/foo/bar"),
    ],
)
def test_normalized_split_hostname(text: str, domain: str, path: str) -> None:
    ref = refs.parse(text)
    assert (ref.domain, ref.path) == (domain, path)


@pytest.mark.parametrize(
    ("text", "equivalent"),
    [
        ("redis", "docker.io/library/redis"),
        ("redis:latest", "docker.io/library/redis:latest"),
        ("docker.io/library/redis:latest", "docker.io/library/redis:latest"),
        ("redis@" + SHA_REDIS, "docker.io/library/redis@" + SHA_REDIS),
        ("docker.io/library/redis@" + SHA_REDIS, "docker.io/library/redis@" + SHA_REDIS),
        ("dmcgowan/myapp", "docker.io/dmcgowan/myapp"),
        ("dmcgowan/myapp:latest", "docker.io/dmcgowan/myapp:latest"),
        ("docker.io/mcgowan/myapp:latest", "docker.io/mcgowan/myapp:latest"),
        ("dmcgowan/myapp@" + SHA_REDIS, "docker.io/dmcgowan/myapp@" + SHA_REDIS),
        ("docker.io/dmcgowan/myapp@" + SHA_REDIS, "docker.io/dmcgowan/myapp@" + SHA_REDIS),
        (SHA_REDIS[7:-1], "docker.io/library/" + SHA_REDIS[7:-1]),
        ("dbcc1", "docker.io/library/dbcc1"),
    ],
)
def test_parse_any_reference_named_cases(text: str, equivalent: str) -> None:
    assert str(refs.parse(text)) == equivalent


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:latest", "docker.io/library/busybox:latest"),
        ("busybox@sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582",
         "docker.io/library/busybox@sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582"),
        ("library/busybox", "docker.io/library/busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest"),
        ("docker.io/library/busybox", "docker.io/library/busybox:latest"),
        ("docker.io/busybox:latest", "docker.io/library/busybox:latest"),
        ("library/busybox:latest", "docker.io/library/busybox:latest"),
        ("docker.io/library/busybox:latest", "docker.io/library/busybox:latest"),
        ("gcr.io/library/busybox", "gcr.io/library/busybox:latest"),
        ("gcr.io/library/busybox:latest@sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582",
         "gcr.io/library/busybox@sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582"),
    ],
)  # fmt: skip
def test_docker_ref(text: str, expected: str) -> None:
    ref = refs.parse(text).docker_ref()
    assert str(ref) == expected
    assert refs.parse(str(ref)) == ref


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("test.com/foo", True),
        ("test:8080/foo", True),
        ("test_com/foo", False),
        ("test.com", False),
        ("foo", False),
        ("library/foo", False),
        ("docker.io/library/foo", True),
        ("docker.io/foo", False),
    ],
)
def test_parse_named_canonical(text: str, canonical: bool) -> None:
    # Docker's ParseNamed: the input must already be the normalised string.
    assert (str(refs.parse(text)) == text) is canonical


# --- familiar strings, names, hosts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "familiar", "familiar_name", "full", "host"),
    [
        ("alpine", "alpine", "alpine", "docker.io/library/alpine", HUB),
        ("alpine:latest", "alpine:latest", "alpine", "docker.io/library/alpine:latest", HUB),
        ("docker.io/library/alpine:3.19", "alpine:3.19", "alpine", "docker.io/library/alpine:3.19", HUB),
        ("myuser/app:v2", "myuser/app:v2", "myuser/app", "docker.io/myuser/app:v2", HUB),
        ("index.docker.io/myuser/app", "myuser/app", "myuser/app", "docker.io/myuser/app", HUB),
        ("localhost:5000/a:1", "localhost:5000/a:1", "localhost:5000/a", "localhost:5000/a:1", "localhost:5000"),
        ("alpine@" + SHA_F, "alpine@" + SHA_F, "alpine", "docker.io/library/alpine@" + SHA_F, HUB),
        ("library/a/b:t", "library/a/b:t", "library/a/b", "docker.io/library/a/b:t", HUB),
        ("ghcr.io/o/r:1@" + SHA_F, "ghcr.io/o/r:1@" + SHA_F, "ghcr.io/o/r", "ghcr.io/o/r:1@" + SHA_F, "ghcr.io"),
        ("quay.io/library/x", "quay.io/library/x", "quay.io/library/x", "quay.io/library/x", "quay.io"),
        ("[::1]:5000/r", "[::1]:5000/r", "[::1]:5000/r", "[::1]:5000/r", "[::1]:5000"),
    ],
)  # fmt: skip
def test_familiar_and_host(text: str, familiar: str, familiar_name: str, full: str, host: str) -> None:
    ref = refs.parse(text)
    assert ref.familiar() == familiar
    assert ref.familiar_name() == familiar_name
    assert str(ref) == full
    assert ref.registry_host() == host
    # The familiar string parses back to the same reference.
    assert refs.parse(familiar) == ref


def test_registry_host_refuses_domainless_reference() -> None:
    ref = refs.parse("foo_bar.com/app:1")
    assert ref.domain == ""
    assert ref.repository == "foo_bar.com/app"
    assert ref.familiar() == "foo_bar.com/app:1"
    with pytest.raises(InvalidReference, match=r"foo_bar\.com/app:1"):
        ref.registry_host()


# --- derived references ---------------------------------------------------------------------------------------------


def test_with_default_tag() -> None:
    assert refs.parse("alpine").with_default_tag() == refs.parse("alpine:latest")
    assert refs.parse("alpine:3").with_default_tag() == refs.parse("alpine:3")
    digested = refs.parse("alpine@" + SHA_F)
    assert digested.with_default_tag() is digested
    assert digested.with_default_tag().tag is None


def test_with_tag_and_digest_keep_each_other() -> None:
    base = refs.parse("test.com:8000/foo")
    assert str(base.with_tag("TAG5")) == "test.com:8000/foo:TAG5"
    both = base.with_digest(SHA_F).with_tag("TAG5")
    assert str(both) == "test.com:8000/foo:TAG5@" + SHA_F
    assert str(base.with_tag("latest").with_digest(Digest.parse(SHA_F))) == "test.com:8000/foo:latest@" + SHA_F
    assert both.untagged() == base
    assert str(both.untagged()) == "test.com:8000/foo"
    assert base.with_tag("x").with_tag("y").tag == "y"


@pytest.mark.parametrize("tag", ["", "-x", ".x", "a" * 129, "a/b", "a:b", "a@b", "ä"])
def test_with_tag_refuses_bad_tags(tag: str) -> None:
    with pytest.raises(InvalidReference, match="invalid tag format"):
        refs.parse("alpine").with_tag(tag)


def test_identifier() -> None:
    assert refs.parse("alpine").identifier is None
    assert refs.parse("alpine:3").identifier == "3"
    assert refs.parse("alpine@" + SHA_F).identifier == SHA_F
    assert refs.parse("alpine:3@" + SHA_F).identifier == SHA_F


def test_value_semantics() -> None:
    a = refs.parse("alpine:3")
    b = refs.parse("docker.io/library/alpine:3")
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b, refs.parse("alpine:4")}) == 2
    with pytest.raises(AttributeError):
        a.tag = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("domain", "path"),
    [
        ("docker.io", "alpine"),
        ("index.docker.io", "library/alpine"),
        ("", "alpine"),
        ("", "myuser/app"),
        ("docker.io", "Library/alpine"),
        ("docker.io", "library/alpine:3"),
        ("docker.io", "library/alpine@" + SHA_F),
        ("bad_domain", "x"),
        ("example.com", ""),
        ("example.com", "a" * 256),
    ],
)
def test_constructor_requires_normalised_fields(domain: str, path: str) -> None:
    with pytest.raises(InvalidReference):
        Reference(domain, path)


def test_constructor_accepts_normalised_fields() -> None:
    assert Reference("docker.io", "library/alpine", "3") == refs.parse("alpine:3")
    assert Reference("", "foo_bar.com/app") == refs.parse("foo_bar.com/app")
    with pytest.raises(InvalidReference, match="want a Digest"):
        Reference("docker.io", "library/alpine", None, SHA_F)  # type: ignore[arg-type]


# --- Go's path.Match (path/match_test.go) --------------------------------------------------------------------------

# (pattern, name, matched, bad pattern)
PATH_MATCH_CASES = [
    ("abc", "abc", True, False),
    ("*", "abc", True, False),
    ("*c", "abc", True, False),
    ("a*", "a", True, False),
    ("a*", "abc", True, False),
    ("a*", "ab/c", False, False),
    ("a*/b", "abc/b", True, False),
    ("a*/b", "a/c/b", False, False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True, False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True, False),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False, False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False, False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True, False),
    ("a*b?c*x", "abxbbxdbxebxczzy", False, False),
    ("ab[c]", "abc", True, False),
    ("ab[b-d]", "abc", True, False),
    ("ab[e-g]", "abc", False, False),
    ("ab[^c]", "abc", False, False),
    ("ab[^b-d]", "abc", False, False),
    ("ab[^e-g]", "abc", True, False),
    ("a\\*b", "a*b", True, False),
    ("a\\*b", "ab", False, False),
    ("a?b", "a☺b", True, False),
    ("a[^a]b", "a☺b", True, False),
    ("a???b", "a☺b", False, False),
    ("a[^a][^a][^a]b", "a☺b", False, False),
    ("[a-ζ]*", "α", True, False),
    ("*[a-ζ]", "A", False, False),
    ("a?b", "a/b", False, False),
    ("a*b", "a/b", False, False),
    ("[\\]a]", "]", True, False),
    ("[\\-]", "-", True, False),
    ("[x\\-]", "x", True, False),
    ("[x\\-]", "-", True, False),
    ("[x\\-]", "z", False, False),
    ("[\\-x]", "x", True, False),
    ("[\\-x]", "-", True, False),
    ("[\\-x]", "a", False, False),
    ("[]a]", "]", False, True),
    ("[-]", "-", False, True),
    ("[x-]", "x", False, True),
    ("[x-]", "-", False, True),
    ("[x-]", "z", False, True),
    ("[-x]", "x", False, True),
    ("[-x]", "-", False, True),
    ("[-x]", "a", False, True),
    ("\\", "a", False, True),
    ("[a-b-c]", "a", False, True),
    ("[", "a", False, True),
    ("[^", "a", False, True),
    ("[^bc", "a", False, True),
    ("a[", "a", False, True),
    ("a[", "ab", False, True),
    ("a[", "x", False, True),
    ("a/b[", "x", False, True),
    ("*x", "xxx", True, False),
    # Beyond Go's table: a malformed chunk after a star is reported even when an earlier chunk fails.
    ("x*[", "abc", False, True),
    ("a*b*[", "xyz", False, True),
    ("x*[a-]", "abc", False, True),
    ("ab*", "a/b", False, False),
    ("*/*", "a/b", True, False),
    ("*", "", True, False),
    ("", "", True, False),
    ("", "a", False, False),
]


@pytest.mark.parametrize(("pattern", "name", "matched", "bad"), PATH_MATCH_CASES)
def test_path_match(pattern: str, name: str, matched: bool, bad: bool) -> None:
    if bad:
        with pytest.raises(InvalidReference, match="syntax error in pattern") as info:
            path_match(pattern, name)
        assert repr(pattern) in str(info.value)
    else:
        assert path_match(pattern, name) is matched


# --- FamiliarMatch (normalize_test.go TestMatch) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pattern", "matched"),
    [
        ("foo", "foo/**/ba[rz]", False),
        ("foo/any/bat", "foo/**/ba[rz]", False),
        ("foo/a/bar", "foo/**/ba[rz]", True),
        ("foo/b/baz", "foo/**/ba[rz]", True),
        ("foo/c/baz:tag", "foo/**/ba[rz]", True),
        ("foo/c/baz:tag", "foo/*/baz:tag", True),
        ("foo/c/baz:tag", "foo/c/baz:tag", True),
        ("example.com/foo/c/baz:tag", "*/foo/c/baz", True),
        ("example.com/foo/c/baz:tag", "example.com/foo/c/baz", True),
        # Beyond the Go table: what `docker images --filter reference=...` users type.
        ("alpine:3.19", "alpine", True),
        ("alpine:3.19", "alpine:3.*", True),
        ("alpine:3.19", "alpine:latest", False),
        ("alpine:3.19", "docker.io/library/alpine", False),
        ("alpine:3.19", "library/alpine", False),
        ("alpine:3.19", "*", True),
        ("myuser/app:v2", "*", False),
        ("myuser/app:v2", "*/*", True),
        ("myuser/app:v2", "myuser/*:v?", True),
        ("localhost:5000/a:1", "localhost:5000/*", True),
        ("alpine@" + SHA_F, "alpine", True),
        ("alpine@" + SHA_F, "alpine@sha256:*", True),
    ],
)
def test_familiar_match(text: str, pattern: str, matched: bool) -> None:
    assert familiar_match(pattern, refs.parse(text)) is matched


def test_familiar_match_error() -> None:
    with pytest.raises(InvalidReference, match=r"'\[-x\]'"):
        familiar_match("[-x]", refs.parse("foo"))
    # A bad pattern is an error even when the name would not match anyway.
    with pytest.raises(InvalidReference):
        familiar_match("nomatch[", refs.parse("foo"))


# --- robustness ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a" * 100_000 + "!",
        "a." * 50_000 + "!",
        "a-" * 30_000 + "/",
        "x/" + "a_" * 30_000,
        "x/y@sha256:" + "f" * 100_000 + "g",
        "a/" * 50_000,
        "[" + ":" * 100_000,
    ],
)
def test_hostile_inputs_fail_fast(text: str) -> None:
    # Python's backtracking regexes must not blow up where Go's linear-time ones do not.
    with pytest.raises(InvalidReference):
        refs.parse(text)
