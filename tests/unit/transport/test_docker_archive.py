from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from transport_helpers import (
    build_image,
    gz,
    layer_tar,
    read_layers,
    sha,
    tar_names,
    tar_read,
    write_docker_archive,
)

from dockyard.errors import DigestMismatch, InvalidArchive, InvalidReference, SizeMismatch
from dockyard.image.base import BlobLayer, StaticImage
from dockyard.layers.digesting import copy_and_digest
from dockyard.oci import mediatype
from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Manifest
from dockyard.oci.platform import Platform
from dockyard.transport import docker_archive

L1 = {"etc/hello": b"hello\n"}
L2 = {"etc/world": b"world\n", "usr/bin/tool": b"#!/bin/sh\necho hi\n"}
L3 = {"opt/three": b"3" * 5000}


def _check_same(original: StaticImage, read: StaticImage | object, tars: list[bytes]) -> None:
    from dockyard.image.base import Image

    assert isinstance(read, Image)
    assert read.config().raw == original.config().raw
    assert read.config().digest == original.config().digest
    assert read.manifest().config.digest == original.config().digest
    assert [layer.diff_id() for layer in read.layers()] == list(original.config().diff_ids)
    assert read_layers(read) == tars


# --------------------------------------------------------------------------- round trips


def test_round_trip(tmp_path: Path) -> None:
    a = build_image([L1, L2])
    b = build_image([L1, L3], config={"Cmd": ["b"]})
    out = tmp_path / "out.tar"
    docker_archive.write([(a.image, ["alpine:3.19", "docker.io/library/alpine:latest"]), (b.image, ["b"])], out)

    entries = docker_archive.read(out)
    assert [e.repo_tags for e in entries] == [["alpine:3.19", "alpine:latest"], ["b:latest"]]
    _check_same(a.image, entries[0].image, a.tars)
    _check_same(b.image, entries[1].image, b.tars)

    m = entries[0].image.manifest()
    assert m.media_type == mediatype.DOCKER_MANIFEST
    assert m.config.media_type == mediatype.DOCKER_CONFIG
    assert m.config.size == len(a.image.config().raw)
    for layer, tar in zip(entries[0].image.layers(), a.tars, strict=True):
        desc = layer.descriptor()
        assert desc.media_type == mediatype.DOCKER_LAYER
        assert desc.digest == sha(tar) == layer.diff_id()
        assert desc.size == len(tar)
        assert isinstance(layer, BlobLayer) and layer.uncompressed_size() == len(tar)
    assert list(m.layers) == [layer.descriptor() for layer in entries[0].image.layers()]


def test_written_layout(tmp_path: Path) -> None:
    a = build_image([L1, L2])
    b = build_image([L1, L3], config={"Cmd": ["b"]})
    out = tmp_path / "out.tar"
    docker_archive.write([(a.image, ["debian:bookworm"]), (b.image, ["quay.io/x/y:1"])], out)
    names = tar_names(out)
    # Every blob once (L1 is shared), directories first, metadata files at the end.
    assert len(names) == len(set(names))
    assert names[:2] == ["blobs", "blobs/sha256"]
    assert names[-4:] == ["index.json", "manifest.json", "oci-layout", "repositories"]
    layer_blobs = {f"blobs/sha256/{sha(t).hex}" for t in (*a.tars, *b.tars)}
    assert layer_blobs <= set(names)
    assert len(layer_blobs) == 3
    with tarfile.open(out) as tar:
        for info in tar:
            assert (info.mtime, info.uid, info.gid, info.uname, info.gname) == (0, 0, 0, "", "")

    manifest = json.loads(tar_read(out, "manifest.json"))
    assert manifest[0] == {
        "Config": f"blobs/sha256/{a.image.config().digest.hex}",
        "RepoTags": ["debian:bookworm"],
        "Layers": [f"blobs/sha256/{sha(t).hex}" for t in a.tars],
    }
    assert manifest[1]["RepoTags"] == ["quay.io/x/y:1"]
    assert json.loads(tar_read(out, "repositories")) == {
        "debian": {"bookworm": sha(a.tars[-1]).hex},
        "quay.io/x/y": {"1": sha(b.tars[-1]).hex},
    }
    assert json.loads(tar_read(out, "oci-layout")) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(tar_read(out, "index.json"))
    ann = [d["annotations"] for d in index["manifests"]]
    assert ann == [
        {
            "io.containerd.image.name": "docker.io/library/debian:bookworm",
            "org.opencontainers.image.ref.name": "bookworm",
        },
        {"io.containerd.image.name": "quay.io/x/y:1", "org.opencontainers.image.ref.name": "1"},
    ]
    # The OCI manifest in the archive describes the uncompressed layers.
    desc = index["manifests"][0]
    m = Manifest.parse(tar_read(out, f"blobs/sha256/{desc['digest'][7:]}"))
    assert m.media_type == mediatype.OCI_MANIFEST
    assert [d.digest for d in m.layers] == [sha(t) for t in a.tars]
    assert {d.media_type for d in m.layers} == {mediatype.OCI_LAYER}
    assert desc["platform"] == {"architecture": "amd64", "os": "linux"}


