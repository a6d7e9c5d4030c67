import json

import pytest

from dockyard.errors import InvalidManifest
from dockyard.oci import mediatype
from dockyard.oci.config import HistoryEntry, ImageConfig, chain_ids
from dockyard.oci.descriptor import Descriptor, descriptor_of
from dockyard.oci.digest import Digest
from dockyard.oci.index import Index, parse_any
from dockyard.oci.manifest import Manifest
from dockyard.oci.platform import Platform
from dockyard.oci.timefmt import parse_time

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def _manifest_obj(**over: object) -> dict[str, object]:
    obj: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": mediatype.OCI_MANIFEST,
        "config": {"mediaType": mediatype.OCI_CONFIG, "digest": D1, "size": 10},
        "layers": [{"mediaType": mediatype.OCI_LAYER_GZIP, "digest": D2, "size": 20}],
    }
    obj.update(over)
    return obj


def test_raw_bytes_are_the_truth() -> None:
    # Whitespace and key order are kept: the digest is of the bytes as read, never a re-serialisation.
    raw = json.dumps(_manifest_obj(), indent=7).encode()
    m = Manifest.parse(raw)
    assert m.raw == raw
    assert m.digest == Digest.of(raw)
    assert m.config.digest == Digest.parse(D1)
    assert [layer.size for layer in m.layers] == [20]


def test_umoci_manifest_without_media_type() -> None:
    obj = _manifest_obj()
    del obj["mediaType"]
    m = Manifest.parse(json.dumps(obj).encode())
    assert m.media_type == mediatype.OCI_MANIFEST


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"schemaVersion": 1}, "schema"),
        ({"config": None}, "config"),
        ({"config": {"mediaType": mediatype.OCI_CONFIG, "digest": "sha256:zz", "size": 1}}, "digest"),
        ({"config": {"mediaType": mediatype.OCI_CONFIG, "digest": D1, "size": -1}}, "size"),
        ({"config": {"mediaType": mediatype.OCI_CONFIG, "digest": D1, "size": "1"}}, "size"),
        ({"layers": "x"}, "layers"),
        ({"layers": [{"mediaType": mediatype.OCI_LAYER, "size": 1}]}, "digest"),
        ({"layers": [{"digest": D2, "size": 1}]}, "mediaType"),
        ({"mediaType": "text/plain"}, "mediaType"),
        ({"mediaType": mediatype.OCI_INDEX}, "index"),
    ],
)
def test_bad_manifests_name_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidManifest) as exc:
        Manifest.parse(json.dumps(_manifest_obj(**change)).encode())
    assert field in str(exc.value)


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b"\xff\xfe", b"null"])
def test_not_json(raw: bytes) -> None:
    with pytest.raises(InvalidManifest):
        Manifest.parse(raw)


def test_build_roundtrip() -> None:
    cfg = descriptor_of(b"{}", mediatype.DOCKER_CONFIG)
    layer = Descriptor(mediatype.DOCKER_LAYER_GZIP, Digest.parse(D2), 5)
    m = Manifest.build(cfg, [layer], mediatype.DOCKER_MANIFEST)
    again = Manifest.parse(m.raw, mediatype.DOCKER_MANIFEST)
    assert again == m and again.layers[0] == layer


def test_index_select_platform() -> None:
    amd = Descriptor(mediatype.OCI_MANIFEST, Digest.parse(D1), 1, platform=Platform("linux", "amd64"))
    arm = Descriptor(mediatype.OCI_MANIFEST, Digest.parse(D2), 1, platform=Platform("linux", "arm64", "v8"))
    idx = Index.build([amd, arm])
    assert idx.select(Platform.parse("linux/arm64")).digest == Digest.parse(D2)
    assert idx.select(Platform.parse("linux/amd64")).digest == Digest.parse(D1)
    with pytest.raises(InvalidManifest) as exc:
        idx.select(Platform.parse("linux/s390x"))
    assert "linux/amd64" in str(exc.value)
    assert isinstance(parse_any(idx.raw), Index)
    assert isinstance(parse_any(json.dumps(_manifest_obj()).encode()), Manifest)


def test_config_parse_and_chain_ids() -> None:
    d1, d2 = Digest.of(b"a"), Digest.of(b"b")
    cfg = ImageConfig.build(
        [d1, d2],
        platform=Platform("linux", "arm", "v7"),
        created="2024-05-06T07:08:09.123456789Z",
        history=[
            HistoryEntry(None, "ADD", "", "", False),
            HistoryEntry(None, "ENV", "", "", True),
            HistoryEntry(None, "RUN", "", "", False),
        ],
        config={"Env": ["A=1"]},
    )
    assert cfg.diff_ids == (d1, d2)
    assert cfg.platform == Platform("linux", "arm", "v7")
    assert cfg.container_config == {"Env": ["A=1"]}
    assert [h.empty_layer for h in cfg.history] == [False, True, False]
    when = cfg.created_at()
    assert when is not None and when.microsecond == 123456
    ids = chain_ids([d1, d2])
    assert ids[0] == d1
    assert ids[1] == Digest.of(f"{d1} {d2}".encode())


@pytest.mark.parametrize(
    "obj",
    [
        {"rootfs": {"type": "layers", "diff_ids": ["nope"]}},
        {"rootfs": {"type": "squash", "diff_ids": []}},
        {},
        {"rootfs": {"type": "layers", "diff_ids": []}, "history": [{"empty_layer": "yes"}]},
        {"rootfs": {"type": "layers", "diff_ids": []}, "created": "yesterday"},
        {"rootfs": {"type": "layers", "diff_ids": []}, "config": []},
    ],
)
def test_bad_configs(obj: dict[str, object]) -> None:
    with pytest.raises(InvalidManifest):
        ImageConfig.parse(json.dumps(obj).encode())


def test_parse_time() -> None:
    assert parse_time("2024-01-01T00:00:00Z") is not None
    assert parse_time("2024-01-01T00:00:00.5+02:00") is not None
    assert parse_time("garbage") is None
    assert parse_time(None) is None


def _index_of(*platforms: str) -> Index:
    descs = [
        Descriptor(mediatype.OCI_MANIFEST, Digest.of(p.encode()), 10, platform=Platform.parse(p)) for p in platforms
    ]
    return Index.build(descs)


def test_select_prefers_exact_variant_then_older_ones() -> None:
    idx = _index_of("linux/arm/v6", "linux/arm/v7", "linux/arm64")
    assert idx.select(Platform.parse("linux/arm/v7")).platform == Platform.parse("linux/arm/v7")
    assert idx.select(Platform.parse("linux/arm64/v8")).platform == Platform.parse("linux/arm64")
    only_v6 = _index_of("linux/arm/v6", "linux/amd64")
    assert only_v6.select(Platform.parse("linux/arm/v7")).platform == Platform.parse("linux/arm/v6")
    with pytest.raises(InvalidManifest, match="available: linux/arm/v7"):
        _index_of("linux/arm/v7").select(Platform.parse("linux/arm/v6"))  # never a newer variant
    with pytest.raises(InvalidManifest, match="available: linux/386"):
        _index_of("linux/386").select(Platform.parse("linux/amd64"))  # never another architecture
