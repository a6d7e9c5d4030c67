"""The build cache in the store: a step keeps its layer through collections, prunes drop it by Docker's rules,
and the store's own check stays clean."""

from __future__ import annotations

from pathlib import Path

from dockyard.image.build import build_image, compress_bytes, file, layer_tar
from dockyard.oci import mediatype
from dockyard.oci.digest import Digest
from dockyard.store.store import Store


def _layer(tmp_path: Path, name: str) -> tuple[Path, Digest, Digest, str]:
    raw = layer_tar([file(name, name.encode())])
    blob = compress_bytes(raw, "gzip")
    path = tmp_path / f"{name}.tar.gz"
    path.write_bytes(blob)
    return path, Digest.of(blob), Digest.of(raw), mediatype.OCI_LAYER_GZIP


def test_a_step_keeps_its_layer_until_pruned(dockyard_root: Path, tmp_path: Path) -> None:
    with Store(dockyard_root) as store:
        layer = _layer(tmp_path, "a")
        row = store.record_build_step("sha256:k1", "RUN x # buildkit", layer=layer)
        store.record_build_step("sha256:k2", "ENV a=b", description="metadata only")
        assert row.diff_id == str(layer[2])
        assert store.gc() == 0  # the cache holds the blob
        assert store.blobs.exists(layer[1])
        hit = store.build_step("sha256:k1")
        assert hit is not None and hit.diff_id == str(layer[2]) and hit.created_by == "RUN x # buildkit"
        assert store.build_step("sha256:nope") is None
        report = store.check()
        assert report.problems == [] and report.unreferenced_blobs == []
        _records, freed = store.prune()  # image prune: steps whose layers no image uses go
        assert freed > 0
        assert store.build_step("sha256:k1") is None and store.build_step("sha256:k2") is None
        assert not store.blobs.exists(layer[1])


def test_steps_of_an_image_survive_image_prune_but_not_prune_all(dockyard_root: Path, tmp_path: Path) -> None:
    image = build_image([[file("a", b"a")]])
    from dockyard.image.transfer import put_image
    from dockyard.oci import reference as refs
    from dockyard.store.ingest import StoreDestination

    with Store(dockyard_root) as store:
        with StoreDestination(store, [refs.parse("example/app:1")]) as dest:
            put_image(dest, image)
            dest.commit()
        diff_id = str(image.layers()[0].diff_id())
        store.record_build_step("sha256:k", "COPY a / # buildkit", diff_id=diff_id)
        store.prune()
        assert store.build_step("sha256:k") is not None
        store.prune(all_unused=True)
        assert store.build_step("sha256:k") is None
        assert store.check().problems == []


def test_a_step_whose_blob_is_gone_is_a_miss(dockyard_root: Path, tmp_path: Path) -> None:
    with Store(dockyard_root) as store:
        layer = _layer(tmp_path, "b")
        store.record_build_step("sha256:k", "RUN y # buildkit", layer=layer)
        store.blobs.delete(layer[1])
        assert store.build_step("sha256:k") is None
        assert any("build cache" in p for p in store.check().problems)
