"""The pieces of Go's encoding/json and text/tabwriter that the remote commands' outputs depend on."""

from __future__ import annotations

import json

from dockyard.compat.gojson import compact as go_compact
from dockyard.compat.gojson import indent as go_indent
from dockyard.compat.gojson import marshal_ordered as go_marshal
from dockyard.compat.gotime import rfc3339_nano as go_time
from dockyard.compat.tabwriter import tabwrite
from dockyard.imagetools import combine, go_image, parse_source
from dockyard.oci import mediatype
from dockyard.oci.digest import Digest
from dockyard.oci.platform import Platform
from dockyard.remote_ops import server_host


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


def test_go_image_order_and_dropped_fields() -> None:
    config = {
        "os": "linux",
        "architecture": "amd64",
        "container_config": {"Hostname": "x"},
        "config": {"Labels": {"b": "2", "a": "1"}, "Env": ["A=1"], "Hostname": "h", "ExposedPorts": {"80/tcp": {}}},
        "rootfs": {"diff_ids": ["sha256:" + "0" * 64], "type": "layers"},
        "created": "2024-01-01T00:00:00.000Z",
        "history": [{"created_by": "x", "empty_layer": True}],
    }
    out = go_image(config)
    assert list(out) == ["created", "architecture", "os", "config", "rootfs", "history"]
    assert out["created"] == "2024-01-01T00:00:00Z"
    assert list(out["config"]) == ["ExposedPorts", "Env", "Labels"] and list(out["config"]["Labels"]) == ["a", "b"]
    assert list(out["rootfs"]) == ["type", "diff_ids"]


def test_tabwrite_pads_blocks_like_go() -> None:
    assert tabwrite("Name:\ta\nMediaType:\tb\n") == "Name:      a\nMediaType: b\n"
    assert tabwrite("\t\nManifests:\t\n") == "           \nManifests: \n"
    # a line without a cell in the column ends the block
    assert tabwrite("a:\t1\nlonger line\nbbbbbb:\t2\n") == "a: 1\nlonger line\nbbbbbb: 2\n"


def test_server_host() -> None:
    assert server_host(None) == "docker.io"
    assert server_host("https://index.docker.io/v1/") == "docker.io"
    assert server_host("http://127.0.0.1:5000/v2/") == "127.0.0.1:5000"


def test_combine_dedupes_and_picks_the_list_type() -> None:
    a, b = Digest.of(b"a"), Digest.of(b"b")
    s1 = parse_source(json.dumps({"mediaType": mediatype.DOCKER_MANIFEST, "digest": str(a), "size": 1}))
    s2 = parse_source(json.dumps({"mediaType": mediatype.DOCKER_MANIFEST, "digest": str(b), "size": 1}))
    s3 = parse_source(str(a))
    s3.media_type, s3.size, s3.platform = mediatype.DOCKER_MANIFEST, 1, Platform("linux", "arm64")
    raw, desc = combine([s1, s2, s3])
    doc = json.loads(raw)
    assert desc.media_type == doc["mediaType"] == mediatype.DOCKER_MANIFEST_LIST
    assert [m["digest"] for m in doc["manifests"]] == [str(a), str(b)]
    assert doc["manifests"][0]["platform"] == {"architecture": "arm64", "os": "linux"}
    assert raw.startswith(b'{\n  "schemaVersion": 2,') and desc.digest == Digest.of(raw)
