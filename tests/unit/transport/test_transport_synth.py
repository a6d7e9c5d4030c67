from __future__ import annotations

import json

import pytest

from dockyard.errors import InvalidManifest
from dockyard.image.synth import convert_layer, layer_media_type, synthesize_manifest
from dockyard.oci import mediatype
from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest

D1 = Digest.parse("sha256:" + "1" * 64)
D2 = Digest.parse("sha256:" + "2" * 64)


def _config() -> ImageConfig:
    return ImageConfig.build([D1, D2])


def test_docker_manifest() -> None:
    cfg = _config()
    descs = [
        Descriptor(mediatype.DOCKER_LAYER, D1, 100),
        Descriptor(mediatype.OCI_LAYER_GZIP, D2, 50),
    ]
    m = synthesize_manifest(cfg, descs)
    assert m.media_type == mediatype.DOCKER_MANIFEST
    assert m.config == Descriptor(mediatype.DOCKER_CONFIG, cfg.digest, len(cfg.raw))
    assert [d.media_type for d in m.layers] == [mediatype.DOCKER_LAYER, mediatype.DOCKER_LAYER_GZIP]
    assert [(d.digest, d.size) for d in m.layers] == [(D1, 100), (D2, 50)]
    obj = json.loads(m.raw)
    assert obj["schemaVersion"] == 2
    assert obj["mediaType"] == mediatype.DOCKER_MANIFEST
    # Deterministic: the same input gives the same bytes.
    assert synthesize_manifest(cfg, descs).raw == m.raw


def test_oci_manifest() -> None:
    cfg = _config()
    descs = [Descriptor(mediatype.DOCKER_LAYER_ZSTD, D1, 1), Descriptor(mediatype.DOCKER_LAYER, D2, 2)]
    m = synthesize_manifest(cfg, descs, mediatype.OCI_MANIFEST)
    assert m.config.media_type == mediatype.OCI_CONFIG
    assert [d.media_type for d in m.layers] == [mediatype.OCI_LAYER_ZSTD, mediatype.OCI_LAYER]


def test_count_must_match() -> None:
    with pytest.raises(InvalidManifest, match="1 layers given but the config's rootfs has 2 diff_ids"):
        synthesize_manifest(_config(), [Descriptor(mediatype.DOCKER_LAYER, D1, 1)])


def test_not_a_layer() -> None:
    with pytest.raises(InvalidManifest, match="not a layer media type"):
        layer_media_type("application/json", mediatype.OCI_MANIFEST)
    with pytest.raises(InvalidManifest, match="cannot synthesise"):
        layer_media_type(mediatype.OCI_LAYER, mediatype.OCI_INDEX)


def test_foreign_layers() -> None:
    assert layer_media_type(mediatype.DOCKER_LAYER_FOREIGN, mediatype.OCI_MANIFEST) == mediatype.OCI_LAYER_NONDIST_GZIP
    assert (
        layer_media_type(mediatype.OCI_LAYER_NONDIST_GZIP, mediatype.DOCKER_MANIFEST) == mediatype.DOCKER_LAYER_FOREIGN
    )
    with pytest.raises(InvalidManifest, match="non-distributable"):
        layer_media_type(mediatype.OCI_LAYER_NONDIST_ZSTD, mediatype.DOCKER_MANIFEST)
    d = Descriptor(mediatype.DOCKER_LAYER_FOREIGN, D1, 5, urls=("https://example.com/l",), annotations={"a": "b"})
    c = convert_layer(d, mediatype.OCI_MANIFEST)
    assert c.urls == d.urls
    assert c.annotations == {"a": "b"}
    assert c.media_type == mediatype.OCI_LAYER_NONDIST_GZIP
