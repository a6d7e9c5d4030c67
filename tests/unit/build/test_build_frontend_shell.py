"""The shell-word lexer against BuildKit's own table (frontend/dockerfile/shell/envVarTest, wordsTest)."""

from __future__ import annotations

import pytest

from dockyard.build.dockerfile import expand, expand_with_matches, expand_words
from dockyard.errors import BuildError

ENV = {"PWD": "/home", "SHELL": "bash", "NULL": "", "FILE": "foo.tar.gz", "P": "a/b/c"}

CASES = [
    ("hello", "hello"),
    ("he'll'o", "hello"),
    ("he\\'llo", "he'llo"),
    ("abc\\tdef", "abctdef"),
    ('"abc\\tdef"', "abc\\tdef"),
    ('"abc\\\\tdef"', "abc\\tdef"),
    ("'abc\\tdef'", "abc\\tdef"),
    ("hello\\", "hello"),
    ("hello\\\\", "hello\\"),
    ('"hel\'lo"', "hel'lo"),
    ("'hello\\'", "hello\\"),
    ("'hello\\there'", "hello\\there"),
    ("'hello\\\\there'", "hello\\\\there"),
    ('"\'\'"', "''"),
    ("$.", "$."),
    ("he$1x", "hex"),
    ("he$.x", "he$.x"),
    ("he$pwd.", "he."),
    ("he$PWD", "he/home"),
    ("he\\$PWD", "he$PWD"),
    ("he\\\\$PWD", "he\\/home"),
    ('"he\\$PWD"', "he$PWD"),
    ('"he\\\\$PWD"', "he\\/home"),
    ("\\${}", "${}"),
    ("\\${}aaa", "${}aaa"),
    ("he\\${}", "he${}"),
    ("he${hi}", "he"),
    ("he${hi}xx", "hexx"),
    ("he${PWD}", "he/home"),
    ("he${XXX:-000}xx", "he000xx"),
    ("he${PWD:-000}xx", "he/homexx"),
    ("he${XXX:-$PWD}xx", "he/homexx"),
    ("he${XXX:-${PWD:-yyy}}xx", "he/homexx"),
    ("he${XXX:-${YYY:-yyy}}xx", "heyyyxx"),
    ("he${PWD?}", "he/home"),
    ("he${PWD:?}", "he/home"),
    ("he${NULL?}", "he"),
    ("he${NULL-x}", "he"),
    ("he${NULL:-x}", "hex"),
    ("he${XXX:+${PWD}}xx", "hexx"),
    ("he${PWD:+${XXX}}xx", "hexx"),
    ("he${PWD:+${SHELL}}xx", "hebashxx"),
    ("he${XXX:+000}xx", "hexx"),
    ("he${PWD:+000}xx", "he000xx"),
    ("he${NULL+000}xx", "he000xx"),
    ("he${NULL:+000}xx", "hexx"),
    ("'he${XX}'", "he${XX}"),
    ('"he${PWD}"', "he/home"),
    ('"he\'$PWD\'"', "he'/home'"),
    ('"$PWD"', "/home"),
    ("'$PWD'", "$PWD"),
    ("'\\$PWD'", "\\$PWD"),
    ("'\"hello\"'", '"hello"'),
    ("he${PWD:+${PWD}:}xx", "he/home:xx"),
    ("he${XXX:-\\$PWD:}xx", "he$PWD:xx"),
    ("he${XXX:-\\${PWD}z}xx", "he${PWDz}xx"),
    ("안'녕'하세요", "안녕하세요"),
    ("안녕\\'하세요", "안녕'하세요"),
    ("${FILE%.*}", "foo.tar"),
    ("${FILE%%.*}", "foo"),
    ("${FILE#*.}", "tar.gz"),
    ("${FILE##*.}", "gz"),
    ("${FILE#x}", "foo.tar.gz"),
    ("${P#*/}", "b/c"),
    ("${P##*/}", "c"),
    ("${P%/*}", "a/b"),
    ("${FILE/o/0}", "f0o.tar.gz"),
    ("${FILE//o/0}", "f00.tar.gz"),
    ("${FILE/.*/}", "foo"),
    ("${FILE/x/y}", "foo.tar.gz"),
    ("${P//\\//-}", "a-b-c"),
    ("${FILE%.\\*}", "foo.tar.gz"),
]


@pytest.mark.parametrize(("word", "want"), CASES)
def test_expand_matches_buildkit_table(word: str, want: str) -> None:
    assert expand(word, ENV) == want


ERRORS = [
    "he'llo",
    "he\\\\'llo",
    '"hello',
    '"hello\\"',
    "'hello",
    "${}",
    "${}aaa",
    "he${}",
    "he${.}",
    "he${XXX:YYY}",
    "he${XXX?}",
    "he${XXX:?}",
    "he${NULL:?}",
    "he${PWD",
    "he${PWD:=000}xx",
    "${FILE/a",
]


@pytest.mark.parametrize("word", ERRORS)
def test_expand_errors(word: str) -> None:
    with pytest.raises(BuildError, match="failed to process"):
        expand(word, ENV)


def test_expand_error_messages() -> None:
    with pytest.raises(BuildError, match="XXX: is not allowed to be unset"):
        expand("${XXX?}", ENV)
    with pytest.raises(BuildError, match="NULL: is not allowed to be empty"):
        expand("${NULL:?}", ENV)
    with pytest.raises(BuildError, match="XXX: need it"):
        expand("${XXX:?need it}", ENV)
    with pytest.raises(BuildError, match="bad substitution"):
        expand("${:}", ENV)
    with pytest.raises(BuildError, match="missing '}'"):
        expand("${PWD:-x", ENV)


WORDS = [
    ({}, "hello", ["hello"]),
    ({}, "hello${hi}bye", ["hellobye"]),
    ({"hi": "hi"}, "hello${hi}bye", ["hellohibye"]),
    ({"space": "abc  def"}, "hello${space}bye", ["helloabc", "defbye"]),
    ({"space": "abc  def"}, 'hello"${space}"bye', ["helloabc  defbye"]),
    ({"space": "abc  def"}, 'hello "${space}"bye', ["hello", "abc  defbye"]),
    ({"leading": "  ab c"}, "hello${leading}def", ["hello", "ab", "cdef"]),
    ({"leading": "  ab c"}, 'hello"${leading}" def', ["hello  ab c", "def"]),
    ({"leading": "  ab c"}, 'hello"${leading}"', ["hello  ab c"]),
    ({"leading": "  ab c"}, "hello${leading}", ["hello", "ab", "c"]),
    ({"trailing": "ab c  "}, "hello${trailing}", ["helloab", "c"]),
    ({"trailing": "ab c  "}, "hello${trailing}d", ["helloab", "c", "d"]),
    ({"trailing": "ab c  "}, 'hello"${trailing}"d', ["helloab c  d"]),
    ({}, "a 'b c' \"\" d", ["a", "b c", "d"]),
]


@pytest.mark.parametrize(("env", "word", "want"), WORDS)
def test_expand_words_matches_buildkit_table(env: dict[str, str], word: str, want: list[str]) -> None:
    assert expand_words(word, env) == want


def test_backtick_escape() -> None:
    assert expand("C:`$PWD`\\x", ENV, escape="`") == "C:$PWD\\x"
    assert expand('"a`"b"', ENV, escape="`") == 'a"b'


def test_matches_report_used_variables() -> None:
    value, used = expand_with_matches("$PWD ${XXX:-x} ${SHELL}", ENV)
    assert value == "/home x bash"
    assert used == {"PWD", "SHELL"}
