"""The store's promises: blobs once, Docker's rmi rules, derived reachability, atomic ingest."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from dockyard.errors import Conflict, DigestMismatch, ImageNotFound
from dockyard.image.base import BlobLayer, StaticImage
from dockyard.image.build import build_image, file
from dockyard.image.sample import app_image, base_image
from dockyard.oci import reference as refs
from dockyard.oci.descriptor import Descriptor
from dockyard.store.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "store")
    yield s  # type: ignore[misc]
    s.close()


def _blob_files(store: Store) -> set[str]:
    return {p.name for p in (store.paths.blobs / "sha256").iterdir()}


def _names(*texts: str) -> list[refs.Reference]:
    return [refs.parse(t) for t in texts]


def test_ingest_shares_blobs(store: Store) -> None:
    base, app = base_image(), app_image()
    store.ingest(base, _names("sample:1"))
    after_base = _blob_files(store)
    store.ingest(app, _names("app:1"))
    after_app = _blob_files(store)
    # app adds its own config, manifest and one layer; the two base layers are shared.
    assert len(after_app - after_base) == 3
    assert [d.digest for d in app.manifest().layers[:2]] == [d.digest for d in base.manifest().layers]
    check = store.check()
    assert check.ok, check.problems


def test_same_diff_id_other_compression_stored_once(store: Store) -> None:
    entries = [file("a", "hello")]
    gz = build_image([entries], compression="gzip")
    zst = build_image([entries], compression="zstd")
    assert gz.config().diff_ids == zst.config().diff_ids
    assert gz.manifest().layers[0].digest != zst.manifest().layers[0].digest
    store.ingest(gz, _names("x:gz"))
    events: list[str] = []
    store.ingest(zst, _names("x:zst"), on_layer=lambda e: events.append(e.status))
    assert events == ["Already exists"]
    assert not store.blobs.exists(zst.manifest().layers[0].digest)
    # The zstd image reads back through the kept gzip blob, with a manifest describing what is kept.
    img = store.image("x:zst")
    assert img.manifest().layers[0].digest == gz.manifest().layers[0].digest
    assert store.check().ok


def test_digest_mismatch_leaves_store_unchanged(store: Store) -> None:
    good = build_image([[file("a", "1")]])
    layer = good.layers()[0]
    bad_layer = BlobLayer(layer.descriptor(), layer.diff_id(), lambda: io.BytesIO(b"tampered"))
    bad = StaticImage(good.manifest(), good.config(), (bad_layer,))
    before = _blob_files(store)
    with pytest.raises(DigestMismatch):
        store.ingest(bad, _names("bad:1"))
    assert _blob_files(store) == before
    assert store.meta.images() == []
    assert list(store.paths.tmp.iterdir()) == []


@pytest.mark.parametrize("concurrent", [1, 3])
def test_failed_ingest_takes_back_the_layers_it_added(store: Store, concurrent: int) -> None:
    store.ingest(base_image(), _names("sample:1"))
    before = _blob_files(store)
    good = build_image([[file("a", "1")], [file("b", "2" * 100_000)], [file("c", "3")]])
    layers = list(good.layers())
    middle = layers[1]
    layers[1] = BlobLayer(middle.descriptor(), middle.diff_id(), lambda: io.BytesIO(b"tampered"))
    with pytest.raises(DigestMismatch):
        store.ingest(
            StaticImage(good.manifest(), good.config(), tuple(layers)), _names("bad:1"), max_concurrent=concurrent
        )
    assert _blob_files(store) == before  # the good layers copied before the failure are gone again
    assert {r.diff_id for r in store.meta.layers()} == {str(d) for d in base_image().config().diff_ids}
    assert store.check().ok
    events: list[str] = []
    store.ingest(good, _names("good:1"), max_concurrent=concurrent, on_layer=lambda e: events.append(e.status))
    assert events == ["Loaded"] * 3
    assert store.check().ok


def test_wrong_diff_id_refused(store: Store) -> None:
    good = build_image([[file("a", "1")]])
    other = build_image([[file("a", "2")]])
    layer = good.layers()[0]
    lying = BlobLayer(layer.descriptor(), other.layers()[0].diff_id(), layer.open)
    cfg = other.config()
    # manifest/config consistent with the lie, blob is not
    from dockyard.image.synth import synthesize_manifest

    manifest = synthesize_manifest(cfg, [layer.descriptor()])
    with pytest.raises(DigestMismatch) as exc:
        store.ingest(StaticImage(manifest, cfg, (lying,)), _names("lie:1"))
    assert "diff_id" in str(exc.value)
    assert store.meta.images() == []


def test_resolve_rules(store: Store) -> None:
    res = store.ingest(base_image(), _names("sample:1", "myuser/sample"))
    iid = str(res.image_id)
    assert store.resolve("sample:1") == iid
    assert store.resolve("docker.io/library/sample:1") == iid
    assert store.resolve("myuser/sample") == iid  # :latest implied
    assert store.resolve(iid) == iid
    assert store.resolve(iid[7:]) == iid
    assert store.resolve(iid[7:19]) == iid
    assert store.resolve(iid[:15]) == iid  # sha256:+prefix
    with pytest.raises(ImageNotFound) as exc:
        store.resolve("sample")
    assert "sample:latest" in str(exc.value)


def test_rmi_tag_with_sibling_only_untags(store: Store) -> None:
    res = store.ingest(base_image(), _names("sample:1", "sample:2"))
    blobs = _blob_files(store)
    records = store.remove("sample:1")
    assert [(r.kind, r.value) for r in records] == [("Untagged", "sample:1")]
    assert _blob_files(store) == blobs
    assert store.resolve("sample:2") == str(res.image_id)


def test_rmi_last_tag_deletes_and_frees_only_unshared(store: Store) -> None:
    store.ingest(base_image(), _names("sample:1"))
    before_app = _blob_files(store)
    app = store.ingest(app_image(), _names("app:1"))
    records = store.remove("app:1")
    kinds = [r.kind for r in records]
    assert kinds[0] == "Untagged" and kinds[1] == "Deleted"
    assert records[1].value == str(app.image_id)
    # Layer records are chain IDs of layers no other image uses: only the app layer.
    assert len([r for r in records if r.kind == "Deleted"]) == 2
    assert _blob_files(store) == before_app
    assert store.check().ok


def test_rmi_by_id_with_several_repositories_needs_force(store: Store) -> None:
    res = store.ingest(base_image(), _names("sample:1", "other/sample:1"))
    with pytest.raises(Conflict) as exc:
        store.remove(str(res.image_id)[7:19])
    assert "must be forced" in str(exc.value) and "multiple repositories" in str(exc.value)
    records = store.remove(str(res.image_id)[7:19], force=True)
    assert sorted(r.value for r in records if r.kind == "Untagged") == ["other/sample:1", "sample:1"]
    assert any(r.kind == "Deleted" for r in records)
    assert store.meta.images() == []
    assert _blob_files(store) == set()


def test_rmi_by_id_two_tags_same_repo_needs_force(store: Store) -> None:
    res = store.ingest(base_image(), _names("sample:1", "sample:2"))
    with pytest.raises(Conflict):
        store.remove(str(res.image_id))


def test_rmi_by_id_single_tag_deletes(store: Store) -> None:
    res = store.ingest(base_image(), _names("sample:1"))
    records = store.remove(str(res.image_id)[7:19])
    assert records[0].kind == "Untagged" and records[0].value == "sample:1"
    assert records[1].kind == "Deleted"


def test_rmi_image_used_by_container(store: Store) -> None:
    res = store.ingest(base_image(), _names("sample:1"))
    ctr = store.container_create("sample:1", "web")
    with pytest.raises(Conflict) as exc:
        store.remove("sample:1")
    assert "container " + ctr.id[:12] in str(exc.value)
    with pytest.raises(Conflict) as exc2:
        store.remove(str(res.image_id)[7:19])
    assert "being used by stopped container" in str(exc2.value)
    blobs = _blob_files(store)
    records = store.remove("sample:1", force=True)
    assert [(r.kind, r.value) for r in records] == [("Untagged", "sample:1")]
    # kept as a dangling image while the container exists; nothing freed
    summaries = store.summaries()
    assert len(summaries) == 1 and summaries[0].dangling
    assert _blob_files(store) == blobs
    assert store.check().ok
    store.container_remove("web")
    records, reclaimed = store.prune()
    assert any(r.kind == "Deleted" for r in records) and reclaimed > 0
    assert _blob_files(store) == set()


def test_retag_moves_and_leaves_dangling(store: Store) -> None:
    store.ingest(base_image(), _names("sample:1"))
    res = store.ingest(app_image(), _names("sample:1"))
    assert [(r.familiar(), old) for r, old in res.moved] == [("sample:1", str(base_image().config().digest))]
    dangling = [s for s in store.summaries() if s.dangling]
    assert len(dangling) == 1
    records, reclaimed = store.prune()
    assert records[0].kind == "Deleted"
    # base layers are shared with the app image, so only config + manifest were reclaimable
    assert 0 < reclaimed < 4096
    assert store.check().ok


def test_prune_all_keeps_images_in_use(store: Store) -> None:
    store.ingest(base_image(), _names("sample:1"))
    store.ingest(app_image(), _names("app:1"))
    store.container_create("app:1")
    records, _ = store.prune(all_unused=True)
    assert ("Untagged", "sample:1") in [(r.kind, r.value) for r in records]
    assert [s.tags[0].familiar() for s in store.summaries()] == ["app:1"]
    assert store.check().ok


def test_check_finds_corruption_and_missing(store: Store) -> None:
    res = store.ingest(base_image(), _names("sample:1"))
    layer = base_image().manifest().layers[0].digest
    path = store.blobs.path(layer)
    path.write_bytes(b"corrupt")
    report = store.check()
    assert not report.ok and any("corrupt" in p for p in report.problems)
    path.unlink()
    report = store.check()
    assert any("missing" in p for p in report.problems)
    assert str(res.image_id)[7:19] in " ".join(report.problems)


def test_orphan_blobs_are_not_damage(store: Store) -> None:
    store.blobs.put_bytes(b"orphan")
    report = store.check()
    assert report.ok and len(report.unreferenced_blobs) == 1
    assert store.gc() == len(b"orphan")


def test_tag_refuses_digest_and_missing(store: Store) -> None:
    store.ingest(base_image(), _names("sample:1"))
    store.tag("sample:1", "myuser/sample:v2")
    assert store.resolve("myuser/sample:v2") == store.resolve("sample:1")
    with pytest.raises(ImageNotFound):
        store.tag("nope:1", "x:1")
    with pytest.raises(ValueError):
        store.tag("sample:1", "x@sha256:" + "a" * 64)


def test_descriptor_equality_ignores_annotations() -> None:
    d = base_image().manifest().layers[0]
    assert Descriptor(d.media_type, d.digest, d.size, annotations={"a": "b"}) == d
