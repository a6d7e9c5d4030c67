"""Every place the copy engine writes gives back a valid image (go-containerregistry's ``validate`` on each
transport's output), and an index copied whole reads back byte for byte with valid children."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dockyard.copy import transfer
from dockyard.errors import DigestMismatch
from dockyard.image.base import BlobLayer, Image, StaticImage, select_platform
from dockyard.image.build import build_image, file, symlink
from dockyard.image.transfer import RawManifest
from dockyard.image.validate import validate_image
from dockyard.oci import mediatype
from dockyard.oci import reference as refs
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.index import Index
from dockyard.oci.platform import Platform
from dockyard.store.ingest import StoreDestination
from dockyard.store.source import StoreSource
from dockyard.store.store import Store
from dockyard.transport.base import BytesSource, Source, SourceIndex, source_image
from dockyard.transport.docker_archive import DockerArchiveDestination, DockerArchiveSource
from dockyard.transport.oci_layout import LayoutDestination, LayoutSource, RefName


def _image(compression: str = "gzip", manifest_type: str = mediatype.OCI_MANIFEST) -> StaticImage:
    return build_image(
        [[file("etc/hostname", "box\n"), symlink("bin", "usr/bin")], [file("usr/bin/tool", b"\x7fELF" * 300)]],
        compression=compression,
        manifest_type=manifest_type,
    )


def _via_store(tmp: Path, image: Image) -> Source:
    store = Store(tmp / "store")
    store.ingest(image, [refs.parse("t/img:1")])
    return StoreSource(store, "t/img:1")


def _via_layout(as_tar: bool) -> Callable[[Path, Image], Source]:
    def write_and_read(tmp: Path, image: Image) -> Source:
        out = tmp / ("layout.tar" if as_tar else "layout")
        with LayoutDestination(out, as_tar=as_tar) as dest:
            transfer(BytesSource(image), dest, where="test", reference="")
            dest.name([RefName("1")])  # type: ignore[list-item]
            dest.commit()
        source = LayoutSource(out)
        source.choose("1")
        return source

    return write_and_read


def _via_docker_archive(tmp: Path, image: Image) -> Source:
    out = tmp / "archive.tar"
    with open(out, "wb") as f:
        dest = DockerArchiveDestination(f)
        transfer(BytesSource(image), dest, where="test")
        dest.name(["t/img:1"])
        dest.commit()
    return DockerArchiveSource(out)


PLACES = {
    "store": _via_store,
    "oci": _via_layout(as_tar=False),
    "oci-archive": _via_layout(as_tar=True),
    "docker-archive": _via_docker_archive,
}


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
@pytest.mark.parametrize("place", sorted(PLACES))
def test_output_of_every_transport_validates(tmp_path: Path, place: str, compression: str) -> None:
    image = _image(compression)
    source = PLACES[place](tmp_path, image)
    back = source_image(source, source.top(), place)
    validate_image(back)
    assert back.config().raw == image.config().raw
    assert [layer.diff_id() for layer in back.layers()] == list(image.config().diff_ids)
    if place in ("store", "oci", "oci-archive"):
        assert back.manifest().raw == image.manifest().raw  # kept byte for byte


def test_docker_schema_2_kept_by_the_store(tmp_path: Path) -> None:
    image = _image(manifest_type=mediatype.DOCKER_MANIFEST)
    source = _via_store(tmp_path, image)
    assert source.top() == RawManifest(image.manifest().raw, mediatype.DOCKER_MANIFEST)


def test_validate_catches_a_wrong_layer(tmp_path: Path) -> None:
    image = _image()
    layer = image.layers()[0]
    assert isinstance(layer, BlobLayer)
    other = _image("zstd").layers()[0]
    bad = StaticImage(
        image.manifest(), image.config(), (BlobLayer(layer.desc, layer.diff_id(), other.open), *image.layers()[1:])
    )
    with pytest.raises(DigestMismatch):
        validate_image(bad)


@pytest.mark.parametrize("place", ["store", "oci", "oci-archive"])
def test_index_copied_whole(tmp_path: Path, place: str) -> None:
    amd = build_image([[file("arch", "amd64\n")]], platform=Platform("linux", "amd64"))
    arm = build_image([[file("arch", "arm64\n")]], platform=Platform("linux", "arm64", "v8"))
    index = Index.build(
        [
            Descriptor(i.manifest().media_type, i.manifest().digest, i.manifest().size, platform=i.config().platform)
            for i in (amd, arm)
        ]
    )
    layers = {layer.descriptor().digest: layer for layer in arm.layers()}

    class Both(BytesSource):
        def top(self) -> RawManifest:
            return RawManifest(index.raw, index.media_type)

        def open_blob(self, desc: Descriptor):  # type: ignore[no-untyped-def]
            if desc.digest == arm.manifest().config.digest:
                import io

                return io.BytesIO(arm.config().raw)
            if desc.digest in layers:
                return layers[desc.digest].open()
            return super().open_blob(desc)

    both = Both(amd, [RawManifest(arm.manifest().raw, arm.manifest().media_type)])
    if place == "store":
        store = Store(tmp_path / "store")
        with StoreDestination(store, [refs.parse("t/multi:1")]) as dest:
            transfer(both, dest, where="test", all_platforms=True)
            dest.commit()
        back: Source = StoreSource(store, "t/multi:1")
    else:
        out = tmp_path / ("l.tar" if place == "oci-archive" else "l")
        with LayoutDestination(out, as_tar=place == "oci-archive") as ldest:
            transfer(both, ldest, where="test", all_platforms=True, reference="")
            ldest.name([RefName("1")])  # type: ignore[list-item]
            ldest.commit()
        layout = LayoutSource(out)
        layout.choose("1")
        back = layout
    top = back.top()
    assert top.data == index.raw
    children = SourceIndex(back, top, place)
    for platform, want in (("linux/amd64", amd), ("linux/arm64", arm)):
        image, _desc = select_platform(children, Platform.parse(platform))
        validate_image(image)
        assert image.manifest().raw == want.manifest().raw


def test_foreign_layers_stay_where_their_urls_say_unless_asked(tmp_path: Path, cli: object) -> None:
    """A non-distributable layer (Windows base layers) is not copied between places unless asked, as skopeo and
    crane do; the manifest keeps naming it, byte for byte."""
    import json as _json

    from dockyard.oci.manifest import Manifest

    image = _image()
    foreign_layer = image.layers()[0]
    desc = foreign_layer.descriptor()
    foreign = Descriptor(
        mediatype.OCI_LAYER_NONDIST_GZIP, desc.digest, desc.size, urls=("https://example.com/base.tar.gz",)
    )
    m = image.manifest()
    manifest = Manifest.build(m.config, [foreign, *m.layers[1:]], m.media_type)
    layers = (BlobLayer(foreign, foreign_layer.diff_id(), foreign_layer.open), *image.layers()[1:])
    with_foreign = StaticImage(manifest, image.config(), layers)
    src = tmp_path / "src"
    with LayoutDestination(src, as_tar=False) as dest:
        transfer(BytesSource(with_foreign), dest, where="test", reference="", include_foreign=True)
        dest.name([RefName("1")])  # type: ignore[list-item]
        dest.commit()
    assert (src / "blobs" / "sha256" / desc.digest.hex).exists()
    run = cli  # the CLI, as a user copies
    run("copy", f"oci:{src}:1", f"oci:{tmp_path / 'plain'}:1")  # type: ignore[operator]
    run("copy", "--include-foreign", f"oci:{src}:1", f"oci:{tmp_path / 'all'}:1")  # type: ignore[operator]
    assert not (tmp_path / "plain" / "blobs" / "sha256" / desc.digest.hex).exists()
    assert (tmp_path / "all" / "blobs" / "sha256" / desc.digest.hex).exists()
    for out in ("plain", "all"):
        top = _json.loads((tmp_path / out / "index.json").read_text())["manifests"][0]
        raw = (tmp_path / out / "blobs" / "sha256" / top["digest"].split(":")[1]).read_bytes()
        assert raw == manifest.raw  # the manifest still names the foreign layer, unchanged
