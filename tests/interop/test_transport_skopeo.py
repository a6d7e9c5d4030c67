"""dockyard's docker-archive and OCI layout readers and writers against the real skopeo and umoci.

Each test makes something with one side and reads it with the other: what skopeo writes, dockyard
must read to the same digests; what dockyard writes, skopeo (and umoci) must accept and report the
same config digest and diff_ids for.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from fixtures_util import DOCKER_ARCHIVE_REF, OCI_TAG, require_tool

from dockyard.image import build
from dockyard.image.base import Image, StaticImage
from dockyard.image.synth import synthesize_manifest
from dockyard.layers.digesting import copy_and_digest
from dockyard.oci import _json, mediatype
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.index import Index
from dockyard.oci.platform import Platform
from dockyard.transport import docker_archive, oci_layout

pytestmark = pytest.mark.interop


# --------------------------------------------------------------------------- helpers


def _run(tool: str, *args: str | os.PathLike[str]) -> str:
    argv = [require_tool(tool), *(os.fspath(a) for a in args)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        pytest.fail(
            f"`{' '.join(argv)}` exited with {proc.returncode}\n--- stdout ---\n{proc.stdout}\n"
            f"--- stderr ---\n{proc.stderr}",
            pytrace=False,
        )
    return proc.stdout


def skopeo(*args: str | os.PathLike[str]) -> str:
    return _run("skopeo", "--insecure-policy", *args)


def skopeo_json(*args: str | os.PathLike[str]) -> Any:
    return json.loads(skopeo(*args))


def umoci(*args: str | os.PathLike[str]) -> str:
    return _run("umoci", *args)


def _image(
    n: int,
    *,
    platform: Platform | None = None,
    manifest_type: str = mediatype.OCI_MANIFEST,
    compression: str = "gzip",
) -> StaticImage:
    layers = [
        [build.directory("etc"), build.file("etc/hello", f"hello {n}\n")],
        [build.directory("opt"), build.file("opt/data", bytes(range(256)) * (40 + n), mode=0o600)],
        [build.file("etc/hello", f"bye {n}\n"), build.symlink("etc/link", "hello")],
    ]
    return build.build_image(
        layers,
        compression=compression,
        manifest_type=manifest_type,
        platform=platform,
        config={"Cmd": ["/bin/sh"], "Env": [f"N={n}"]},
    )


def _uncompressed(image: Image) -> list[bytes]:
    out = []
    for layer in image.layers():
        with layer.open() as raw:
            from dockyard.layers.compression import open_decompressed

            with open_decompressed(raw) as f:
                out.append(f.read())
    return out


def _verify_layers(image: Image) -> None:
    """Every layer hashes to its descriptor's digest and to the config's diff_id (what ingest checks)."""
    for layer, diff_id in zip(image.layers(), image.config().diff_ids, strict=True):
        with layer.open() as f:
            got = copy_and_digest(f, None)
        assert got.digest == layer.descriptor().digest
        assert got.size == layer.descriptor().size
        assert got.diff_id == diff_id == layer.diff_id()


# --------------------------------------------------------------------------- skopeo writes, dockyard reads


def test_skopeo_docker_archive_is_read(tmp_path: Path) -> None:
    img = _image(1)
    layout = tmp_path / "layout"
    oci_layout.write([(img, ["example.com/team/app:v1"])], layout, as_tar=False)
    archive = tmp_path / "a.tar"
    skopeo("copy", "--quiet", f"oci:{layout}:v1", f"docker-archive:{archive}:team/app:v1")

    (entry,) = docker_archive.read(archive)
    assert entry.repo_tags == ["docker.io/team/app:v1"]
    image = entry.image
    assert image.config().raw == img.config().raw
    assert image.manifest().config.digest == img.config().digest
    assert image.manifest().media_type == mediatype.DOCKER_MANIFEST
    assert [d.media_type for d in image.manifest().layers] == [mediatype.DOCKER_LAYER] * 3
    assert [d.digest for d in image.manifest().layers] == list(img.config().diff_ids)
    assert _uncompressed(image) == _uncompressed(img)
    _verify_layers(image)


def test_skopeo_debian_fixture_is_read(debian_docker_archive: Path) -> None:
    (entry,) = docker_archive.read(debian_docker_archive)
    assert entry.repo_tags == [f"docker.io/library/{DOCKER_ARCHIVE_REF}"]
    config = entry.image.config()
    assert config.os == "linux"
    assert len(config.diff_ids) == 1
    _verify_layers(entry.image)


def test_umoci_layout_is_read(debian_oci_layout: Path) -> None:
    (entry,) = oci_layout.read(debian_oci_layout)
    assert entry.ref_name == OCI_TAG
    assert entry.name is None
    assert entry.image.manifest().media_type == mediatype.OCI_MANIFEST
    assert entry.image.config().container_config.get("Cmd") == ["bash"]
    _verify_layers(entry.image)


def test_umoci_made_layout_round_trips(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    umoci("init", "--layout", layout)
    umoci("new", "--image", f"{layout}:t")
    src = tmp_path / "hello.txt"
    src.write_text("hello from umoci\n")
    umoci("insert", "--image", f"{layout}:t", src, "/hello.txt")
    (entry,) = oci_layout.read(layout)
    assert entry.ref_name == "t"
    _verify_layers(entry.image)
    # ... and dockyard's docker-archive of it is what skopeo makes of it.
    ours = tmp_path / "ours.tar"
    docker_archive.write([(entry.image, ["umoci/made:t"])], ours)
    theirs = tmp_path / "theirs.tar"
    skopeo("copy", "--quiet", f"oci:{layout}:t", f"docker-archive:{theirs}:umoci/made:t")
    (a,) = docker_archive.read(ours)
    (b,) = docker_archive.read(theirs)
    assert a.image.config().raw == b.image.config().raw
    assert [d.digest for d in a.image.manifest().layers] == [d.digest for d in b.image.manifest().layers]


# --------------------------------------------------------------------------- dockyard writes, skopeo reads


def test_docker_archive_is_accepted_by_skopeo(tmp_path: Path) -> None:
    one, two = _image(1), _image(2, manifest_type=mediatype.DOCKER_MANIFEST)
    archive = tmp_path / "a.tar"
    docker_archive.write([(one, ["alpine:3.19"]), (two, ["example.com:5000/x/y:2"])], archive)

    for image, ref in ((one, "alpine:3.19"), (two, "example.com:5000/x/y:2")):
        config = skopeo_json("inspect", "--config", f"docker-archive:{archive}:{ref}")
        assert config["rootfs"]["diff_ids"] == [str(d) for d in image.config().diff_ids]
        raw = json.loads(skopeo("inspect", "--raw", f"docker-archive:{archive}:{ref}"))
        assert raw["config"]["digest"] == str(image.config().digest)

        out = tmp_path / f"copy-{image.config().digest.short}"
        skopeo("copy", "--quiet", f"docker-archive:{archive}:{ref}", f"oci:{out}:t")
        copied = skopeo_json("inspect", "--config", f"oci:{out}:t")
        assert copied["rootfs"]["diff_ids"] == [str(d) for d in image.config().diff_ids]
        (entry,) = oci_layout.read(out)
        # skopeo re-serialises the config when it converts the (synthesised) Docker manifest to OCI.
        assert json.loads(entry.image.config().raw) == json.loads(image.config().raw)
        assert _uncompressed(entry.image) == _uncompressed(image)
        _verify_layers(entry.image)


def test_docker_archive_is_also_an_oci_layout(tmp_path: Path) -> None:
    # As Docker >= 25 writes it: the extracted archive is an OCI layout that skopeo can read.
    image = _image(3)
    archive = tmp_path / "a.tar"
    docker_archive.write([(image, ["debian:bookworm"])], archive)
    extracted = tmp_path / "x"
    with tarfile.open(archive) as tar:
        tar.extractall(extracted, filter="data")
    config = skopeo_json("inspect", "--config", f"oci:{extracted}:bookworm")
    assert config["rootfs"]["diff_ids"] == [str(d) for d in image.config().diff_ids]
    (entry,) = oci_layout.read(extracted)
    assert entry.name == "docker.io/library/debian:bookworm"
    _verify_layers(entry.image)


@pytest.mark.parametrize("manifest_type", [mediatype.OCI_MANIFEST, mediatype.DOCKER_MANIFEST])
def test_oci_layout_is_accepted_by_skopeo(tmp_path: Path, manifest_type: str) -> None:
    image = _image(
        4, manifest_type=manifest_type, compression="zstd" if manifest_type == mediatype.OCI_MANIFEST else "gzip"
    )
    layout = tmp_path / "layout"
    oci_layout.write([(image, ["quay.io/org/app:1.0", "app:latest"])], layout, as_tar=False)
    # OCI manifests are kept as they are; Docker ones become the equivalent OCI manifest.
    expected = image.manifest()
    if manifest_type == mediatype.DOCKER_MANIFEST:
        expected = synthesize_manifest(image.config(), expected.layers, mediatype.OCI_MANIFEST)
    for tag in ("1.0", "latest"):
        info = skopeo_json("inspect", f"oci:{layout}:{tag}")
        assert info["Digest"] == str(expected.digest)
        assert info["Layers"] == [str(d.digest) for d in image.manifest().layers]
    raw = skopeo("inspect", "--raw", f"oci:{layout}:1.0").encode()
    assert raw == expected.raw
    config = skopeo("inspect", "--config", "--raw", f"oci:{layout}:1.0").encode()
    assert config == image.config().raw

    archive = tmp_path / "oci.tar"
    skopeo("copy", "--quiet", f"oci:{layout}:1.0", f"oci-archive:{archive}:copied")
    (entry,) = oci_layout.read(archive)
    assert entry.ref_name == "copied"
    assert entry.image.config().digest == image.config().digest
    assert [d.digest for d in entry.image.manifest().layers] == [d.digest for d in image.manifest().layers]


def test_oci_archive_is_accepted_by_skopeo_and_umoci(tmp_path: Path) -> None:
    image = _image(5)
    archive = tmp_path / "oci.tar"
    oci_layout.write([(image, ["example.org/a/b:c"])], archive, as_tar=True)
    info = skopeo_json("inspect", f"oci-archive:{archive}:c")
    assert info["Digest"] == str(image.manifest().digest)
    out = tmp_path / "copy"
    skopeo("copy", "--quiet", f"oci-archive:{archive}:c", f"oci:{out}:c")
    assert skopeo_json("inspect", f"oci:{out}:c")["Digest"] == str(image.manifest().digest)

    layout = tmp_path / "layout"
    oci_layout.write([(image, ["example.org/a/b:c", "example.org/a/b:d"])], layout, as_tar=False)
    assert sorted(umoci("ls", "--layout", layout).split()) == ["c", "d"]
    stat = json.loads(umoci("stat", "--json", "--image", f"{layout}:c"))
    assert len(stat["history"]) == 3
    bundle = tmp_path / "bundle"
    umoci("unpack", "--image", f"{layout}:c", bundle)
    rootfs = bundle / "rootfs"
    assert (rootfs / "etc" / "hello").read_text() == "bye 5\n"
    assert os.readlink(rootfs / "etc" / "link") == "hello"
    assert (rootfs / "opt" / "data").read_bytes() == bytes(range(256)) * 45


# --------------------------------------------------------------------------- multi-platform


def test_two_arch_index_selects_per_platform(tmp_path: Path) -> None:
    amd = _image(6, platform=Platform("linux", "amd64"))
    arm = _image(7, platform=Platform("linux", "arm64", "v8"))
    layout = tmp_path / "layout"
    oci_layout.write([(amd, []), (arm, [])], layout, as_tar=False)
    index = Index.build(
        [
            Descriptor(i.manifest().media_type, i.manifest().digest, i.manifest().size, platform=i.config().platform)
            for i in (amd, arm)
        ]
    )
    digest = Digest.of(index.raw)
    (layout / "blobs" / "sha256" / digest.hex).write_bytes(index.raw)
    top = Descriptor(
        mediatype.OCI_INDEX,
        digest,
        index.size,
        annotations={
            "io.containerd.image.name": "docker.io/library/multi:1",
            "org.opencontainers.image.ref.name": "1",
        },
    )
    (layout / "index.json").write_bytes(_json.dumps({"schemaVersion": 2, "manifests": [top.to_json()]}))

    for arch, want in (("amd64", amd), ("arm64", arm)):
        override = ("--override-os", "linux", "--override-arch", arch)
        raw = skopeo(*override, "inspect", "--raw", f"oci:{layout}:1").encode()
        assert raw == index.raw
        config = skopeo(*override, "inspect", "--config", "--raw", f"oci:{layout}:1").encode()
        assert config == want.config().raw
        (entry,) = oci_layout.read(layout, platform=Platform.parse(f"linux/{arch}"))
        assert entry.image.manifest().digest == want.manifest().digest
        assert entry.index_digest == digest
        assert entry.name == "docker.io/library/multi:1"

        archive = tmp_path / f"{arch}.tar"
        skopeo(*override, "copy", "--quiet", f"oci:{layout}:1", f"docker-archive:{archive}:multi:1")
        (read,) = docker_archive.read(archive)
        assert read.image.config().digest == want.config().digest
        assert read.image.config().architecture == arch

    with pytest.raises(Exception, match="available: linux/amd64, linux/arm64/v8"):
        oci_layout.read(layout, platform=Platform.parse("linux/ppc64le"))
