"""Go's encoding/json, time layouts and text/tabwriter as dockyard.compat has them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from dockyard.compat.gojson import compact as go_compact
from dockyard.compat.gojson import docker_json, float_text, marshal
from dockyard.compat.gojson import indent as go_indent
from dockyard.compat.gojson import marshal_ordered as go_marshal
from dockyard.compat.gotime import rfc3339, rfc3339_nano, time_string
from dockyard.compat.gotypes import Struct
from dockyard.compat.tabwriter import table, tabwrite

go_time = rfc3339_nano


def test_go_indent_keeps_tokens_and_empty_containers() -> None:
    src = b' {"a":[],"b":{},"c":[1,{"d":"x\\u003c, \\"y\\":"}],"e":null}\n'
    assert go_indent(src, b"\t") == (
        b'{\n\t"a": [],\n\t"b": {},\n\t"c": [\n\t\t1,\n\t\t{\n\t\t\t"d": "x\\u003c, \\"y\\":"\n\t\t}\n'
        b'\t],\n\t"e": null\n}\n'
    )


def test_go_indent_matches_python_for_plain_json() -> None:
    obj = {"schemaVersion": 2, "layers": [{"size": 1, "annotations": {"k": "v"}}], "x": []}
    assert go_indent(json.dumps(obj).encode(), b"   ") == json.dumps(obj, indent=3).encode()


def test_go_compact_and_marshal_escape_html() -> None:
    assert go_compact(b'{ "a" : "<b> & c",\n "d": [ 1, 2 ] }') == b'{"a":"\\u003cb\\u003e \\u0026 c","d":[1,2]}'
    assert go_marshal({"a": "é<"}, "  ") == '{\n  "a": "é\\u003c"\n}'


def test_go_time() -> None:
    assert go_time("2024-01-01T00:00:00.000000000Z") == "2024-01-01T00:00:00Z"
    assert go_time("2024-01-01T00:00:00.1234567891+00:00") == "2024-01-01T00:00:00.123456789Z"
    assert go_time("2024-01-01T10:00:00.50+02:00") == "2024-01-01T10:00:00.5+02:00"
    assert go_time("yesterday") == "yesterday"


def test_tabwrite_pads_blocks_like_go() -> None:
    assert tabwrite("Name:\ta\nMediaType:\tb\n") == "Name:      a\nMediaType: b\n"
    assert tabwrite("\t\nManifests:\t\n") == "           \nManifests: \n"
    # a line without a cell in the column ends the block
    assert tabwrite("a:\t1\nlonger line\nbbbbbb:\t2\n") == "a: 1\nlonger line\nbbbbbb: 2\n"


def test_table_is_gos_tabwriter() -> None:
    out = table([["REPOSITORY", "TAG", "IMAGE ID"], ["alpine", "latest", "abc"], ["a", "verylongtagname", "x"]])
    assert out.splitlines() == [
        "REPOSITORY   TAG               IMAGE ID",
        "alpine       latest            abc",
        "a            verylongtagname   x",
    ]
    # minimum cell width 10; an empty last cell leaves the padding of the cell before it
    assert table([["A", "B", ""]]) == "A         B         \n"


def test_floats_as_go_encodes_them() -> None:
    assert [float_text(x) for x in (1.0, 0.5, 1e20, 1e21, 1e-6, 1e-7, 123456789.0, -0.0, 1.5e300)] == [
        "1",
        "0.5",
        "100000000000000000000",
        "1e+21",
        "0.000001",
        "1e-7",
        "123456789",
        "-0",
        "1.5e+300",
    ]


def test_marshal_sorts_maps_but_keeps_struct_order() -> None:
    assert marshal({"b": 1, "a": [True, None]}) == '{"a":[true,null],"b":1}'
    assert marshal(Struct("T", {"b": 1, "a": 2})) == '{"b":1,"a":2}'
    assert docker_json("<&>") == '"<&>"' and docker_json(Struct("T", {"b": "<", "a": 1})) == '{"a":1,"b":"\\u003c"}'


def test_go_time_strings() -> None:
    when = datetime(2024, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    assert time_string(when) == "2024-01-02 03:04:05 +0000 UTC"
    assert time_string(None) == "0001-01-01 00:00:00 +0000 UTC"
    assert rfc3339(when) == "2024-01-02T03:04:05Z" and rfc3339(None) == "0001-01-01T00:00:00Z"


def test_docker_table_measures_display_columns_but_gos_tabwriter_runes() -> None:
    """docker/cli's tabwriter fork uses go-runewidth; buildx writes through Go's own text/tabwriter."""
    assert table([["日本", "x"], ["ab", "y"]]).splitlines() == ["日本      x", "ab        y"]
    assert tabwrite("日本\tx\nab\ty\n") == "日本 x\nab y\n"
