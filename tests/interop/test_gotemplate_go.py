"""dockyard.compat.gotemplate against Go's own text/template (Debian golang-go 1.19) with docker/cli's
template functions: the same output byte for byte, the same accept/reject decision and the same error text,
over the handwritten corpus (tests/interop/gotemplate_corpus.py) and Hypothesis-generated templates.

The Go program (tests/interop/gotemplate/main.go, standard library only) is built once per session and
runs the whole corpus in one process.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fixtures_util import require_tool
from gotemplate_corpus import CASES, DATA, TEMPLATES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.compat.gotemplate import DOCKER_FUNCS, Template, TemplateError
from dockyard.compat.gotypes import decode_json

_SOURCE = Path(__file__).parent / "gotemplate" / "main.go"
Peer = Callable[..., list[dict[str, str]]]


@pytest.fixture(scope="session")
def go_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    go = require_tool("go")
    work = tmp_path_factory.mktemp("go")
    env = {
        **os.environ,
        "GOCACHE": str(work / "cache"),
        "GOPATH": str(work / "path"),
        "GO111MODULE": "off",
        "GOFLAGS": "",
        "CGO_ENABLED": "0",
    }
    binary = work / "gotemplate-peer"
    subprocess.run([go, "build", "-o", str(binary), str(_SOURCE)], check=True, env=env, cwd=work)

    def run(cases: list[tuple[str, Any]], option: str = "") -> list[dict[str, str]]:
        payload = json.dumps([{"template": t, "data": d, "option": option} for t, d in cases])
        done = subprocess.run([str(binary)], input=payload.encode(), capture_output=True, check=True)
        results: list[dict[str, str]] = json.loads(done.stdout)
        return results

    yield run


def python_side(template: str, data: Any, option: str = "") -> dict[str, str]:
    """The Python engine on the data as Go sees it (JSON decoded with UseNumber, ints kept)."""
    value = decode_json(json.dumps(data))
    try:
        tmpl = Template.parse(template, funcs=DOCKER_FUNCS)
        out = tmpl.execute(value, missing_key_error=option == "missingkey=error")
    except TemplateError as exc:
        return {"err": str(exc)}
    # The Go side's answer travels as JSON: invalid UTF-8 arrives as U+FFFD.
    return {"out": out.encode("utf-8", "surrogateescape").decode("utf-8", "replace")}


def _compare(peer: Peer, cases: list[tuple[str, Any]], option: str = "") -> list[str]:
    wanted = peer(cases, option)
    problems = []
    for (template, data), want in zip(cases, wanted, strict=True):
        got = python_side(template, data, option)
        if got != want:
            problems.append(f"{template!r} on {json.dumps(data)[:60]}: go {want!r}, python {got!r}")
    return problems


def test_corpus_matches_go(go_peer: Peer) -> None:
    cases = [(t, DATA) for t in TEMPLATES] + CASES
    assert len(cases) > 400
    problems = _compare(go_peer, cases)
    assert not problems, f"{len(problems)} of {len(cases)} differ:\n" + "\n".join(problems)


def test_corpus_with_missingkey_error_matches_go(go_peer: Peer) -> None:
    """Docker's inspect runs the raw document with ``Option("missingkey=error")``."""
    cases = [(t, DATA) for t in TEMPLATES] + CASES
    problems = _compare(go_peer, cases, "missingkey=error")
    assert not problems, f"{len(problems)} of {len(cases)} differ:\n" + "\n".join(problems)


def test_corpus_has_both_outcomes(go_peer: Peer) -> None:
    results = go_peer([(t, DATA) for t in TEMPLATES])
    errors = sum(1 for r in results if "err" in r)
    assert 100 < errors < len(results) - 200, "the corpus exercises both accepted and refused templates"


# --- Hypothesis: templates built from the grammar's pieces -------------------------------------------------

_FIELDS = [".Tag", ".Size", ".Ratio", ".Tags", ".Labels", ".Null", ".Missing", ".Nested.A", ".List", ".Empty", ".",
           "$", ".Zero", ".Mixed", ".Labels.version", ".Nums"]  # fmt: skip
_LITERALS = ['"x"', "1", "0", "-2", "1.5", "true", "false", "nil", "'a'", "`r`", '""', "1e3"]
_FUNCS = ["len", "index", "slice", "not", "and", "or", "eq", "ne", "lt", "le", "gt", "ge", "print", "println",
          "printf", "html", "js", "urlquery", "json", "join", "split", "title", "lower", "upper", "pad", "truncate",
          "call"]  # fmt: skip
_VERBS = ["%v", "%s", "%d", "%q", "%x", "%5.2f", "%-4s|", "%t", "%e", "%g", "%03d", "%c", "%+v", "%.1s", "%%", "%U",
          "%#v", "%T", "%[1]v", "%*d", "%.*s", "% x", "%#q", "%+q", "%X", "%08.3f", "%-8v|", "%.0f", "%!"]  # fmt: skip


@st.composite
def _operand(draw: st.DrawFn, depth: int = 0) -> str:
    choice = draw(st.integers(0, 5 if depth < 2 else 2))
    if choice <= 1:
        return draw(st.sampled_from(_FIELDS))
    if choice == 2:
        return draw(st.sampled_from(_LITERALS))
    if choice == 3:
        verb = draw(st.lists(st.sampled_from(_VERBS), min_size=1, max_size=3))
        return '"' + " ".join(verb) + '"'
    return "(" + draw(_command(depth + 1)) + ")"


