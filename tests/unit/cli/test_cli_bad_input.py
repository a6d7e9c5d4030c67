"""Bad input: a clear one-line error, a non-zero exit, and a store left exactly as it was."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
from pathlib import Path
from typing import Any

import pytest

from dockyard.image import sample
from dockyard.image.build import build_image, file, symlink
from dockyard.transport import docker_archive, oci_layout


def _state(root: Path) -> tuple[list[str], list[str]]:
    blobs = sorted(str(p.relative_to(root)) for p in (root / "blobs").rglob("*") if p.is_file())
    with sqlite3.connect(root / "metadata.db") as db:
        rows = [line for line in db.iterdump() if line.startswith("INSERT")]
    return blobs, rows


@pytest.fixture
def populated(cli: Any, dockyard_root: Path, tmp_path: Path) -> Any:
    path = tmp_path / "good.tar"
    docker_archive.write([(sample.base_image(), ["good:1"])], path)
    cli("load", "-q", "-i", str(path))
    return cli


def _expect_clean_failure(cli: Any, root: Path, *args: str, needle: str) -> str:
    before = _state(root)
    res = cli(*args, check=False)
    assert res.returncode != 0
    lines = [line for line in res.stderr.splitlines() if not line.endswith((": Already exists", ": Loaded"))]
    assert len(lines) == 1, res.stderr  # progress lines aside, one line says what went wrong
    err = lines[0]
    assert err.startswith("Error: ")
    assert needle.lower() in err.lower(), err
    assert "Traceback" not in res.stderr
    assert _state(root) == before
    assert list((root / "tmp").iterdir()) == []
    assert "store OK" in cli("system", "check").stdout
    return err


def _rewrite_tar(src: Path, dst: Path, change: Any) -> None:
    with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
        for m in tin:
            data = tin.extractfile(m).read() if m.isfile() else None  # type: ignore[union-attr]
            m2, data2 = change(m, data)
            if m2 is None:
                continue
            if data2 is not None:
                m2.size = len(data2)
            tout.addfile(m2, io.BytesIO(data2) if data2 is not None else None)


def test_not_an_archive(populated: Any, dockyard_root: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"this is not a tar file at all" * 100)
    _expect_clean_failure(populated, dockyard_root, "load", "-i", str(junk), needle=str(junk))
    _expect_clean_failure(populated, dockyard_root, "load", "-i", str(tmp_path / "missing.tar"), needle="missing")


def test_corrupted_layer(populated: Any, dockyard_root: Path, tmp_path: Path) -> None:
    src = tmp_path / "src.tar"
    docker_archive.write([(sample.app_image(), ["app:1"])], src)

    def corrupt(m: tarfile.TarInfo, data: bytes | None) -> tuple[tarfile.TarInfo, bytes | None]:
        if data is not None and data[:1] != b"{" and len(data) > 1024 and m.name.startswith("blobs/"):
            data = data[:-600] + b"X" * 600
        return m, data

    bad = tmp_path / "bad.tar"
    _rewrite_tar(src, bad, corrupt)
    _expect_clean_failure(populated, dockyard_root, "load", "-i", str(bad), needle="mismatch")


def test_manifest_json_escape(populated: Any, dockyard_root: Path, tmp_path: Path) -> None:
    src = tmp_path / "src.tar"
    docker_archive.write([(sample.app_image(), ["app:1"])], src)

    def escape(m: tarfile.TarInfo, data: bytes | None) -> tuple[tarfile.TarInfo, bytes | None]:
        if m.name == "manifest.json" and data is not None:
            doc = json.loads(data)
            doc[0]["Layers"][0] = "../../etc/passwd"
            data = json.dumps(doc).encode()
        return m, data

    bad = tmp_path / "bad.tar"
    _rewrite_tar(src, bad, escape)
    _expect_clean_failure(populated, dockyard_root, "load", "-i", str(bad), needle="..")


def test_bad_config_json(populated: Any, dockyard_root: Path, tmp_path: Path) -> None:
    src = tmp_path / "src.tar"
    docker_archive.write([(sample.app_image(), ["app:1"])], src)
    with tarfile.open(src) as tar:
        config_path = json.loads(tar.extractfile("manifest.json").read())[0]["Config"]  # type: ignore[union-attr]

    def garble(m: tarfile.TarInfo, data: bytes | None) -> tuple[tarfile.TarInfo, bytes | None]:
        if m.name == config_path:
            data = b'{"rootfs": "nope"'
        return m, data

    bad = tmp_path / "bad.tar"
    _rewrite_tar(src, bad, garble)
    _expect_clean_failure(populated, dockyard_root, "load", "-i", str(bad), needle="config")


def test_oci_layout_tampered_manifest_and_missing_blob(populated: Any, dockyard_root: Path, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    oci_layout.write([(sample.app_image(), ["app:1"])], layout, as_tar=False)
    index = json.loads((layout / "index.json").read_text())
    mdigest = index["manifests"][0]["digest"].split(":")[1]
    manifest_path = layout / "blobs" / "sha256" / mdigest
    original = manifest_path.read_bytes()
    manifest_path.write_bytes(original.replace(b'"schemaVersion":2', b'"schemaVersion": 2'))
    _expect_clean_failure(populated, dockyard_root, "load", "-i", str(layout), "--name", "app", needle="mismatch")
    manifest_path.write_bytes(original)
    layer = json.loads(original)["layers"][-1]["digest"].split(":")[1]
    (layout / "blobs" / "sha256" / layer).unlink()
    _expect_clean_failure(populated, dockyard_root, "load", "-i", str(layout), "--name", "app", needle=layer[:12])


def test_decompression_bomb_refused_on_load(populated: Any, dockyard_root: Path, tmp_path: Path) -> None:
    bomb = build_image([[file("zeros", b"\0" * (8 << 20))]], compression="gzip")
    path = tmp_path / "bomb"
    oci_layout.write([(bomb, ["bomb:1"])], path, as_tar=False)
    before = _state(dockyard_root)
    res = populated(
        "load", "-i", str(path), "--name", "bomb", check=False, env={"DOCKYARD_MAX_LAYER_SIZE": str(1 << 20)}
    )
    assert res.returncode == 1 and "decompression bomb" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert _state(dockyard_root) == before


@pytest.mark.parametrize(
    "entries",
    [
        [file("../escape", "x")],
        [file("/abs", "x")],
        [symlink("d", "/"), file("d/etc/passwd", "pwned")],
        [symlink("up", "../../.."), file("up/escape", "x")],
    ],
    ids=["dotdot", "absolute", "symlink-root", "symlink-up"],
)
def test_hostile_layer_refused_by_unpack(
    populated: Any, dockyard_root: Path, tmp_path: Path, entries: list[Any]
) -> None:
    image = build_image([entries], compression="gzip")
    path = tmp_path / "hostile"
    oci_layout.write([(image, ["hostile:1"])], path, as_tar=False)
    populated("load", "-q", "-i", str(path), "--name", "hostile")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "sentinel").write_text("keep")
    dest = outside / "rootfs"
    res = populated("unpack", "hostile:1", str(dest), check=False)
    assert res.returncode == 1, res.stdout
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert sorted(p.name for p in outside.iterdir()) == ["sentinel"]  # nothing written, dest removed again
    assert (outside / "sentinel").read_text() == "keep"
    assert not (tmp_path / "escape").exists() and not Path("/abs").exists()
