"""Error messages name what the user gave (the path, ``-`` for stdin), never an internal temporary file, and say
where a truncated archive ends. skopeo (Go's archive/tar, as Docker reads archives) is the judge of which
archives are complete."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from fixtures_util import require_tool


def _members(path: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(path) as tar:
        return {m.name: m for m in tar}


def _cut(src: Path, dst: Path, length: int) -> Path:
    dst.write_bytes(src.read_bytes()[:length])
    return dst


def _skopeo_reads(path: Path) -> bool:
    skopeo = require_tool("skopeo")
    proc = subprocess.run(
        [
            skopeo,
            "--insecure-policy",
            "inspect",
            "--raw",
            f"docker-archive:{path}:@1",
        ],  # the second image, app: every layer
        capture_output=True,
        timeout=120,
        check=False,
    )
    return proc.returncode == 0


def _error(cli: Any, *args: Any) -> str:
    res = cli(*args, check=False)
    assert res.returncode == 1, res
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


def test_archive_cut_inside_manifest_json(cli: Any, samples_tar: Path, tmp_path: Path) -> None:
    manifest = _members(samples_tar)["manifest.json"]
    cut = _cut(samples_tar, tmp_path / "cut.tar", manifest.offset_data + manifest.size // 2)
    assert not _skopeo_reads(cut)
    assert _error(cli, "load", "-i", cut) == (
        f"Error: {cut}: truncated: the archive ends inside manifest.json ({manifest.size} bytes expected)"
    )


def test_archive_cut_inside_a_layer(cli: Any, samples_tar: Path, tmp_path: Path) -> None:
    members = _members(samples_tar)
    with tarfile.open(samples_tar) as tar:
        layers = json.loads(tar.extractfile("manifest.json").read())[1]["Layers"]  # type: ignore[union-attr]
    layer = members[layers[-1]]
    cut = _cut(samples_tar, tmp_path / "cut.tar", layer.offset_data + 100)
    assert not _skopeo_reads(cut)
    message = _error(cli, "load", "-i", cut)
    assert message == f"Error: {cut}: truncated: the archive ends inside {layer.name} ({layer.size} bytes expected)"
    assert "not a tar archive" not in message


def test_archive_cut_inside_a_header(cli: Any, samples_tar: Path, tmp_path: Path) -> None:
    manifest = _members(samples_tar)["manifest.json"]
    cut = _cut(samples_tar, tmp_path / "cut.tar", manifest.offset + 100)
    assert not _skopeo_reads(cut)
    message = _error(cli, "load", "-i", cut)
    assert message.startswith(f"Error: {cut}: truncated: the archive ends inside the header of the entry after ")


def test_archive_without_end_blocks_is_complete(cli: Any, samples_tar: Path, tmp_path: Path) -> None:
    # Go's archive/tar (skopeo, Docker) reads an archive that ends after its last entry's padded data
    last = max(_members(samples_tar).values(), key=lambda m: m.offset)
    end = last.offset_data + -(-last.size // 512) * 512
    cut = _cut(samples_tar, tmp_path / "no-end-blocks.tar", end)
    assert _skopeo_reads(cut)
    assert cli("load", "-i", cut).stdout.count("Loaded image") == 2


def test_stdin_is_named_dash(cli: Any, samples_tar: Path, tmp_path: Path, run_bytes: Any) -> None:
    manifest = _members(samples_tar)["manifest.json"]
    cut = _cut(samples_tar, tmp_path / "cut.tar", manifest.offset_data + 10)
    with open(cut, "rb") as stdin:
        proc = run_bytes("load", stdin=stdin)
    assert proc.returncode == 1
    assert proc.stderr.decode() == (
        f"Error: -: truncated: the archive ends inside manifest.json ({manifest.size} bytes expected)\n"
    )


@pytest.mark.parametrize("kind", ["gzip", "bz2", "lzma"])
def test_compressed_archive_cut_short(cli: Any, samples_tar: Path, tmp_path: Path, kind: str) -> None:
    import importlib

    data = importlib.import_module(kind).compress(samples_tar.read_bytes())
    cut = tmp_path / "cut.tar.compressed"
    cut.write_bytes(data[: len(data) // 2])
    message = _error(cli, "load", "-i", cut)
    assert message.startswith(f"Error: {cut}: truncated"), message


@pytest.mark.parametrize("command", [["save"], ["save", "--format", "oci"], ["export"]])
def test_output_errors_name_the_output(samples: Any, tmp_path: Path, command: list[str]) -> None:
    for target in (tmp_path / "missing-dir" / "out.tar", tmp_path / "file.tar" / "out.tar"):
        (tmp_path / "file.tar").write_bytes(b"")
        message = _error(samples, *command, "-o", target, "dockyard/sample:1.0")
        assert message.endswith(f": {target}"), message
        assert "dockyard-tmp" not in message and ".out.tar." not in message


def test_archive_with_manifest_first_cut_inside_a_layer(cli: Any, samples_tar: Path, tmp_path: Path) -> None:
    # manifest.json is read whole, so the archive is taken for a docker-archive; the reader finds the cut
    reordered = tmp_path / "manifest-first.tar"
    with tarfile.open(samples_tar) as src, tarfile.open(reordered, "w", format=tarfile.PAX_FORMAT) as out:
        for m in sorted(src.getmembers(), key=lambda m: m.name != "manifest.json"):
            out.addfile(m, src.extractfile(m) if m.isfile() else None)
    layer = max(_members(reordered).values(), key=lambda m: m.size)
    cut = _cut(reordered, tmp_path / "cut.tar", layer.offset_data + 300)
    assert _error(cli, "load", "-i", cut) == (
        f"Error: {cut}: truncated: the archive ends inside {layer.name} ({layer.size} bytes expected)"
    )