def test_output_is_deterministic_and_streamable(tmp_path: Path) -> None:
    a = build_image([L1, L2])
    first = tmp_path / "1.tar"
    docker_archive.write([(a.image, ["x:1"])], first)

    class Pipe(io.RawIOBase):  # write-only, not seekable, like stdout to a pipe
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b: object) -> int:
            view = memoryview(b)  # type: ignore[arg-type]
            self.data += view
            return view.nbytes

    pipe = Pipe()
    docker_archive.write([(a.image, ["x:1"])], pipe)  # type: ignore[arg-type]
    assert bytes(pipe.data) == first.read_bytes()


def test_same_image_twice_is_one_entry(tmp_path: Path) -> None:
    a = build_image([L1])
    out = tmp_path / "o.tar"
    docker_archive.write([(a.image, ["x:1"]), (a.image, ["x:2", "x:1"])], out)
    entries = docker_archive.read(out)
    assert len(entries) == 1
    assert entries[0].repo_tags == ["x:1", "x:2"]


def test_untagged_image(tmp_path: Path) -> None:
    a = build_image([L1])
    out = tmp_path / "o.tar"
    docker_archive.write([(a.image, [])], out)
    entries = docker_archive.read(out)
    assert entries[0].repo_tags == []
    assert "repositories" not in tar_names(out)


def test_digest_reference_refused(tmp_path: Path) -> None:
    a = build_image([L1])
    with pytest.raises(InvalidReference):
        docker_archive.write([(a.image, ["x@sha256:" + "a" * 64])], tmp_path / "o.tar")


@pytest.mark.parametrize("sized", [True, False])
def test_compressed_layers_are_written_uncompressed(tmp_path: Path, sized: bool) -> None:
    # With a known uncompressed size the layer streams into the tar; without, it is spooled first.
    a = build_image([L1, L3], sized=sized)
    out = tmp_path / "o.tar"
    docker_archive.write([(a.image, ["x:1"])], out)
    for tar in a.tars:
        assert tar_read(out, f"blobs/sha256/{sha(tar).hex}") == tar
    ref = tmp_path / "ref.tar"
    docker_archive.write([(build_image([L1, L3], sized=not sized).image, ["x:1"])], ref)
    assert ref.read_bytes() == out.read_bytes()


def test_uncompressed_source_layers(tmp_path: Path) -> None:
    a = build_image([L1, L2], compress=False, manifest_type=mediatype.DOCKER_MANIFEST)
    out = tmp_path / "o.tar"
    docker_archive.write([(a.image, ["x:1"])], out)
    _check_same(a.image, docker_archive.read(out)[0].image, a.tars)


def test_write_refuses_a_layer_that_is_not_its_diff_id(tmp_path: Path) -> None:
    a = build_image([L1])
    bad = gz(layer_tar({"evil": b"x"}))
    layer = a.image.layers()[0]
    assert isinstance(layer, BlobLayer)
    wrong = BlobLayer(Descriptor(layer.desc.media_type, sha(bad), len(bad)), layer.diff_id(), lambda: io.BytesIO(bad))
    image = StaticImage(Manifest.build(a.image.manifest().config, [wrong.desc]), a.image.config(), (wrong,))
    with pytest.raises(DigestMismatch):
        docker_archive.write([(image, ["x:1"])], tmp_path / "o.tar")
    assert not (tmp_path / "o.tar").exists()  # no half-written archive left behind


