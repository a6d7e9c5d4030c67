from __future__ import annotations

import gzip
import json
import os
import tarfile
from pathlib import Path

import pytest
from transport_helpers import build_image, read_layers, sha, tar_names

from dockyard.errors import DigestMismatch, InvalidArchive, InvalidManifest, SizeMismatch
from dockyard.image.base import BlobLayer, Image, StaticImage
from dockyard.image.synth import synthesize_manifest
from dockyard.oci import _json, mediatype
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.index import Index
from dockyard.oci.manifest import Manifest
from dockyard.oci.platform import Platform
from dockyard.transport import oci_layout

L1 = {"etc/hello": b"hello\n"}
L2 = {"etc/world": b"world\n"}
L3 = {"opt/three": b"3" * 5000}


def _same(a: Image, b: Image, *, converted: bool = False) -> None:
    if converted:  # a Docker manifest written as the equivalent OCI manifest
        assert a.manifest().media_type == mediatype.DOCKER_MANIFEST
        assert b.manifest().raw == synthesize_manifest(a.config(), a.manifest().layers, mediatype.OCI_MANIFEST).raw
        assert b.manifest().config.digest == a.manifest().config.digest
    else:
        assert b.manifest().raw == a.manifest().raw
        assert b.manifest().digest == a.manifest().digest
    assert b.config().raw == a.config().raw
    key = (lambda d: (d.digest, d.size)) if converted else (lambda d: d)
    assert [key(layer.descriptor()) for layer in b.layers()] == [key(layer.descriptor()) for layer in a.layers()]
    assert [layer.diff_id() for layer in b.layers()] == [layer.diff_id() for layer in a.layers()]
    assert read_layers(b) == read_layers(a)


@pytest.mark.parametrize("as_tar", [False, True])
def test_round_trip(tmp_path: Path, as_tar: bool) -> None:
    a = build_image([L1, L2])
    b = build_image([L1, L3], manifest_type=mediatype.DOCKER_MANIFEST)
    out = tmp_path / ("l.tar" if as_tar else "l")
    oci_layout.write([(a.image, ["alpine:3.19", "ghcr.io/o/r:v1"]), (b.image, [])], out, as_tar=as_tar)
    entries = oci_layout.read(out)
    assert [(e.name, e.ref_name, e.index_digest) for e in entries] == [
        ("docker.io/library/alpine:3.19", "3.19", None),
        ("ghcr.io/o/r:v1", "v1", None),
        (None, None, None),
    ]
    _same(a.image, entries[0].image)
    _same(a.image, entries[1].image)
    _same(b.image, entries[2].image, converted=True)
    assert entries[2].image.manifest().media_type == mediatype.OCI_MANIFEST
    assert [d.media_type for d in entries[2].image.manifest().layers] == [mediatype.OCI_LAYER_GZIP] * 2
    # Blobs stay as they were: compressed layers read back compressed.
    assert read_layers(entries[0].image) == a.blobs


def test_docker_manifest_kept_on_request(tmp_path: Path) -> None:
    b = build_image([L1, L3], manifest_type=mediatype.DOCKER_MANIFEST)
    oci_layout.write([(b.image, ["x:1"])], tmp_path / "l", as_tar=False, keep_docker_manifests=True)
    (entry,) = oci_layout.read(tmp_path / "l")
    _same(b.image, entry.image)
    assert entry.image.manifest().media_type == mediatype.DOCKER_MANIFEST
    index = json.loads((tmp_path / "l" / "index.json").read_text())
    assert index["manifests"][0]["mediaType"] == mediatype.DOCKER_MANIFEST


