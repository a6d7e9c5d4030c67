"""``dockyard build`` outputs (``--output type=oci|docker|local``, ``--iidfile``, ``--metadata-file``, ``-q``) read
back by skopeo and dockyard, and reproducibility: two copies of a context made more than a second apart, built in
two stores with the same ``SOURCE_DATE_EPOCH``, give the same image digest. Needs root and runc (the RUN step)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
from build_util import clone_store, dockyard, store_image

from dockyard.layers.compression import open_decompressed
from dockyard.layers.tarstream import TarReader

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(os.geteuid() != 0, reason="RUN steps need root (runc, overlayfs mounts)"),
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed (Debian package runc)"),
]

EPOCH = 1700000000
SCRATCH = "FROM scratch\nCOPY hello.txt /hello.txt\nCOPY sub/ /sub/\nCMD [\"/hello\"]\n"


@pytest.fixture
def store(prepared: Path, tmp_path: Path) -> Path:
    return clone_store(prepared, tmp_path / "root")


@pytest.fixture
def scratch_ctx(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    (ctx / "sub").mkdir(parents=True)
    (ctx / "Dockerfile").write_text(SCRATCH)
    (ctx / "hello.txt").write_text("hello\n")
    (ctx / "sub" / "s.txt").write_text("s\n")
    return ctx


def skopeo_inspect(ref: str) -> dict[str, object]:
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed")
    proc = subprocess.run(["skopeo", "inspect", ref], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def test_output_oci_tar(store: Path, scratch_ctx: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.tar"
    dockyard(store, "build", "--progress", "plain", "--output", f"type=oci,dest={out}", scratch_ctx)
    info = skopeo_inspect(f"oci-archive:{out}")
    assert info["Architecture"] == "amd64" and len(info["Layers"]) == 2  # type: ignore[arg-type]
    with tarfile.open(out) as t:
        assert {"oci-layout", "index.json"} <= set(t.getnames())


def test_output_oci_directory(store: Path, scratch_ctx: Path, tmp_path: Path) -> None:
    out = tmp_path / "layout"
    dockyard(store, "build", "--progress", "plain", "--output", f"type=oci,dest={out},tar=false", scratch_ctx)
    assert (out / "oci-layout").is_file() and (out / "index.json").is_file()
    info = skopeo_inspect(f"oci:{out}")
    assert len(info["Layers"]) == 2  # type: ignore[arg-type]


def test_output_docker_archive_loads(store: Path, scratch_ctx: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.tar"
    dockyard(store, "build", "--progress", "plain", "-t", "fromdocker:1", "--output", f"type=docker,dest={out}",
             scratch_ctx)  # fmt: skip
    skopeo_inspect(f"docker-archive:{out}")
    other = tmp_path / "other"
    proc = dockyard(other, "load", "-i", out)
    assert "fromdocker:1" in proc.stdout
    assert store_image(other, "fromdocker:1").config().container_config["Cmd"] == ["/hello"]


def test_output_docker_refused_for_two_platforms(store: Path, scratch_ctx: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.tar"
    proc = dockyard(store, "build", "--progress", "plain", "--platform", "linux/amd64,linux/arm64", "--output",
                    f"type=docker,dest={out}", scratch_ctx, check=False)  # fmt: skip
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "docker" in proc.stderr.lower(), proc.stderr
    assert not out.exists()


def test_output_local_directory(store: Path, scratch_ctx: Path, tmp_path: Path) -> None:
    out = tmp_path / "local"
    dockyard(store, "build", "--progress", "plain", "--output", f"type=local,dest={out}", scratch_ctx)
    assert (out / "hello.txt").read_text() == "hello\n" and (out / "sub" / "s.txt").read_text() == "s\n"
    two = tmp_path / "two"
    dockyard(store, "build", "--progress", "plain", "--platform", "linux/amd64,linux/arm64", "--output",
             f"type=local,dest={two}", scratch_ctx)  # fmt: skip
    assert sorted(p.name for p in two.iterdir()) == ["linux_amd64", "linux_arm64"]
    assert (two / "linux_arm64" / "hello.txt").read_text() == "hello\n"


def test_iidfile_metadata_file_and_quiet(store: Path, scratch_ctx: Path, tmp_path: Path) -> None:
    iid, meta = tmp_path / "iid", tmp_path / "meta.json"
    proc = dockyard(store, "build", "-q", "-t", "quiet:1", "--iidfile", iid, "--metadata-file", meta, scratch_ctx)
    image_id = iid.read_text()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    assert proc.stdout == image_id + "\n"
    assert str(store_image(store, "quiet:1").config().digest) == image_id
    metadata = json.loads(meta.read_text())
    assert metadata["containerimage.config.digest"] == image_id
    assert metadata["containerimage.digest"].startswith("sha256:")
    assert "quiet:1" in metadata["image.name"]


# --------------------------------------------------------------------------- reproducibility

REPRO = """\
FROM debian:bookworm
COPY . /ctx/
RUN --network=none echo made-in-run > /run-made && mkdir -p /d/e && touch /d/e/x && rm /etc/issue
"""


def _context(dest: Path) -> Path:
    (dest / "sub").mkdir(parents=True)
    (dest / "Dockerfile").write_text(REPRO)
    (dest / "a.txt").write_text("a\n")
    (dest / "sub" / "b.txt").write_text("b\n")
    return dest


def test_reproducible_with_source_date_epoch(prepared: Path, tmp_path: Path) -> None:
    first_ctx = _context(tmp_path / "one")
    time.sleep(1.1)
    second_ctx = _context(tmp_path / "two")
    assert (first_ctx / "a.txt").stat().st_mtime != (second_ctx / "a.txt").stat().st_mtime
    digests = []
    for name, ctx in (("s1", first_ctx), ("s2", second_ctx)):
        root = clone_store(prepared, tmp_path / name)
        meta = tmp_path / f"{name}.json"
        dockyard(root, "build", "-t", "repro:1", "--progress", "plain", "--platform", "linux/amd64",
                 "--metadata-file", meta, ctx, env={"SOURCE_DATE_EPOCH": str(EPOCH)})  # fmt: skip
        metadata = json.loads(meta.read_text())
        digests.append((metadata["containerimage.digest"], metadata["containerimage.config.digest"]))
        image = store_image(root, "repro:1")
        config = image.config()
        assert config.created == "2023-11-14T22:13:20Z"
        base = len(store_image(root, "debian:bookworm").config().history)
        assert {h.created for h in config.history[base:]} == {"2023-11-14T22:13:20Z"}
        for layer in image.layers()[1:]:
            with layer.open() as raw, open_decompressed(raw) as stream:
                for h in TarReader(stream):
                    assert h.mtime_ns <= EPOCH * 10**9, h.name
    assert digests[0] == digests[1]


def test_output_oci_two_platforms_is_an_index(store: Path, scratch_ctx: Path, tmp_path: Path) -> None:
    """Two platforms (FROM scratch: no emulation needed) make an index; skopeo copies each platform out."""
    out = tmp_path / "multi.tar"
    dockyard(store, "build", "--progress", "plain", "--platform", "linux/amd64,linux/arm64", "--output",
             f"type=oci,dest={out}", scratch_ctx)  # fmt: skip
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed")
    raw = subprocess.run(["skopeo", "inspect", "--raw", f"oci-archive:{out}"], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    index = json.loads(raw)
    platforms = sorted(f"{m['platform']['os']}/{m['platform']['architecture']}" for m in index["manifests"])
    assert platforms == ["linux/amd64", "linux/arm64", "unknown/unknown", "unknown/unknown"]  # + provenance
    for arch in ("amd64", "arm64"):
        dest = tmp_path / f"copy-{arch}"
        subprocess.run(["skopeo", "--override-arch", arch, "copy", f"oci-archive:{out}", f"oci:{dest}:x"],
                       capture_output=True, check=True)  # fmt: skip
        config = skopeo_inspect(f"oci:{dest}:x")
        assert config["Architecture"] == arch
