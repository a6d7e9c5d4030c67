"""The remote commands' Go-shaped values: buildx's image view, crane's server names, imagetools' index."""

from __future__ import annotations

import json

from dockyard.imagetools import combine, go_image, parse_source
from dockyard.oci import mediatype
from dockyard.oci.digest import Digest
from dockyard.oci.platform import Platform
from dockyard.remote_ops import server_host


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
