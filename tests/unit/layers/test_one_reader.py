"""``load``, ``system check``, ``unpack`` and ``export`` read layer tars with one reader and agree (issue 8 item 2).

A layer that ends the way umoci 0.4.7's ``insert`` writes it (last data unpadded, no end blocks) is
accepted by all four; a layer whose last member has fewer bytes than its header says is refused by all.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from layertar_helpers import D, F, make_tar

from dockyard import rootfs
from dockyard.errors import InvalidInput
from dockyard.image.base import BlobLayer, StaticImage
from dockyard.image.build import compress_bytes
from dockyard.oci import mediatype
from dockyard.oci import reference as refs
from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor, descriptor_of
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Manifest
from dockyard.store.store import Store


def image_of_tars(tars: list[bytes], compression: str = "gzip") -> StaticImage:
    """An image whose layers are exactly these (possibly odd) tar streams."""
    layers = []
    for raw in tars:
        blob = compress_bytes(raw, compression)
        desc = Descriptor(mediatype.layer_type(mediatype.OCI_MANIFEST, compression), Digest.of(blob), len(blob))
        layers.append(BlobLayer(desc, Digest.of(raw), lambda b=blob: io.BytesIO(b), len(raw)))
    cfg = ImageConfig.build([layer.diff_id() for layer in layers])
    manifest = Manifest.build(
        descriptor_of(cfg.raw, mediatype.config_type_for(mediatype.OCI_MANIFEST)),
        [layer.descriptor() for layer in layers],
        mediatype.OCI_MANIFEST,
    )
    return StaticImage(manifest, cfg, tuple(layers))


BASE = make_tar([D("etc"), F("etc/os", b"base\n")])
_TOP = make_tar([D("app"), F("app/.wh..wh..opq"), F("app/run", b"#!/bin/sh\n" * 7)])
_END = len(_TOP) - len(_TOP.rstrip(b"\0"))  # the end blocks and record padding tarfile wrote
UNPADDED = _TOP[: len(_TOP) - _END]  # ends right after the last data byte (70 bytes: not a whole block)
SHORT = UNPADDED[:-1]  # the last member's data is one byte short


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "store")
    yield s  # type: ignore[misc]
    s.close()


def _load(store: Store, top: bytes) -> None:
    store.ingest(image_of_tars([BASE, top]), [refs.parse("app:v2")])


def test_unpadded_ending_accepted_everywhere(store: Store, tmp_path: Path) -> None:
    assert len(UNPADDED) % 512 != 0
    _load(store, UNPADDED)
    report = store.check()
    assert report.ok, report.problems
    rootfs.unpack(store, "app:v2", tmp_path / "rootfs")
    assert (tmp_path / "rootfs/app/run").read_bytes() == b"#!/bin/sh\n" * 7
    rootfs.export(store, "app:v2", tmp_path / "out.tar")
    with tarfile.open(tmp_path / "out.tar") as t:
        assert t.extractfile("app/run").read() == b"#!/bin/sh\n" * 7  # type: ignore[union-attr]


def test_short_data_refused_everywhere(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidInput, match="tar"):
        _load(store, SHORT)  # load and pull refuse it: the digests match but the tar would not unpack
    assert store.meta.images() == [] and list(store.blobs.all()) == []
    # a store that holds such a layer anyway (written by an older dockyard): check, unpack and export refuse it
    from dockyard.layers.digesting import LayerDigests

    monkeypatch.setattr(LayerDigests, "check_tar", lambda self: None)
    _load(store, SHORT)
    monkeypatch.undo()
    report = store.check()
    assert any("would not unpack" in p and "tar" in p for p in report.problems), report.problems
    with pytest.raises(InvalidInput, match="tar"):
        rootfs.unpack(store, "app:v2", tmp_path / "rootfs")
    with pytest.raises(InvalidInput, match="tar"):
        rootfs.export(store, "app:v2", tmp_path / "out.tar")