def test_written_directory(tmp_path: Path) -> None:
    a = build_image([L1, L2], platform=Platform("linux", "arm", "v7"))
    b = build_image([L1, L3])
    out = tmp_path / "l"
    oci_layout.write([(a.image, ["x"]), (b.image, ["x:2"])], out, as_tar=False)
    assert json.loads((out / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((out / "index.json").read_text())
    assert index["schemaVersion"] == 2
    assert index["mediaType"] == mediatype.OCI_INDEX
    first = index["manifests"][0]
    assert first["digest"] == str(a.image.manifest().digest)
    assert first["platform"] == {"architecture": "arm", "os": "linux", "variant": "v7"}
    assert first["annotations"] == {
        "io.containerd.image.name": "docker.io/library/x:latest",
        "org.opencontainers.image.ref.name": "latest",
    }
    blobs = sorted(p.name for p in (out / "blobs" / "sha256").iterdir())
    expected = {sha(blob).hex for blob in (*a.blobs, *b.blobs)}
    expected |= {img.manifest().digest.hex for img in (a.image, b.image)}
    expected |= {img.config().digest.hex for img in (a.image, b.image)}
    assert blobs == sorted(expected)  # the shared layer once, no temporary files left
    for hexdigest in blobs:
        assert Digest.of((out / "blobs" / "sha256" / hexdigest).read_bytes()).hex == hexdigest


def test_tar_is_deterministic(tmp_path: Path) -> None:
    a = build_image([L1, L2])
    oci_layout.write([(a.image, ["x:1"])], tmp_path / "1.tar", as_tar=True)
    oci_layout.write([(a.image, ["x:1"])], tmp_path / "2.tar", as_tar=True)
    assert (tmp_path / "1.tar").read_bytes() == (tmp_path / "2.tar").read_bytes()
    names = tar_names(tmp_path / "1.tar")
    assert names[:2] == ["blobs", "blobs/sha256"]
    assert names[-2:] == ["index.json", "oci-layout"]
    assert names[2:-2] == sorted(names[2:-2])
    with tarfile.open(tmp_path / "1.tar") as tar:
        assert {(i.mtime, i.uid, i.gid) for i in tar} == {(0, 0, 0)}


def test_read_compressed_tar(tmp_path: Path) -> None:
    a = build_image([L1])
    oci_layout.write([(a.image, ["x:1"])], tmp_path / "l.tar", as_tar=True)
    (tmp_path / "l.tgz").write_bytes(gzip.compress((tmp_path / "l.tar").read_bytes()))
    (entry,) = oci_layout.read(tmp_path / "l.tgz")
    _same(a.image, entry.image)


def test_write_into_non_empty_directory_refused(tmp_path: Path) -> None:
    a = build_image([L1])
    (tmp_path / "l").mkdir()
    (tmp_path / "l" / "x").write_text("x")
    with pytest.raises(InvalidArchive, match="not empty"):
        oci_layout.write([(a.image, ["x:1"])], tmp_path / "l", as_tar=False)
    (tmp_path / "empty").mkdir()
    oci_layout.write([(a.image, ["x:1"])], tmp_path / "empty", as_tar=False)
    assert oci_layout.read(tmp_path / "empty")[0].ref_name == "1"


@pytest.mark.parametrize("as_tar", [False, True])
def test_write_verifies_layer_digests(tmp_path: Path, as_tar: bool) -> None:
    a = build_image([L1])
    layer = a.image.layers()[0]
    assert isinstance(layer, BlobLayer)
    bad = b"x" * layer.desc.size
    wrong = BlobLayer(layer.desc, layer.diff_id(), lambda: __import__("io").BytesIO(bad))
    image = StaticImage(a.image.manifest(), a.image.config(), (wrong,))
    with pytest.raises(DigestMismatch):
        oci_layout.write([(image, ["x:1"])], tmp_path / "out", as_tar=as_tar)
    assert not (tmp_path / "out").exists()  # nothing half-written left behind
    if not as_tar:
        (tmp_path / "out").mkdir()
        with pytest.raises(DigestMismatch):
            oci_layout.write([(image, ["x:1"])], tmp_path / "out", as_tar=False)
        assert list((tmp_path / "out").iterdir()) == []  # an empty directory given stays empty


def test_write_verifies_layer_size(tmp_path: Path) -> None:
    a = build_image([L1])
    layer = a.image.layers()[0]
    assert isinstance(layer, BlobLayer)
    blob = a.blobs[0] + b"extra"
    wrong = BlobLayer(layer.desc, layer.diff_id(), lambda: __import__("io").BytesIO(blob))
    image = StaticImage(a.image.manifest(), a.image.config(), (wrong,))
    with pytest.raises(SizeMismatch):
        oci_layout.write([(image, ["x:1"])], tmp_path / "out.tar", as_tar=True)
    with pytest.raises(SizeMismatch):
        oci_layout.write([(image, ["x:1"])], tmp_path / "out", as_tar=False)


# --------------------------------------------------------------------------- umoci / foreign shapes


def _layout(tmp_path: Path, images: list[Image], name: str = "l") -> Path:
    out = tmp_path / name
    oci_layout.write([(img, [f"img:t{i}"]) for i, img in enumerate(images)], out, as_tar=False)
    return out


def _put(layout: Path, data: bytes) -> Digest:
    d = Digest.of(data)
    (layout / "blobs" / "sha256" / d.hex).write_bytes(data)
    return d


def _set_index(layout: Path, descs: list[dict[str, object]]) -> None:
    (layout / "index.json").write_bytes(_json.dumps({"schemaVersion": 2, "manifests": descs}))


def test_umoci_manifest_without_media_type(tmp_path: Path) -> None:
    a = build_image([L1])
    layout = _layout(tmp_path, [a.image])
    obj = json.loads(a.image.manifest().raw)
    del obj["mediaType"]
    raw = json.dumps(obj, indent=2).encode()
    d = _put(layout, raw)
    _set_index(
        layout,
        [
            {
                "mediaType": mediatype.OCI_MANIFEST,
                "digest": str(d),
                "size": len(raw),
                "annotations": {"org.opencontainers.image.ref.name": "bookworm"},
            }
        ],
    )
    (entry,) = oci_layout.read(layout)
    assert entry.ref_name == "bookworm"
    assert entry.name is None
    assert entry.image.manifest().raw == raw
    assert entry.image.manifest().media_type == mediatype.OCI_MANIFEST
    assert read_layers(entry.image) == a.blobs


def _two_arch(tmp_path: Path, index_type: str = mediatype.OCI_INDEX) -> tuple[Path, Image, Image, Digest]:
    amd = build_image([L1], platform=Platform("linux", "amd64"))
    arm = build_image([L2], platform=Platform("linux", "arm64", "v8"))
    layout = _layout(tmp_path, [amd.image, arm.image])
    children = [
        Descriptor(
            img.manifest().media_type, img.manifest().digest, img.manifest().size, platform=img.config().platform
        )
        for img in (amd.image, arm.image)
    ]
    index = Index.build(children, index_type)
    d = _put(layout, index.raw)
    _set_index(
        layout,
        [
            {
                "mediaType": index_type,
                "digest": str(d),
                "size": index.size,
                "annotations": {
                    "io.containerd.image.name": "docker.io/library/multi:1",
                    "org.opencontainers.image.ref.name": "1",
                },
            }
        ],
    )
    return layout, amd.image, arm.image, d


@pytest.mark.parametrize("index_type", [mediatype.OCI_INDEX, mediatype.DOCKER_MANIFEST_LIST])
def test_index_selects_platform(tmp_path: Path, index_type: str) -> None:
    layout, amd, arm, index_digest = _two_arch(tmp_path, index_type)
    (e,) = oci_layout.read(layout, platform=Platform.parse("linux/arm64"))
    assert e.image.manifest().digest == arm.manifest().digest
    assert e.index_digest == index_digest
    assert (e.name, e.ref_name) == ("docker.io/library/multi:1", "1")
    (e,) = oci_layout.read(layout, platform=Platform.parse("linux/amd64"))
    assert e.image.manifest().digest == amd.manifest().digest
    assert read_layers(e.image) == read_layers(amd)


def test_index_default_platform_is_host(tmp_path: Path) -> None:
    layout, amd, arm, _ = _two_arch(tmp_path)
    host = Platform.host()
    if host.matches(Platform("linux", "amd64")):
        want = amd
    elif host.matches(Platform("linux", "arm64", "v8")):
        want = arm
    else:
        pytest.skip(f"host platform {host} is neither amd64 nor arm64")
    (e,) = oci_layout.read(layout)
    assert e.image.manifest().digest == want.manifest().digest


def test_index_without_matching_platform(tmp_path: Path) -> None:
    layout, *_ = _two_arch(tmp_path)
    with pytest.raises(InvalidManifest, match="s390x") as exc:
        oci_layout.read(layout, platform=Platform.parse("linux/s390x"))
    assert "linux/amd64" in str(exc.value)
    assert "linux/arm64" in str(exc.value)


def test_nested_index(tmp_path: Path) -> None:
    layout, _amd, arm, inner = _two_arch(tmp_path)
    index_json = json.loads((layout / "index.json").read_text())
    inner_desc = index_json["manifests"][0]
    outer = Index.build([Descriptor.from_json(inner_desc)])
    d = _put(layout, outer.raw)
    _set_index(layout, [{"mediaType": mediatype.OCI_INDEX, "digest": str(d), "size": outer.size}])
    (e,) = oci_layout.read(layout, platform=Platform.parse("linux/arm64/v8"))
    assert e.image.manifest().digest == arm.manifest().digest
    assert e.index_digest == d
    assert inner != d


def test_artifacts_are_skipped(tmp_path: Path) -> None:
    a = build_image([L1])
    layout = _layout(tmp_path, [a.image])
    index_json = json.loads((layout / "index.json").read_text())
    empty = _put(layout, b"{}")
    art = Manifest.build(Descriptor("application/vnd.example.thing", empty, 2), [], mediatype.OCI_MANIFEST)
    d = _put(layout, art.raw)
    index_json["manifests"].append({"mediaType": mediatype.OCI_MANIFEST, "digest": str(d), "size": art.size})
    index_json["manifests"].append({"mediaType": "application/x-other", "digest": str(d), "size": art.size})
    (layout / "index.json").write_text(json.dumps(index_json))
    (entry,) = oci_layout.read(layout)
    assert entry.ref_name == "t0"
    index_json["manifests"] = index_json["manifests"][1:]
    (layout / "index.json").write_text(json.dumps(index_json))
    with pytest.raises(InvalidArchive, match="holds no images"):
        oci_layout.read(layout)


# --------------------------------------------------------------------------- bad input


def test_missing_oci_layout_file(tmp_path: Path) -> None:
    layout = _layout(tmp_path, [build_image([L1]).image])
    (layout / "oci-layout").unlink()
    with pytest.raises(InvalidArchive, match="oci-layout file is missing"):
        oci_layout.read(layout)


@pytest.mark.parametrize(
    "content", [b'{"imageLayoutVersion":"2.0.0"}', b"{}", b"[]", b"nope", b'{"imageLayoutVersion":1}']
)
def test_bad_oci_layout_file(tmp_path: Path, content: bytes) -> None:
    layout = _layout(tmp_path, [build_image([L1]).image])
    (layout / "oci-layout").write_bytes(content)
    with pytest.raises(InvalidArchive, match="oci-layout"):
        oci_layout.read(layout)


@pytest.mark.parametrize("content", [None, b"{", b'{"schemaVersion":2}', b'{"schemaVersion":2,"manifests":[{}]}'])
def test_bad_index_json(tmp_path: Path, content: bytes | None) -> None:
    layout = _layout(tmp_path, [build_image([L1]).image])
    if content is None:
        (layout / "index.json").unlink()
    else:
        (layout / "index.json").write_bytes(content)
    with pytest.raises(InvalidArchive, match=r"index\.json"):
        oci_layout.read(layout)


def test_tampered_manifest_and_config(tmp_path: Path) -> None:
    a = build_image([L1])
    layout = _layout(tmp_path, [a.image])
    mpath = layout / "blobs" / "sha256" / a.image.manifest().digest.hex
    mpath.write_bytes(a.image.manifest().raw.replace(b'"schemaVersion":2', b'"schemaVersion":3'))
    with pytest.raises(DigestMismatch, match="manifest"):
        oci_layout.read(layout)
    mpath.write_bytes(a.image.manifest().raw)
    cpath = layout / "blobs" / "sha256" / a.image.config().digest.hex
    cpath.write_bytes(a.image.config().raw.replace(b"amd64", b"arm64"))
    with pytest.raises(DigestMismatch, match="config"):
        oci_layout.read(layout)
    cpath.write_bytes(a.image.config().raw + b" ")
    with pytest.raises(SizeMismatch, match="config"):
        oci_layout.read(layout)


def test_missing_blobs(tmp_path: Path) -> None:
    a = build_image([L1])
    layout = _layout(tmp_path, [a.image])
    layer_path = layout / "blobs" / "sha256" / sha(a.blobs[0]).hex
    layer_path.unlink()
    with pytest.raises(InvalidArchive, match=f"layer blob blobs/sha256/{sha(a.blobs[0]).hex} is missing"):
        oci_layout.read(layout)
    (layout / "blobs" / "sha256" / a.image.config().digest.hex).unlink()
    with pytest.raises(InvalidArchive, match=r"config blobs/sha256/.* is missing"):
        oci_layout.read(layout)


def test_truncated_layer_blob(tmp_path: Path) -> None:
    a = build_image([L1])
    layout = _layout(tmp_path, [a.image])
    layer_path = layout / "blobs" / "sha256" / sha(a.blobs[0]).hex
    layer_path.write_bytes(a.blobs[0][:-3])
    with pytest.raises(SizeMismatch, match="layer"):
        oci_layout.read(layout)


def test_tampered_layer_is_exposed_by_its_digest(tmp_path: Path) -> None:
    a = build_image([L1])
    layout = _layout(tmp_path, [a.image])
    layer_path = layout / "blobs" / "sha256" / sha(a.blobs[0]).hex
    evil = bytearray(a.blobs[0])
    evil[-8] ^= 0xFF  # the gzip trailer's CRC: same size, different bytes
    layer_path.write_bytes(bytes(evil))
    (entry,) = oci_layout.read(layout)  # layers are not hashed on read
    (layer,) = entry.image.layers()
    assert layer.descriptor().digest == sha(a.blobs[0])
    with layer.open() as f:
        assert sha(f.read()) != layer.descriptor().digest


def test_layer_count_mismatch(tmp_path: Path) -> None:
    a = build_image([L1, L2])
    layout = _layout(tmp_path, [a.image])
    m = a.image.manifest()
    short = Manifest.build(m.config, m.layers[:1], m.media_type)
    d = _put(layout, short.raw)
    _set_index(layout, [{"mediaType": m.media_type, "digest": str(d), "size": short.size}])
    with pytest.raises(InvalidManifest, match="1 layers but the config's rootfs has 2 diff_ids"):
        oci_layout.read(layout)


def test_blob_path_symlink_out_of_layout(tmp_path: Path) -> None:
    a = build_image([L1])
    layout = _layout(tmp_path, [a.image])
    layer_path = layout / "blobs" / "sha256" / sha(a.blobs[0]).hex
    outside = tmp_path / "outside"
    outside.write_bytes(a.blobs[0])
    layer_path.unlink()
    os.symlink(outside, layer_path)
    with pytest.raises(InvalidArchive, match="leads out of the archive"):
        oci_layout.read(layout)


def test_non_layer_in_layers(tmp_path: Path) -> None:
    a = build_image([L1])
    layout = _layout(tmp_path, [a.image])
    m = a.image.manifest()
    odd = Manifest.build(m.config, [*m.layers, Descriptor("application/json", sha(b"{}"), 2)], m.media_type)
    d = _put(layout, odd.raw)
    _set_index(layout, [{"mediaType": m.media_type, "digest": str(d), "size": odd.size}])
    with pytest.raises(InvalidManifest, match=r"layers\[1\] has media type 'application/json', not a layer"):
        oci_layout.read(layout)


def test_arm_v7_takes_the_v6_child(tmp_path: Path) -> None:
    """The one platform rule (as a registry pull does): linux/arm/v7 runs linux/arm/v6, never another architecture."""
    v6 = build_image([L1], platform=Platform("linux", "arm", "v6"))
    amd = build_image([L2], platform=Platform("linux", "amd64"))
    layout = _layout(tmp_path, [v6.image, amd.image])
    children = [
        Descriptor(i.manifest().media_type, i.manifest().digest, i.manifest().size, platform=i.config().platform)
        for i in (amd.image, v6.image)
    ]
    index = Index.build(children)
    d = _put(layout, index.raw)
    _set_index(layout, [{"mediaType": mediatype.OCI_INDEX, "digest": str(d), "size": index.size}])
    (e,) = oci_layout.read(layout, platform=Platform.parse("linux/arm/v7"))
    assert e.image.manifest().digest == v6.image.manifest().digest
    with pytest.raises(InvalidManifest, match="linux/arm/v6"):
        oci_layout.read(layout, platform=Platform.parse("linux/arm64"))