def test_write_refuses_a_short_layer(tmp_path: Path) -> None:
    a = build_image([L1], compress=False)
    tar = a.tars[0]
    layer = BlobLayer(
        Descriptor(mediatype.OCI_LAYER, sha(tar), len(tar) + 10), sha(tar), lambda: io.BytesIO(tar), len(tar) + 10
    )
    image = StaticImage(Manifest.build(a.image.manifest().config, [layer.desc]), a.image.config(), (layer,))
    with pytest.raises(SizeMismatch):
        docker_archive.write([(image, ["x:1"])], tmp_path / "o.tar")


def test_read_directory_and_compressed_archive(tmp_path: Path) -> None:
    a = build_image([L1, L2])
    out = tmp_path / "o.tar"
    docker_archive.write([(a.image, ["x:1"])], out)
    extracted = tmp_path / "dir"
    with tarfile.open(out) as tar:
        tar.extractall(extracted, filter="data")
    _check_same(a.image, docker_archive.read(extracted)[0].image, a.tars)

    zipped = tmp_path / "o.tar.gz"
    zipped.write_bytes(gzip.compress(out.read_bytes()))
    entries = docker_archive.read(zipped)
    _check_same(a.image, entries[0].image, a.tars)
    assert entries[0].repo_tags == ["x:1"]

    import zstandard

    zst = tmp_path / "o.tar.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(out.read_bytes()))
    _check_same(a.image, docker_archive.read(zst)[0].image, a.tars)


# --------------------------------------------------------------------------- other producers' layouts


def _config_for(tars: list[bytes]) -> ImageConfig:
    return ImageConfig.build([sha(t) for t in tars], platform=Platform("linux", "arm64", "v8"))


def test_legacy_layout_with_symlinked_layer(tmp_path: Path) -> None:
    # Docker < 25: <v1id>/layer.tar, shared layers as symlinks to another <v1id>/layer.tar.
    t1, t2 = layer_tar(L1), layer_tar(L2)
    cfg = ImageConfig.build([sha(t1), sha(t2), sha(t1)])
    files = {
        f"{cfg.digest.hex}.json": cfg.raw,
        "aaaa/VERSION": b"1.0",
        "aaaa/layer.tar": t1,
        "bbbb/layer.tar": t2,
        "cccc/layer.tar": b"->../aaaa/layer.tar",
    }
    manifest = [
        {
            "Config": f"{cfg.digest.hex}.json",
            "RepoTags": ["old:1"],
            "Layers": ["aaaa/layer.tar", "bbbb/layer.tar", "cccc/layer.tar"],
        }
    ]
    archive = write_docker_archive(tmp_path / "a.tar", files, manifest)
    (entry,) = docker_archive.read(archive)
    assert entry.repo_tags == ["old:1"]
    assert read_layers(entry.image) == [t1, t2, t1]
    assert [d.digest for d in entry.image.manifest().layers] == [sha(t1), sha(t2), sha(t1)]


def test_skopeo_layout_with_compressed_layer_file(tmp_path: Path) -> None:
    # skopeo: <hex>.tar layers; a layer may be left compressed (then it is described as gzip).
    t1, t2 = layer_tar(L1), layer_tar(L2)
    z2 = gz(t2)
    cfg = _config_for([t1, t2])
    files = {f"{cfg.digest.hex}.json": cfg.raw, f"{sha(t1).hex}.tar": t1, f"{sha(t2).hex}.tar": z2}
    manifest = [
        {"Config": f"{cfg.digest.hex}.json", "RepoTags": None, "Layers": [f"{sha(t1).hex}.tar", f"{sha(t2).hex}.tar"]}
    ]
    (entry,) = docker_archive.read(write_docker_archive(tmp_path / "a.tar", files, manifest))
    assert entry.repo_tags == []
    descs = [layer.descriptor() for layer in entry.image.layers()]
    assert descs[0] == Descriptor(mediatype.DOCKER_LAYER, sha(t1), len(t1))
    assert descs[1] == Descriptor(mediatype.DOCKER_LAYER_GZIP, sha(z2), len(z2))
    assert [layer.diff_id() for layer in entry.image.layers()] == [sha(t1), sha(t2)]
    sizes = [layer.uncompressed_size() for layer in entry.image.layers()]  # type: ignore[attr-defined]
    assert sizes == [len(t1), None]
    assert read_layers(entry.image) == [t1, z2]
    assert entry.image.config().platform == Platform("linux", "arm64", "v8")


