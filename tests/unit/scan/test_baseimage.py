"""The base image of an image in the store: the longest proper prefix of its layer chain, or its annotations."""

from __future__ import annotations

from pathlib import Path

from dockyard.image.base import StaticImage
from dockyard.image.build import build_image, file
from dockyard.oci import reference as refs
from dockyard.oci.manifest import Manifest
from dockyard.scan.baseimage import find_base
from dockyard.store.store import Store

BASE = [file("etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n")]
MID = [file("usr/lib/python3/x.py", "x = 1\n")]
TOP = [file("app/main.py", "print('hi')\n")]


def test_longest_prefix_wins(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as store:
        base = build_image([BASE])
        mid = build_image([BASE, MID])
        app = build_image([BASE, MID, TOP])
        other = build_image([[file("etc/os-release", "ID=debian\n")]])
        for image, name in ((base, "alpine:3.19"), (mid, "python:3-alpine"), (app, "me/app:1"), (other, "debian:12")):
            store.ingest(image, [refs.parse(name)])
        found = find_base(store, str(app.config().digest))
        assert found is not None
        assert (found.image_id, found.name, found.layers, found.how) == (
            str(mid.config().digest),
            "python:3-alpine",
            2,
            "layers",
        )
        assert find_base(store, str(base.config().digest)) is None  # nothing below a one-layer base
        assert find_base(store, str(other.config().digest)) is None


def test_annotation_names_the_base(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as store:
        base = build_image([BASE])
        mid = build_image([BASE, MID])
        app = build_image([BASE, MID, TOP])
        m = app.manifest()
        annotated = Manifest.build(
            m.config, list(m.layers), m.media_type, {"org.opencontainers.image.base.name": "alpine:3.19"}
        )
        app2 = StaticImage(annotated, app.config(), tuple(app.layers()))
        store.ingest(base, [refs.parse("alpine:3.19")])
        store.ingest(mid, [refs.parse("python:3-alpine")])
        store.ingest(app2, [refs.parse("me/app:2")])
        found = find_base(store, str(app.config().digest))
        assert found is not None and found.name == "alpine:3.19" and found.how == "annotation"
