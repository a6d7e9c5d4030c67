"""The template engine on its own (the Go peer test compares it with Go at large): the behaviours issue 8
item 7 names, Docker's formatting contexts, and the data model."""

from __future__ import annotations

import pytest

from dockyard.compat.dockerformat import Format, inspect_format, render_rows
from dockyard.compat.gotemplate import DOCKER_FUNCS, Template, TemplateError
from dockyard.compat.gotypes import Struct, decode_json

ID = "sha256:4f2a5d1c9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1"


def run(text: str, data: object) -> str:
    return Template.parse(text, funcs=DOCKER_FUNCS).execute(data)


def test_printf_precision_cuts_a_string() -> None:
    assert run('{{printf "%.12s" .Id}}', {"Id": ID}) == "sha256:4f2a5"
    assert run('{{.Id | printf "%.19s"}}', {"Id": ID}) == "sha256:4f2a5d1c9e8b"


def test_eq_with_several_arguments() -> None:
    assert run('{{if eq .Tag "a" "b" "latest"}}yes{{else}}no{{end}}', {"Tag": "latest"}) == "yes"
    assert run('{{if eq .Tag "a" "b"}}yes{{else}}no{{end}}', {"Tag": "latest"}) == "no"


def test_with_sets_dot_and_has_else() -> None:
    assert run("{{with .Config}}{{.User}}{{else}}none{{end}}", {"Config": {"User": "root"}}) == "root"
    assert run("{{with .Config}}{{.User}}{{else}}none{{end}}", {"Config": {}}) == "none"


def test_range_with_key_and_value_variables() -> None:
    labels = {"b": "2", "a": "1"}
    assert run("{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}", {"Labels": labels}) == "a=1;b=2;"


def test_unclosed_action_is_a_parse_error() -> None:
    with pytest.raises(TemplateError, match=r"^template: :1: unclosed action$"):
        Template.parse("{{.Id")


def test_missing_map_key_and_missing_struct_field() -> None:
    assert run("{{.Nope}}", {"Id": "x"}) == "<no value>"
    row = Struct("*formatter.imageContext", {"ID": "abc"})
    assert run("{{.ID}}", row) == "abc"
    with pytest.raises(TemplateError) as info:
        run("{{.Nope}}", row)
    assert str(info.value) == (
        'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.imageContext'
    )


def test_numbers_stay_go_numbers() -> None:
    data = decode_json('{"Size": 120000000, "Ratio": 1.2e8, "Huge": 12345678901234567890}')
    assert run("{{.Size}} {{.Ratio}} {{.Huge}}", data) == "120000000 1.2e+08 1.2345678901234567e+19"


def test_docker_table_format_aligns_with_a_header() -> None:
    rows = [{"Repository": "debian", "Tag": "bookworm"}, {"Repository": "a", "Tag": "verylongtag"}]
    out = render_rows("table {{.Repository}}\\t{{.Tag}}", rows, {"Repository": "REPOSITORY", "Tag": "TAG"}, [], "x")
    assert out == "REPOSITORY   TAG\ndebian       bookworm\na            verylongtag\n"


def test_docker_json_format_sorts_and_escapes_a_context_but_not_a_field() -> None:
    rows = [{"Repository": "a<b", "Tag": "1"}]
    assert render_rows("json", rows, {}, [], "x") == '{"Repository":"a\\u003cb","Tag":"1"}\n'
    assert render_rows("{{json .Repository}}", rows, {}, [], "x") == '"a<b"\n'


def test_docker_format_errors_say_template_parsing_error() -> None:
    with pytest.raises(TemplateError, match=r"^template parsing error: template: :1: unclosed action$"):
        Format("{{.ID")


def test_inspect_lists_of_strings_are_go_string_slices() -> None:
    doc = {"RepoTags": ["a:1", "b:2"], "Size": 3, "Config": {"Env": ["A=1"]}}
    assert inspect_format('{{join .RepoTags ","}} {{.Size}} {{json .Config}}', [doc]) == 'a:1,b:2 3 {"Env":["A=1"]}\n'


def test_inspect_missing_key_is_an_error_as_in_dockers_raw_fallback() -> None:
    with pytest.raises(TemplateError) as info:
        inspect_format("{{.Nope}}", [{"Id": "x"}])
    assert str(info.value) == (
        'template parsing error: template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"'
    )


def test_inspect_null_lists_and_maps_are_typed_nils() -> None:
    doc = {"Config": {"Env": None, "Labels": None, "User": ""}}
    out = inspect_format("{{.Config.Env}} {{len .Config.Env}} {{json .Config.Env}} {{.Config.Labels}}", [doc])
    assert out == "[] 0 null map[]\n"


def test_table_header_keeps_what_was_written_before_an_error() -> None:
    rows = [{"A": "1", "B": "b"}]
    out = render_rows("table {{.B}}\\t{{index .A 0}}", rows, {"A": "", "B": "BB"}, [], "x")
    assert out == "BB        \nb         49\n"


def test_execution_errors_read_template_parsing_error_as_dockers() -> None:
    with pytest.raises(TemplateError, match=r"^template parsing error: template: :1:2: executing"):
        render_rows("{{.Nope}}", [{"A": "1"}], {}, [], "*formatter.imageContext")
