"""Manifests and indexes kept byte for byte: what a tag remembers, and the schema 2 -> 3 migration."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

import pytest

from dockyard.image.base import StaticImage
from dockyard.image.sample import app_image, base_image
from dockyard.image.synth import synthesize_manifest
from dockyard.oci import mediatype
from dockyard.oci import reference as refs
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.index import Index
from dockyard.oci.platform import Platform
from dockyard.store.schema import SCHEMA_VERSION
from dockyard.store.store import Store

TESTDATA = Path(__file__).parents[2] / "testdata"
# written by dockyard at commit ed441aa (schema 2): base (example.com/base:1, pulled by an index whose digest is a
# repository digest, the index bytes kept as an extra blob), app (example.com/app:1 and :latest), container c1
V2_INDEX = "sha256:cbde61b1298155ad1ca6cb61beea955f5cf64614d02222b99f6178a43a3f7471"
V2_BASE_MANIFEST = "sha256:68c8ef3af9fa89e33b3188d1a3c01873068b3154064209069255bb84eb87bee7"
V2_APP_MANIFEST = "sha256:f5b79871c61ee9736e023f4f7ae3410af049356b7d778a8142e96eedbe9b0c2b"


@pytest.fixture
def store(dockyard_root: Path) -> Any:
    s = Store(dockyard_root)
    yield s
    s.close()


def _docker_twin(image: StaticImage | Any) -> StaticImage:
    """The same image (same config and blobs) described by a Docker schema 2 manifest."""
    manifest = image.manifest()
    layers = [
        Descriptor(
            mediatype.layer_type(mediatype.DOCKER_MANIFEST, mediatype.layer_compression(d.media_type)), d.digest, d.size
        )
        for d in manifest.layers
    ]
    twin = synthesize_manifest(image.config(), layers, mediatype.DOCKER_MANIFEST)
    return StaticImage(twin, image.config(), tuple(image.layers()))


def test_schema_2_store_is_migrated(dockyard_root: Path) -> None:
    with tarfile.open(TESTDATA / "store-v2.tar.gz") as tar:
        tar.extractall(dockyard_root, filter="data")
    with Store(dockyard_root) as store:
        assert store.meta.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.meta.tag_manifest("example.com/base", "1") == V2_BASE_MANIFEST
        assert store.meta.tag_manifest("example.com/app", "latest") == V2_APP_MANIFEST
        # the index kept as an extra blob is now a kept index with its children
        assert store.meta.manifest(V2_INDEX) == (mediatype.OCI_INDEX, None)
        assert [c[2] for c in store.meta.index_children(V2_INDEX)] == ["linux/amd64", "linux/arm64"]
        assert store.manifest_digest_of("example.com/base@" + V2_INDEX, store.resolve("example.com/base:1")) == V2_INDEX
        assert [c.name for c in store.meta.containers()] == ["c1"]
        report = store.check()
        assert report.ok, report.problems
        assert not report.unreferenced_blobs
        # and the migrated store goes on working: rmi frees everything of app but what base shares
        store.remove("example.com/app:1")
        store.remove("example.com/app:latest", force=True)
        assert store.check().ok


def test_same_image_as_oci_and_docker_manifest_keeps_both(store: Store) -> None:
    oci = base_image()
    docker = _docker_twin(oci)
    assert oci.manifest().digest != docker.manifest().digest
    store.ingest(oci, [refs.parse("r/oci:1")])
    store.ingest(docker, [refs.parse("r/docker:1")])
    assert len(store.meta.images()) == 1  # one image: the same config
    assert store.meta.tag_manifest("docker.io/r/oci", "1") == str(oci.manifest().digest)
    assert store.meta.tag_manifest("docker.io/r/docker", "1") == str(docker.manifest().digest)
    assert {d for d, _ in store.meta.manifests_of(str(oci.config().digest))} == {
        str(oci.manifest().digest),
        str(docker.manifest().digest),
    }
    assert store.blobs.read(docker.manifest().digest) == docker.manifest().raw
    # tag copies the manifest the source tag names
    store.tag("r/docker:1", "r/copy:1")
    assert store.meta.tag_manifest("docker.io/r/copy", "1") == str(docker.manifest().digest)
    assert store.check().ok


def _two_platform_index(amd: Any, arm: Any) -> Index:
    return Index.build(
        [
            Descriptor(
                arm.manifest().media_type, arm.manifest().digest, arm.manifest().size, Platform("linux", "arm64", "v8")
            ),
            Descriptor(
                amd.manifest().media_type, amd.manifest().digest, amd.manifest().size, Platform("linux", "amd64")
            ),
        ]
    )


def test_tag_of_an_index(store: Store) -> None:
    amd, arm = base_image(), app_image()
    index = _two_platform_index(amd, arm)
    ref = refs.parse("r/multi:1")
    # the arm64 child first (not this host's platform on amd64 machines)
    store.ingest(arm, [ref], repo_digests=[ref.untagged().with_digest(index.digest)], index=index)
    assert store.meta.tag_manifest("docker.io/r/multi", "1") == str(index.digest)
    assert store.resolve("r/multi:1") == str(arm.config().digest)  # the only platform present
    store.ingest(amd, [ref], repo_digests=[ref.untagged().with_digest(index.digest)], index=index)
    host = str(Platform.host().normalized())
    shown = store.resolve("r/multi:1")
    if host == "linux/amd64":
        assert shown == str(amd.config().digest)
    assert store.meta.index_images(str(index.digest)) == [str(arm.config().digest), str(amd.config().digest)]
    # the platform not shown is held by the index: not dangling, not pruned
    held = store.meta.held_by_indexes()
    assert {str(arm.config().digest), str(amd.config().digest)} <= held
    store.prune()
    assert len(store.meta.images()) == 2
    assert store.check().ok
    # removing the tag lets both platforms go once nothing else names them
    store.remove("r/multi:1")
    store.remove("r/multi@" + str(index.digest)) if store.meta.repo_digests() else None
    store.prune()
    assert store.meta.images() == []
    assert store.check().ok
    assert list(store.blobs.all()) == []


def test_index_blob_is_garbage_once_unnamed(store: Store) -> None:
    amd, arm = base_image(), app_image()
    index = _two_platform_index(amd, arm)
    store.ingest(amd, [refs.parse("r/multi:1")], index=index)
    assert store.blobs.exists(index.digest)
    store.tag("r/multi:1", "r/other:2")
    assert store.meta.tag_manifest("docker.io/r/other", "2") == str(index.digest)
    store.remove("r/multi:1")
    assert store.blobs.exists(index.digest)  # r/other:2 still names it
    store.remove("r/other:2")
    assert not store.blobs.exists(index.digest)
    assert not store.blobs.exists(Digest.parse(str(amd.manifest().digest)))


def test_images_view_of_an_index_tag(store: Store, cli: Any) -> None:
    amd, arm = base_image(), app_image()
    index = _two_platform_index(amd, arm)
    ref = refs.parse("r/multi:1")
    store.ingest(arm, [ref], index=index)
    store.ingest(amd, [ref], index=index)
    shown = store.resolve("r/multi:1")
    other = ({str(amd.config().digest), str(arm.config().digest)} - {shown}).pop()
    rows = cli("images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout.splitlines()
    assert rows == [f"r/multi:1 {shown}"]  # one row: the tag, with one platform's image
    every = cli("images", "-a", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout.splitlines()
    assert sorted(every) == sorted([f"r/multi:1 {shown}", f"<none>:<none> {other}"])
    assert cli("images", "--filter", "dangling=true", "-q").stdout == ""
