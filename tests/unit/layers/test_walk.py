"""The layer walker and the applier, on synthetic multi-layer images built with dockyard's own builder."""

from __future__ import annotations

import io
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import BinaryIO

import pytest

from dockyard.errors import InvalidInput, UnsafeLayer
from dockyard.image.base import StaticImage
from dockyard.image.build import Entry, build_image, directory, file, hardlink, opaque, symlink, whiteout
from dockyard.layers.apply import OPAQUE, REPLACED, WHITEOUT, apply
from dockyard.layers.tarstream import LayerOpener
from dockyard.layers.walk import FileInfo, LayerResult, Read, glob_required, walk, walk_layer


@dataclass
class Lines:
    """Finds the lines of ``*.conf`` files; a symlink gives ``-> target`` (it is never followed)."""

    name: str = "lines"
    version: int = 1
    calls: list[str] = field(default_factory=list)

    def required(self, path: str, info: FileInfo) -> bool:
        return glob_required("*.conf")(path, info)

    def analyze(self, path: str, info: FileInfo, read: Read) -> Iterable[Hashable]:
        self.calls.append(path)
        if info.kind == "symlink":
            assert read() == b""
            return [f"-> {info.linkname}"]
        return read().decode().splitlines()


@dataclass
class Sizes:
    """A second analyzer wanting some of the same files: the contents are read once for both."""

    name: str = "sizes"
    version: int = 1

    def required(self, path: str, info: FileInfo) -> bool:
        return info.kind in ("file", "hardlink") and path.startswith("etc/")

    def analyze(self, path: str, info: FileInfo, read: Read) -> Iterable[Hashable]:
        data = read()
        assert read() is data  # the same bytes, read from the stream once
        return [len(data)]


class CountingOpener:
    def __init__(self, opener: LayerOpener) -> None:
        self._opener = opener
        self.opens = 0
        self.bytes = 0

    def __call__(self) -> BinaryIO:
        self.opens += 1
        data = self._opener().read()
        self.bytes += len(data)
        return io.BytesIO(data)


LAYERS: list[list[Entry]] = [
    [
        directory("etc"),
        file("etc/a.conf", "a1\n"),
        file("etc/b.conf", "b1\n"),
        hardlink("etc/hl.conf", "etc/b.conf"),  # same layer: the link gets b.conf's findings
        symlink("etc/link.conf", "a.conf"),
        directory("opt"),
        file("opt/x.conf", "x\n"),
        directory("data"),
        file("data/d.conf", "d\n"),
        file("data/keep.txt", "not analyzed"),
        file("./usr//share/z.conf", "z\n"),  # names are normalised as unpack does
    ],
    [
        file("etc/a.conf", "a2\n"),  # override
        whiteout("etc/b.conf"),  # removes b.conf, never the hard link made below it
        opaque("data"),
        file("data/new.conf", "n\n"),  # same layer as the opaque marker: kept
        file("opt", "opt is a file now"),  # a directory replaced by a file loses its subtree
        hardlink("usr/share/hz.conf", "usr/share/z.conf"),  # a link to a lower layer's file
    ],
    [
        directory("etc"),  # a directory over a directory merges: nothing below is removed
        whiteout("usr/share/z.conf"),
    ],
]


def _image() -> StaticImage:
    return build_image(LAYERS)


def _layers(image: StaticImage) -> list[tuple[str, LayerOpener]]:
    return [(str(layer.diff_id()), layer.open) for layer in image.layers()]


def _by_path(results: list[LayerResult], analyzer: str) -> dict[str, list[object]]:
    out: dict[str, list[object]] = {}
    for f in apply(results).findings:
        if f.analyzer == analyzer:
            out.setdefault(f.path, []).append(f.value)
    return out


def test_per_layer_results_and_changes() -> None:
    image = _image()
    results = walk(_layers(image), [Lines()])
    base, top, last = results
    assert [r.diff_id for r in results] == [str(layer.diff_id()) for layer in image.layers()]
    lines = base.analyzer("lines")
    assert {f.path: f.value for f in lines.findings if f.path != "etc/link.conf"} == {
        "etc/a.conf": "a1",
        "etc/b.conf": "b1",
        "opt/x.conf": "x",
        "data/d.conf": "d",
        "usr/share/z.conf": "z",
    }
    assert [f.value for f in lines.findings if f.path == "etc/link.conf"] == ["-> a.conf"]
    assert lines.links == (("etc/hl.conf", "etc/b.conf"),)
    assert top.changes.whiteouts == ("etc/b.conf",)
    assert top.changes.opaque_dirs == ("data",)
    assert dict(top.changes.written)["opt"] == "file"
    assert top.analyzer("lines").links == (("usr/share/hz.conf", "usr/share/z.conf"),)
    assert last.changes.whiteouts == ("usr/share/z.conf",)


