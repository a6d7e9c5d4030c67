"""The Debian bookworm image end to end with real peers: skopeo writes, dockyard loads, saves, unpacks;
skopeo reads dockyard's archives back, podman loads them, and dockyard's unpack equals umoci's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from fixtures_util import LAYER2_ADDED_FILES, LAYER2_REMOVED, podman_command, remove_tree, require_tool

pytestmark = [pytest.mark.interop, pytest.mark.slow]


def _skopeo(*args: str) -> str:
    skopeo = require_tool("skopeo")
    proc = subprocess.run([skopeo, "--insecure-policy", *args], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _diff_ids_of_layout(layout: Path, tag: str) -> list[str]:
    info = json.loads(_skopeo("inspect", "--config", f"oci:{layout}:{tag}"))
    return list(info["rootfs"]["diff_ids"])


def test_load_skopeo_docker_archive(cli: Any, debian_docker_archive: Path, debian_oci_layout: Path) -> None:
    out = cli("load", "-i", str(debian_docker_archive))
    assert out.stdout.strip() == "Loaded image: debian:bookworm"
    doc = json.loads(cli("inspect", "debian:bookworm").stdout)[0]
    assert doc["RootFS"]["Layers"] == _diff_ids_of_layout(debian_oci_layout, "bookworm")
    assert doc["Config"]["Cmd"] == ["bash"]
    rows = cli("images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}").stdout.split()
    assert rows[0] == "debian:bookworm" and rows[1].endswith("MB")
    assert "store OK" in cli("system", "check").stdout


def test_load_oci_layout_with_name(cli: Any, debian_oci_layout: Path) -> None:
    out = cli("load", "-i", str(debian_oci_layout), "--name", "example.com/debian")
    assert out.stdout.strip() == "Loaded image: example.com/debian:bookworm"
    # Without --name, an entry that has only a ref.name tag loads as a dangling image (its ID is printed).
    out2 = cli("load", "-i", str(debian_oci_layout))
    assert out2.stdout.startswith("Loaded image")
    ids = set(cli("images", "-q").stdout.split())
    assert len(ids) == 1


def test_same_image_from_two_formats_is_stored_once(
    cli: Any, debian_docker_archive: Path, debian_oci_layout: Path, dockyard_root: Path
) -> None:
    cli("load", "-i", str(debian_oci_layout), "--name", "debian")  # gzip layer
    before = sum(p.stat().st_size for p in (dockyard_root / "blobs" / "sha256").iterdir())
    out = cli("load", "-i", str(debian_docker_archive))  # the same content, uncompressed
    assert "Already exists" in out.stderr
    after = sum(p.stat().st_size for p in (dockyard_root / "blobs" / "sha256").iterdir())
    assert after - before < 64 * 1024  # only a manifest (and no second copy of the ~50 MB layer)
    assert len(set(cli("images", "-q").stdout.split())) == 1


def test_save_is_read_by_skopeo(cli: Any, debian_oci_layout: Path, tmp_path: Path) -> None:
    cli("load", "-i", str(debian_oci_layout), "--name", "debian")
    cli("tag", "debian:bookworm", "myuser/debian:v1")
    archive = tmp_path / "saved.tar"
    cli("save", "-o", str(archive), "debian:bookworm", "myuser/debian:v1")
    want = _diff_ids_of_layout(debian_oci_layout, "bookworm")
    for name in ("debian:bookworm", "myuser/debian:v1"):
        copied = tmp_path / ("copy-" + name.replace("/", "_").replace(":", "_"))
        _skopeo("copy", f"docker-archive:{archive}:{name}", f"oci:{copied}:t")
        assert _diff_ids_of_layout(copied, "t") == want
    oci = tmp_path / "saved-oci.tar"
    cli("save", "--format", "oci", "-o", str(oci), "debian:bookworm")
    info = json.loads(_skopeo("inspect", "--config", f"oci-archive:{oci}:bookworm"))
    assert info["rootfs"]["diff_ids"] == want


def test_save_is_loaded_by_podman(cli: Any, debian_oci_layout: Path, tmp_path: Path) -> None:
    cli("load", "-i", str(debian_oci_layout), "--name", "debian")
    archive = tmp_path / "saved.tar"
    cli("save", "-o", str(archive), "debian:bookworm")
    short = Path(tempfile.mkdtemp(prefix="pd", dir="/tmp"))  # podman refuses a runroot longer than 50 characters
    base = podman_command(short)
    proc = subprocess.run([*base, "load", "-i", str(archive)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "debian:bookworm" in proc.stdout
    ours = json.loads(cli("inspect", "debian:bookworm").stdout)[0]
    theirs = json.loads(
        subprocess.run(
            [*base, "image", "inspect", "debian:bookworm"], capture_output=True, text=True, check=True
        ).stdout
    )[0]
    assert theirs["Id"] == ours["Id"][7:] or theirs["Id"] == ours["Id"]
    assert theirs["RootFS"]["Layers"] == ours["RootFS"]["Layers"]
    subprocess.run([*base, "rmi", "-a", "-f"], capture_output=True, check=False)
    remove_tree(short)


def _umoci_rootfs(layout: Path, tag: str, bundle: Path) -> Path:
    umoci = require_tool("umoci")
    proc = subprocess.run(
        [umoci, "unpack", "--image", f"{layout}:{tag}", str(bundle)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return bundle / "rootfs"


def _without_devices(snap: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in snap.items() if v.kind not in ("char", "block", "fifo")}


@pytest.mark.parametrize("fixture", ["debian_oci_layout", "debian_two_layer_oci_layout"])
def test_unpack_equals_umoci(cli: Any, fixture: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("comparing ownership with umoci needs root")
    layout: Path = request.getfixturevalue(fixture)
    cli("load", "-i", str(layout), "--name", "debian")
    ours = tmp_path / "ours"
    res = cli("unpack", "debian:bookworm", str(ours))
    theirs = _umoci_rootfs(layout, "bookworm", tmp_path / "bundle")
    from dockyard.layers.tree import snapshot

    a, b = _without_devices(snapshot(ours)), _without_devices(snapshot(theirs))
    assert len(a) > 5000
    only_ours, only_theirs = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    assert not only_ours and not only_theirs, (only_ours[:10], only_theirs[:10])
    diff = [k for k in a if a[k] != b[k]]
    assert not diff, [(k, a[k], b[k]) for k in diff[:5]]
    # absolute symlinks are kept as written, never followed on the host
    assert os.readlink(ours / "etc" / "alternatives" / "awk").startswith("/")
    if fixture == "debian_two_layer_oci_layout":
        for rel in LAYER2_REMOVED:
            assert not (ours / rel).exists()
        for rel, data in LAYER2_ADDED_FILES.items():
            assert (ours / rel).read_bytes() == data
    del res
    shutil.rmtree(tmp_path / "bundle", ignore_errors=True)


def test_export_matches_unpack(cli: Any, debian_two_layer_oci_layout: Path, tmp_path: Path) -> None:
    import tarfile

    cli("load", "-i", str(debian_two_layer_oci_layout), "--name", "debian")
    out = tmp_path / "rootfs.tar"
    cli("export", "debian:bookworm", "-o", str(out))
    unpacked = tmp_path / "u"
    cli("unpack", "debian:bookworm", str(unpacked))
    with tarfile.open(out) as tar:
        members = tar.getmembers()
    names = {m.name.rstrip("/").removeprefix("./") for m in members if not (m.ischr() or m.isblk() or m.isfifo())}
    devices = [m for m in members if m.ischr() or m.isblk()]
    names.discard("")
    assert devices  # export keeps device nodes as tar entries (unpack skips them without --devices)
    on_disk = set()
    for top, dirs, files in os.walk(unpacked):
        for name in dirs + files:
            on_disk.add(os.path.relpath(os.path.join(top, name), unpacked))
    assert not any(".wh." in n for n in names)
    assert names == on_disk


def test_load_skopeo_oci_layout_and_oci_archive(cli: Any, debian_docker_archive: Path, tmp_path: Path) -> None:
    layout = tmp_path / "skopeo-layout"
    _skopeo("copy", f"docker-archive:{debian_docker_archive}", f"oci:{layout}:12")
    archive = tmp_path / "skopeo-oci.tar"
    _skopeo("copy", f"docker-archive:{debian_docker_archive}", f"oci-archive:{archive}:12")
    assert cli("load", "-i", str(layout), "--name", "debian").stdout == "Loaded image: debian:12\n"
    assert cli("load", "-i", str(archive), "--name", "other/debian").stdout == "Loaded image: other/debian:12\n"
    ids = set(cli("images", "-q").stdout.split())
    assert len(ids) == 1  # the same config, so the same image ID, whichever way it came in
    assert "store OK" in cli("system", "check").stdout


def _docker_dir_size(root: Path) -> int:
    """Docker's directory.Size: regular files and symlinks by lstat size, each inode once, directories not."""
    seen: set[int] = set()
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_mode & 0o170000) == 0o040000 or st.st_size == 0 or st.st_ino in seen:
                continue
            seen.add(st.st_ino)
            total += st.st_size
    return total


def test_size_is_what_docker_counts(cli: Any, debian_docker_archive: Path, tmp_path: Path) -> None:
    cli("load", "-i", str(debian_docker_archive))
    size = json.loads(cli("inspect", "debian:bookworm").stdout)[0]["Size"]
    rootfs = tmp_path / "rootfs"
    cli("unpack", "debian:bookworm", str(rootfs))
    assert size == _docker_dir_size(rootfs)
    history_total = sum(
        int(line) for line in cli("history", "-H=false", "--format", "{{.Size}}", "debian:bookworm").stdout.split()
    )
    assert history_total == size  # the one layer's SIZE is the image's