@st.composite
def _command(draw: st.DrawFn, depth: int = 0) -> str:
    if draw(st.booleans()):
        return draw(_operand(depth))
    func = draw(st.sampled_from(_FUNCS))
    args = draw(st.lists(_operand(depth + 1), max_size=3))
    return " ".join([func, *args])


@st.composite
def _pipeline(draw: st.DrawFn) -> str:
    stages = [draw(_command())]
    for _ in range(draw(st.integers(0, 2))):
        stages.append(draw(st.sampled_from(_FUNCS)) + " " + " ".join(draw(st.lists(_operand(1), max_size=2))))
    return " | ".join(stages)


@st.composite
def _template(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.integers(0, 11 if depth < 2 else 1))
        left = draw(st.sampled_from(["{{", "{{- ", "{{ "]))
        right = draw(st.sampled_from(["}}", " -}}", " }}"]))
        if kind == 0:
            parts.append(draw(st.sampled_from(["a", " ", "\n", "x y", "\t"])))
        elif kind == 1:
            parts.append(left + draw(_pipeline()) + right)
        elif kind in (2, 3, 4):
            word = ["if", "with", "range"][kind - 2]
            body = draw(_template(depth + 1))
            other = "{{else}}" + draw(_template(depth + 1)) if draw(st.booleans()) else ""
            head = draw(st.sampled_from(["", "$v := ", "$k, $v := "])) if word == "range" else ""
            parts.append(f"{left}{word} {head}{draw(_pipeline())}{right}{body}{other}{{{{end}}}}")
        elif kind == 5:
            parts.append(f"{{{{$x := {draw(_pipeline())}}}}}{{{{$x}}}}")
        elif kind == 6:
            parts.append("{{/* c */}}")
        elif kind == 7:
            a, b = draw(_pipeline()), draw(_pipeline())
            parts.append(f"{{{{if {a}}}}}1{{{{else if {b}}}}}2{{{{else}}}}3{{{{end}}}}")
        elif kind == 8:
            stop = draw(st.sampled_from(["break", "continue"]))
            inner = draw(_template(depth + 1))
            cond = f"{{{{if {draw(_pipeline())}}}}}{{{{{stop}}}}}{{{{end}}}}"
            parts.append(f"{{{{range {draw(_pipeline())}}}}}{cond}{inner}{{{{end}}}}")
        elif kind == 9:
            parts.append(f"{{{{$y := 0}}}}{{{{$y = {draw(_pipeline())}}}}}{{{{$y}}}}")
        elif kind == 10:
            body = draw(_template(depth + 1))
            parts.append(f'{{{{define "T"}}}}{body}{{{{end}}}}{{{{template "T" {draw(_pipeline())}}}}}')
        else:
            body = draw(_template(depth + 1))
            parts.append(f'{{{{block "B" {draw(_pipeline())}}}}}{body}{{{{end}}}}')
    return "".join(parts)


_batch: list[str] = []


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)
@given(template=_template())
def _collect_generated(template: str) -> None:
    _batch.append(template)


def test_generated_templates_match_go(go_peer: Peer) -> None:
    """Hypothesis draws the templates; they run in one batch through the Go program."""
    _batch.clear()
    _collect_generated()
    assert len(_batch) >= 200
    problems = _compare(go_peer, [(t, DATA) for t in _batch])
    assert not problems, f"{len(problems)} of {len(_batch)} differ:\n" + "\n".join(problems[:40])


# --- Hypothesis: the corpus's templates and generated ones on generated data --------------------------------

_SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
_VALUE = st.recursive(
    _SCALAR, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3), max_leaves=6
)
_KEYS = ["Tag", "Size", "Ratio", "Tags", "Labels", "Null", "Nested", "List", "Empty", "Zero", "Mixed", "Nums", "Id"]
_pairs: list[tuple[str, Any]] = []


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)
@given(
    template=st.sampled_from(TEMPLATES) | _template(),
    data=st.fixed_dictionaries({}, optional=dict.fromkeys(_KEYS, _VALUE)),
)
def _collect_with_data(template: str, data: dict[str, Any]) -> None:
    _pairs.append((template, data))


def test_generated_data_match_go(go_peer: Peer) -> None:
    """Big and negative integers, floats of every magnitude, unicode text, nested lists and maps."""
    _pairs.clear()
    _collect_with_data()
    assert len(_pairs) >= 200
    problems = _compare(go_peer, _pairs)
    assert not problems, f"{len(problems)} of {len(_pairs)} differ:\n" + "\n".join(problems[:40])


# --- Hypothesis: token soup, for the lexer's and parser's accept/reject decisions and messages -------------

_PIECES = ["{{", "}}", "{{-", "-}}", " ", "\n", ".", "$", "x", ":=", "=", "|", "(", ")", '"', "`", "'", "1", "-",
           "+", "e", "i", "0x", ".Tag", "if", "end", "else", "range", "with", "define", "template", "block", "break",
           "continue", "nil", "true", "/*", "*/", "é", ",", "\\", "printf", "len", "#", "\t", "\r", "9", "_",
           "T"]  # fmt: skip
_soup: list[str] = []


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)
@given(pieces=st.lists(st.sampled_from(_PIECES), max_size=12), wrap=st.booleans())
def _collect_soup(pieces: list[str], wrap: bool) -> None:
    _soup.append(("{{" + "".join(pieces) + "}}") if wrap else "".join(pieces))


def test_token_soup_matches_go(go_peer: Peer) -> None:
    _soup.clear()
    _collect_soup()
    assert len(_soup) >= 300
    problems = _compare(go_peer, [(t, DATA) for t in _soup])
    assert not problems, f"{len(problems)} of {len(_soup)} differ:\n" + "\n".join(problems[:40])