def test_applier_final_view_knows_the_layer_of_each_finding() -> None:
    image = _image()
    diff_ids = [str(layer.diff_id()) for layer in image.layers()]
    view = apply(walk(_layers(image), [Lines()]))
    where = {(f.path, f.value): (f.layer, f.diff_id) for f in view.findings}
    assert where == {
        ("etc/a.conf", "a2"): (1, diff_ids[1]),  # added on top, replacing the base's
        ("etc/hl.conf", "b1"): (0, diff_ids[0]),  # the inode survives the whiteout of its other name
        ("etc/link.conf", "-> a.conf"): (0, diff_ids[0]),
        ("data/new.conf", "n"): (1, diff_ids[1]),
        ("usr/share/hz.conf", "z"): (1, diff_ids[1]),  # linked in layer 1, keeps z after layer 2 deletes z.conf
    }
    gone = {(r.finding.path, r.finding.value): (r.layer, r.diff_id, r.how, r.finding.layer) for r in view.removed}
    assert gone == {
        ("etc/a.conf", "a1"): (1, diff_ids[1], REPLACED, 0),
        ("etc/b.conf", "b1"): (1, diff_ids[1], WHITEOUT, 0),
        ("data/d.conf", "d"): (1, diff_ids[1], OPAQUE, 0),
        ("opt/x.conf", "x"): (1, diff_ids[1], REPLACED, 0),
        ("usr/share/z.conf", "z"): (2, diff_ids[2], WHITEOUT, 0),
    }
    assert view.opaque_dirs == (("data", diff_ids[1]),)


def test_each_layer_is_read_once_and_contents_shared() -> None:
    image = _image()
    counters = [CountingOpener(opener) for _, opener in _layers(image)]
    lines, sizes = Lines(), Sizes()
    results = walk([(d, c) for (d, _), c in zip(_layers(image), counters, strict=True)], [lines, sizes])
    assert [c.opens for c in counters] == [1, 1, 1]
    assert results[0].analyzer("sizes").findings[0].path == "etc/a.conf"
    assert _by_path(results, "sizes") == {"etc/a.conf": [3], "etc/hl.conf": [3]}
    assert "data/keep.txt" not in lines.calls  # only what it asked for
    assert lines.calls.count("etc/hl.conf") == 0  # hard links are resolved by the applier, not re-analyzed


def test_cache_by_diff_id_and_analyzer_version() -> None:
    image = _image()
    cache: dict[tuple[str, str, int], object] = {}
    first = walk(_layers(image), [Lines(), Lines(name="other")], cache=cache)  # type: ignore[arg-type]
    counters = [CountingOpener(opener) for _, opener in _layers(image)]
    layers = [(d, c) for (d, _), c in zip(_layers(image), counters, strict=True)]
    again = walk(layers, [Lines(), Lines(name="other")], cache=cache)  # type: ignore[arg-type]
    assert again == first
    assert [c.opens for c in counters] == [0, 0, 0]  # every result cached: no layer is read
    newer, other = Lines(version=2), Lines(name="other")
    walk(layers, [newer, other], cache=cache)  # type: ignore[arg-type]
    assert [c.opens for c in counters] == [1, 1, 1]  # a new version runs again ...
    assert "etc/a.conf" in newer.calls
    assert other.calls == []  # ... and only the analyzer that changed


def test_size_cap_and_read_after_the_walker_moved_on() -> None:
    image = build_image([[file("big.conf", "x" * 5000), file("small.conf", "s")]])
    kept: list[Read] = []

    @dataclass
    class Keeper(Lines):
        def analyze(self, path: str, info: FileInfo, read: Read) -> Iterable[Hashable]:
            kept.append(read)
            return super().analyze(path, info, read)

    (result,) = walk(_layers(image), [Keeper()], max_file_size=1000)
    assert result.analyzer("lines").skipped == ("big.conf",)
    assert [f.path for f in result.analyzer("lines").findings] == ["small.conf"]
    with pytest.raises(InvalidInput, match="while the walker is on it"):
        kept[0]()


@pytest.mark.parametrize("name", ["../escape.conf", "etc/../../escape.conf", "/abs.conf"])
def test_hostile_names_refused_as_unpack_refuses_them(name: str) -> None:
    from layertar_helpers import F, make_tar

    raw = make_tar([F(name, b"x")])
    opener: Callable[[], BinaryIO] = lambda: io.BytesIO(raw)  # noqa: E731
    with pytest.raises(UnsafeLayer):
        walk_layer(opener, "sha256:x", [Lines()])


def test_root_opaque_marker_hides_every_lower_finding() -> None:
    image = build_image(
        [[file("a.conf", "1"), directory("d"), file("d/b.conf", "2")], [file(".wh..wh..opq"), file("c.conf", "3")]]
    )
    view = apply(walk(_layers(image), [Lines()]))
    assert [(f.path, f.value) for f in view.findings] == [("c.conf", "3")]
    assert sorted((r.finding.path, r.how) for r in view.removed) == [("a.conf", OPAQUE), ("d/b.conf", OPAQUE)]
