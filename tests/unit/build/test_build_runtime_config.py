"""The OCI runtime config of a RUN step (BuildKit's choices over containerd's defaults)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.build.runtime import Mount, RunSpec
from dockyard.build.runtime.runc import CAPABILITIES, config, hosts_file
from dockyard.errors import BuildError


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("app:x:1000:1000::/home/app:/bin/sh\n")
    (tmp_path / "etc/group").write_text("app:x:1000:\nwheel:x:10:app\n")
    return tmp_path


def test_defaults(rootfs: Path, tmp_path: Path) -> None:
    cfg = config(RunSpec(args=("sh", "-c", "true"), env=("A=1",)), rootfs, tmp_path / "files", "cid")
    proc = cfg["process"]
    assert proc["args"] == ["sh", "-c", "true"]
    assert proc["env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=1"]
    assert proc["user"] == {"uid": 0, "gid": 0}
    assert proc["noNewPrivileges"] is False and "rlimits" not in proc  # BuildKit resets the rlimits
    assert proc["capabilities"]["bounding"] == list(CAPABILITIES) and len(CAPABILITIES) == 14
    assert cfg["hostname"] == "buildkitsandbox"
    dests = [m["destination"] for m in cfg["mounts"]]
    assert dests[:7] == ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"]
    assert "/run" not in dests
    binds = {m["destination"]: m for m in cfg["mounts"] if m["type"] == "bind"}
    assert set(binds) == {"/etc/resolv.conf", "/etc/hosts", "/etc/hostname"}
    assert all("ro" in m["options"] for m in binds.values())
    assert [n["type"] for n in cfg["linux"]["namespaces"]] == ["pid", "ipc", "uts", "mount"]
    assert "/proc/kcore" in cfg["linux"]["maskedPaths"] and "/proc/sys" in cfg["linux"]["readonlyPaths"]


def test_user_network_and_mounts(rootfs: Path, tmp_path: Path) -> None:
    spec = RunSpec(
        args=("id",), env=("PATH=/bin",), user="app", network="none", cwd="/w",
        mounts=(Mount("/cache", "bind", "/host/cache", ("rbind",)), Mount("/etc/hosts", "tmpfs")),
    )  # fmt: skip
    cfg = config(spec, rootfs, tmp_path, "cid")
    assert cfg["process"]["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [10]}
    assert cfg["process"]["env"] == ["PATH=/bin"] and cfg["process"]["cwd"] == "/w"
    assert cfg["linux"]["namespaces"][-1] == {"type": "network"}
    mounts = {m["destination"]: m for m in cfg["mounts"]}
    assert mounts["/cache"] == {"destination": "/cache", "type": "bind", "source": "/host/cache", "options": ["rbind"]}
    assert mounts["/etc/hosts"]["type"] == "tmpfs"  # a step's own mount replaces the default one
    with pytest.raises(BuildError):
        config(RunSpec(args=("id",), env=(), network="bridge"), rootfs, tmp_path, "cid")


def test_hosts_file() -> None:
    assert hosts_file("box", [("reg.local", "10.0.0.1"), ("v6", "::2")]) == (
        "127.0.0.1\tlocalhost box\n::1\tlocalhost ip6-localhost ip6-loopback\n10.0.0.1\treg.local\n::2\tv6\n"
    )