def test_layer_sources_accepted(tmp_path: Path) -> None:
    t1 = layer_tar(L1)
    cfg = _config_for([t1])
    src = {"mediaType": mediatype.DOCKER_LAYER_FOREIGN, "digest": str(sha(b"x")), "size": 1, "urls": ["https://x/y"]}
    manifest = [
        {
            "Config": f"blobs/sha256/{cfg.digest.hex}",
            "RepoTags": ["w:1"],
            "Layers": [f"blobs/sha256/{sha(t1).hex}"],
            "LayerSources": {str(sha(t1)): src},
        }
    ]
    files = {f"blobs/sha256/{cfg.digest.hex}": cfg.raw, f"blobs/sha256/{sha(t1).hex}": t1}
    (entry,) = docker_archive.read(write_docker_archive(tmp_path / "a.tar", files, manifest))
    assert read_layers(entry.image) == [t1]


# --------------------------------------------------------------------------- bad input


def _one_layer_archive(tmp_path: Path, **over: object) -> Path:
    t1 = layer_tar(L1)
    cfg = _config_for([t1])
    files = {f"{cfg.digest.hex}.json": cfg.raw, "l1.tar": t1}
    item: dict[str, object] = {"Config": f"{cfg.digest.hex}.json", "RepoTags": ["x:1"], "Layers": ["l1.tar"]}
    item.update(over)
    return write_docker_archive(tmp_path / "a.tar", files, [item])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("Layers", ["../x"], "escapes the archive"),
        ("Layers", ["a/../../x"], "escapes the archive"),
        ("Layers", ["/etc/passwd"], "is absolute"),
        ("Config", "../cfg.json", "escapes the archive"),
        ("Layers", ["missing.tar"], "missing.tar"),
        ("Layers", [], "0 layers listed but config"),
        ("Layers", ["l1.tar", "l1.tar"], "2 layers listed"),
        ("Layers", "l1.tar", "array of strings"),
        ("RepoTags", [1], "array of strings"),
        ("Config", None, "missing field 'Config'"),
        ("Config", "nope.json", "config nope.json is missing"),
        ("LayerSources", [], "LayerSources"),
    ],
)
def test_bad_manifest_entries(tmp_path: Path, field: str, value: object, message: str) -> None:
    archive = _one_layer_archive(tmp_path, **{field: value})
    with pytest.raises(InvalidArchive, match=r"manifest\.json|missing") as exc:
        docker_archive.read(archive)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_config_not_json(tmp_path: Path) -> None:
    archive = write_docker_archive(
        tmp_path / "a.tar",
        {"c.json": b"{not json", "l.tar": layer_tar(L1)},
        [{"Config": "c.json", "Layers": ["l.tar"]}],
    )
    with pytest.raises(InvalidArchive, match=r"config c\.json: image config is not valid JSON"):
        docker_archive.read(archive)


def test_config_blob_not_matching_its_name(tmp_path: Path) -> None:
    t1 = layer_tar(L1)
    cfg = _config_for([t1])
    name = f"blobs/sha256/{'0' * 64}"
    archive = write_docker_archive(
        tmp_path / "a.tar", {name: cfg.raw, "l.tar": t1}, [{"Config": name, "Layers": ["l.tar"]}]
    )
    with pytest.raises(DigestMismatch):
        docker_archive.read(archive)


