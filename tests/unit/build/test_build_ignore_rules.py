"""``.dockerignore`` rules: moby patternmatcher's cases, reading, and which ignore file applies."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.build.ignore import (
    BadPattern,
    IgnoreRules,
    go_clean,
    go_match,
    has_wildcards,
    ignore_file_for,
    read_patterns,
)
from dockyard.errors import DockerfileError, InvalidInput

# (pattern, path, matches) from moby/patternmatcher's TestMatches table
MATCHES = [
    ("**", "file", True),
    ("**", "file/", True),
    ("**/", "file", True),
    ("**/", "file/", True),
    ("**", "dir/file", True),
    ("**/", "dir/file", True),
    ("**", "dir/file/", True),
    ("**/", "dir/file/", True),
    ("**/**", "dir/file", True),
    ("**/**", "dir/file/", True),
    ("dir/**", "dir/file", True),
    ("dir/**", "dir/file/", True),
    ("dir/**", "dir/dir2/file", True),
    ("dir/**", "dir/dir2/file/", True),
    ("**/dir", "dir", True),
    ("**/dir", "dir/file", True),
    ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/*", "dir/dir2/file/", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file/", True),
    ("**file", "file", True),
    ("**file", "dir/file", True),
    ("**/file", "dir/file", True),
    ("**file", "dir/dir/file", True),
    ("**/file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True),
    ("**/file*txt", "dir/dir/file.txt", True),
    ("**/file*.txt", "dir/dir/file.txt", True),
    ("**/file*.txt*", "dir/dir/file.txt", True),
    ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True),
    ("**/**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/file.txt", True),
    ("a**/*.txt", "a/dir/file.txt", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt", "a/file.txt", True),
    ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False),
    ("a[b-d]e", "ace", True),
    ("a[b-d]e", "aae", False),
    ("a[^b-d]e", "aze", True),
    (".*", ".foo", True),
    (".*", "foo", False),
    ("abc.def", "abcdef", False),
    ("abc.def", "abc.def", True),
    ("abc.def", "abcZdef", False),
    ("abc?def", "abcZdef", True),
    ("abc?def", "abcdef", False),
    ("a\\\\", "a\\", True),
    ("**/foo/bar", "foo/bar", True),
    ("**/foo/bar", "dir/foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False),
    ("abc/**", "abc/def", True),
    ("abc/**", "abc/def/ghi", True),
    ("**/.foo", ".foo", True),
    ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True),
    ("a(b)c/def", "a(b)c/xyz", False),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
     True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
]


@pytest.mark.parametrize(("pattern", "path", "want"), MATCHES)
def test_patternmatcher_table(pattern: str, path: str, want: bool) -> None:
    assert IgnoreRules([pattern]).ignored(path) is want


def test_parent_directory_matches_and_exceptions() -> None:
    rules = IgnoreRules(["docs", "!docs/keep.md", "*.log", "!important.log", "**/tmp"])
    assert rules.ignored("docs")
    assert rules.ignored("docs/a/b.txt")
    assert not rules.ignored("docs/keep.md")
    assert rules.ignored("x.log")
    assert not rules.ignored("important.log")
    assert not rules.ignored("sub/x.log")  # "*" does not cross "/"
    assert rules.ignored("a/b/tmp/c")
    assert not rules.ignored("readme")
    assert not rules.ignored(".")
    assert rules.exclusions


def test_later_patterns_win() -> None:
    assert IgnoreRules(["!a", "a"]).ignored("a")
    assert not IgnoreRules(["a", "!a"]).ignored("a")
    assert IgnoreRules(["*", "!keep", "keep/secret"]).ignored("keep/secret/x")
    assert not IgnoreRules(["*", "!keep", "keep/secret"]).ignored("keep/other")


def test_read_patterns_normalises() -> None:
    text = "\ufeff# comment\n  /abs/path  \n./rel//x/../y\n!  /again\n\n   # not a comment\r\n*.md\r\n"
    assert read_patterns(text) == ["abs/path", "rel/y", "!again", "# not a comment", "*.md"]


def test_bad_patterns() -> None:
    with pytest.raises(DockerfileError) as e:
        read_patterns("ok\n[z-a]\n", "ctx/.dockerignore")
    assert e.value.line == 2 and e.value.path == "ctx/.dockerignore"
    with pytest.raises(InvalidInput, match="illegal exclusion pattern"):
        IgnoreRules(["!"])
    for bad in ("[", "[]", "a\\", "[-a]", "[a-]"):
        with pytest.raises(BadPattern):
            go_match(bad, "x")


def test_go_match() -> None:
    assert go_match("*.txt", "a.txt")
    assert not go_match("*.txt", "d/a.txt")
    assert go_match("a?c", "abc")
    assert go_match("[a-c]x", "bx")
    assert go_match("[^a-c]x", "dx")
    assert go_match("\\*", "*")
    assert not go_match("\\*", "a")
    assert go_match("[\\]]", "]")
    assert go_match("*", "")
    assert has_wildcards("a/*.txt") and has_wildcards("x[ab]") and not has_wildcards("a\\*b") and not has_wildcards("a")


def test_go_clean() -> None:
    assert go_clean("") == "."
    assert go_clean("a//b/./c/..") == "a/b"
    assert go_clean("../../x") == "../../x"
    assert go_clean("/../x") == "/x"
    assert go_clean("//a/") == "/a"


def test_ignore_file_for(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    (ctx / "sub").mkdir(parents=True)
    df = ctx / "sub" / "Dockerfile.dev"
    df.write_text("FROM x\n")
    assert ignore_file_for(ctx, df) is None
    (ctx / ".dockerignore").write_text("a\n")
    assert ignore_file_for(ctx, df) == ctx / ".dockerignore"
    (ctx / "sub" / "Dockerfile.dev.dockerignore").write_text("b\n")
    assert ignore_file_for(ctx, df) == ctx / "sub" / "Dockerfile.dev.dockerignore"
    assert ignore_file_for(ctx, None) == ctx / ".dockerignore"