@pytest.mark.parametrize("content", [b"", b"[", b"{}", b'[{"Config": 3, "Layers": []}]', b"[]", b"[1]"])
def test_bad_manifest_json(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "a.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    with pytest.raises(InvalidArchive):
        docker_archive.read(path)


def test_not_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "junk"
    path.write_bytes(b"this is not a tar file" * 100)
    with pytest.raises(InvalidArchive, match="not a tar archive"):
        docker_archive.read(path)
    with pytest.raises(InvalidArchive, match="no such file"):
        docker_archive.read(tmp_path / "nothing")
    empty = tmp_path / "empty.tar"
    with tarfile.open(empty, "w"):
        pass
    with pytest.raises(InvalidArchive, match=r"manifest\.json is missing"):
        docker_archive.read(empty)
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(gzip.compress(bytes(range(256)) * 100 + os.urandom(10000))[:5000])
    with pytest.raises(InvalidArchive, match="gzip"):
        docker_archive.read(broken)


def test_symlink_out_of_the_archive(tmp_path: Path) -> None:
    t1 = layer_tar(L1)
    cfg = _config_for([t1])
    archive = write_docker_archive(
        tmp_path / "a.tar",
        {"c.json": cfg.raw, "l/layer.tar": b"->../../../etc/passwd"},
        [{"Config": "c.json", "Layers": ["l/layer.tar"]}],
    )
    with pytest.raises(InvalidArchive, match="leads out of the archive"):
        docker_archive.read(archive)


def test_directory_symlink_out_of_the_archive(tmp_path: Path) -> None:
    t1 = layer_tar(L1)
    cfg = _config_for([t1])
    root = tmp_path / "dir"
    root.mkdir()
    (root / "c.json").write_bytes(cfg.raw)
    (tmp_path / "outside.tar").write_bytes(t1)
    (root / "l.tar").symlink_to(tmp_path / "outside.tar")
    (root / "manifest.json").write_text(json.dumps([{"Config": "c.json", "Layers": ["l.tar"]}]))
    with pytest.raises(InvalidArchive, match="leads out of the archive"):
        docker_archive.read(root)
    (root / "l.tar").unlink()
    with pytest.raises(InvalidArchive, match=r"layer l\.tar is missing"):
        docker_archive.read(root)


def test_tampered_layer_is_exposed_by_its_digest(tmp_path: Path) -> None:
    # The reader does not hash uncompressed layers: it claims the config's diff_id, and whoever
    # copies the layer (the store) finds that the content does not hash to it.
    t1 = layer_tar(L1)
    cfg = _config_for([t1])
    evil = layer_tar({"etc/hello": b"evil\n"})
    archive = write_docker_archive(
        tmp_path / "a.tar", {"c.json": cfg.raw, "l.tar": evil}, [{"Config": "c.json", "Layers": ["l.tar"]}]
    )
    (entry,) = docker_archive.read(archive)
    (layer,) = entry.image.layers()
    assert layer.descriptor().digest == sha(t1) == layer.diff_id()
    with layer.open() as f:
        got = copy_and_digest(f, None)
    assert got.digest != layer.descriptor().digest
    assert got.diff_id == sha(evil)


def test_xz_layer_refused(tmp_path: Path) -> None:
    import lzma

    t1 = layer_tar(L1)
    cfg = _config_for([t1])
    archive = write_docker_archive(
        tmp_path / "a.tar", {"c.json": cfg.raw, "l.tar": lzma.compress(t1)}, [{"Config": "c.json", "Layers": ["l.tar"]}]
    )
    with pytest.raises(InvalidArchive, match="xz-compressed"):
        docker_archive.read(archive)


def test_layers_open_independently(tmp_path: Path) -> None:
    a = build_image([L1, L2, L3])
    out = tmp_path / "o.tar"
    docker_archive.write([(a.image, ["x:1"])], out)
    layers = docker_archive.read(out)[0].image.layers()
    streams = [layer.open() for layer in layers]
    try:
        # Interleaved reads: every stream has its own position.
        heads = [s.read(100) for s in streams]
        rests = [s.read() for s in streams]
    finally:
        for s in streams:
            s.close()
    assert [h + r for h, r in zip(heads, rests, strict=True)] == a.tars
    assert Digest.of(a.tars[0]) == layers[0].diff_id()
