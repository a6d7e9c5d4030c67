"""RUN steps for real: the Debian fixture's layer as a snapshot, an overlay over it, the OCI runtime, the upper
directory as a layer. Every test runs with runc and with crun (on a hybrid cgroup host, crun in a mount namespace
without the cgroup2 mount). Needs root, runc and crun."""

from __future__ import annotations

import io
import json
import os
import secrets
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures_util import require_tool

from dockyard.build.runtime import RunSpec, Snapshots, available, cleanup_stale, diff, ociruntime, overlay, run
from dockyard.build.runtime.mounts import _legacy_mount, mounts_under, unmount_all
from dockyard.errors import BuildError
from dockyard.layers.tarstream import TarHeader, TarReader

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(os.geteuid() != 0, reason="RUN steps need root (runc, overlayfs mounts)"),
]


@pytest.fixture(autouse=True, params=["runc", "crun"])
def oci_runtime(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The runtime of the test, through ``$DOCKYARD_RUNTIME`` (so the child processes below use it too)."""
    require_tool(request.param)
    monkeypatch.setenv("DOCKYARD_RUNTIME", request.param)
    chosen = ociruntime.find()
    assert chosen is not None and chosen.name == request.param
    return str(request.param)


EMPTY_LAYER = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def base(debian_docker_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Debian layer unpacked as a snapshot."""
    assert available() is None
    snaps = Snapshots(tmp_path_factory.mktemp("snapshots"))
    with tarfile.open(debian_docker_archive) as t:
        manifest = json.load(t.extractfile("manifest.json"))  # type: ignore[arg-type]
        config = json.load(t.extractfile(manifest[0]["Config"]))  # type: ignore[arg-type]
        member = manifest[0]["Layers"][0]
        return snaps.layer(config["rootfs"]["diff_ids"][0], lambda: t.extractfile(member))  # type: ignore[arg-type,return-value]


@pytest.fixture
def work(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    assert mounts_under(tmp_path) == []


def _run(rootfs: object, work: Path, *args: str, **kw: object) -> tuple[int, bytes]:
    chunks: list[bytes] = []
    spec = RunSpec(args=args, env=("LANG=C",), **kw)  # type: ignore[arg-type]
    code = run(spec, rootfs, output=chunks.append, state_dir=work / "state")  # type: ignore[arg-type]
    assert os.listdir(work / "state") == []  # no runc state, bundle or files left
    return code, b"".join(chunks)


def _layer(upper: Path, **kw: object) -> tuple[list[TarHeader], dict[str, bytes], str]:
    buf = io.BytesIO()
    res = diff(upper, buf, **kw)  # type: ignore[arg-type]
    reader = TarReader(io.BytesIO(buf.getvalue()))
    heads, data = [], {}
    for h in reader:
        heads.append(h)
        data[h.name] = b"".join(reader.chunks())
    assert res.entries == len(heads)
    return heads, data, res.diff_id


def test_run_step_makes_the_layer(base: Path, work: Path) -> None:
    with overlay([base], work / "ovl") as r:
        code, out = _run(r, work, "sh", "-c", "echo hi > /a; rm /etc/issue; mkdir -p /d && touch /d/x; echo done")
        assert (code, out) == (0, b"done\n")
        heads, data, _ = _layer(r.upper, lowers=r.lowers)
    assert [h.name for h in heads] == ["a", "d/", "d/x", "etc/", "etc/.wh.issue"]
    assert data["a"] == b"hi\n"
    assert all(h.uid == 0 and h.gid == 0 for h in heads)


ADD_KEY = "perl -e 'syscall(248, 0, 0, 0, 0, 0); print \"$!\\n\"'"  # add_key(2), x86_64 number


def test_steps_run_under_the_default_seccomp_profile(base: Path, work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """add_key is not in the default profile: refused by the filter (the profile's default errno); unconfined, the
    kernel itself answers (a bad address for the null arguments)."""
    if os.uname().machine != "x86_64":
        pytest.skip("the system call number is x86_64's")
    from dockyard.build.runtime.seccomp import SYSTEM_PROFILES

    default_errno = json.loads(next(p for p in SYSTEM_PROFILES if p.is_file()).read_text())["defaultErrnoRet"]
    with overlay([base], work / "ovl") as r:
        code, out = _run(r, work, "sh", "-c", ADD_KEY)
        assert code == 0 and out.decode().strip() == os.strerror(default_errno)
        monkeypatch.setenv("DOCKYARD_SECCOMP_PROFILE", "unconfined")
        code, out = _run(r, work, "sh", "-c", ADD_KEY)
        assert code == 0 and out.decode().strip() == os.strerror(14)  # EFAULT


def test_true_makes_an_empty_layer(base: Path, work: Path) -> None:
    with overlay([base], work / "ovl") as r:
        t0 = time.monotonic()
        code, out = _run(r, work, "true")
        elapsed = time.monotonic() - t0
        assert (code, out) == (0, b"")
        _, _, diff_id = _layer(r.upper, lowers=r.lowers)
    assert diff_id == EMPTY_LAYER  # the runtime's mount points are not in the layer
    assert elapsed < 5


def test_user_exit_code_and_output(base: Path, work: Path) -> None:
    with overlay([base], work / "ovl") as r:
        cmd = "id -u; id -g; id -G; touch /tmp/mine; echo oops >&2; exit 7"
        code, out = _run(r, work, "sh", "-c", cmd, user="nobody")
        assert code == 7
        assert out == b"65534\n65534\n65534\noops\n"
        code, out = _run(r, work, "sh", "-c", "echo $(id -u):$(id -g) $PATH")  # PATH: the default when unset
        assert out == b"0:0 /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
        code, out = _run(r, work, "sh", "-c", "echo $(id -u):$(id -g)", user="1234:5678")
        assert (code, out) == (0, b"1234:5678\n")
        with pytest.raises(BuildError, match="unable to find user nosuchuser"):
            _run(r, work, "true", user="nosuchuser")
        heads, _, _ = _layer(r.upper, lowers=r.lowers)
    mine = next(h for h in heads if h.name == "tmp/mine")
    assert (mine.uid, mine.gid) == (65534, 65534)


def test_output_is_streamed(base: Path, work: Path) -> None:
    seen: list[tuple[float, bytes]] = []
    with overlay([base], work / "ovl") as r:
        spec = RunSpec(args=("sh", "-c", "echo first; sleep 1; echo second"), env=())
        code = run(spec, r, output=lambda b: seen.append((time.monotonic(), b)), state_dir=work / "state")
    assert code == 0
    assert b"".join(b for _, b in seen) == b"first\nsecond\n"
    assert seen[-1][0] - seen[0][0] > 0.5  # the first line came while the command still ran


def test_hosts_hostname_and_network(base: Path, work: Path) -> None:
    with overlay([base], work / "ovl") as r:
        code, out = _run(
            r, work, "sh", "-c", "cat /etc/hosts /etc/hostname; hostname",
            extra_hosts=(("registry.local", "10.1.2.3"),),
        )  # fmt: skip
        assert code == 0
        assert out.decode() == (
            "127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            "10.1.2.3\tregistry.local\nbuildkitsandbox\nbuildkitsandbox\n"
        )
        _, out = _run(r, work, "sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '", network="none")
        assert out == b"lo\n"
        _, out = _run(r, work, "sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")
        assert set(out.split()) == {
            line.split(":")[0].strip().encode() for line in Path("/proc/net/dev").read_text().splitlines()[2:]
        }
        with pytest.raises(BuildError, match="network mode"):
            _run(r, work, "true", network="bridge")
        _, _, diff_id = _layer(r.upper, lowers=r.lowers)
    assert diff_id == EMPTY_LAYER


def test_working_directory_is_created(base: Path, work: Path) -> None:
    with overlay([base], work / "ovl") as r:
        code, out = _run(r, work, "pwd", cwd="/srv/app/dir")
        assert (code, out) == (0, b"/srv/app/dir\n")
        heads, _, _ = _layer(r.upper, lowers=r.lowers)
    assert [(h.name, h.mode, h.uid) for h in heads] == [
        ("srv/", 0o755, 0), ("srv/app/", 0o755, 0), ("srv/app/dir/", 0o755, 0),
    ]  # fmt: skip


def test_opaque_directory_round_trip(base: Path, work: Path) -> None:
    with overlay([base], work / "ovl") as r:
        cmd = "rm -rf /usr/share/doc && mkdir /usr/share/doc && echo n > /usr/share/doc/new"
        assert _run(r, work, "sh", "-c", cmd)[0] == 0
        buf = io.BytesIO()
        res = diff(r.upper, buf, lowers=r.lowers)
    names = [h.name for h in TarReader(io.BytesIO(buf.getvalue()))]
    assert names[-3:] == ["usr/share/doc/", "usr/share/doc/.wh..wh..opq", "usr/share/doc/new"]
    # The layer as a snapshot on top of the base: the directory shows only what the layer wrote.
    layer = Snapshots(work / "snaps").layer(res.diff_id, lambda: io.BytesIO(buf.getvalue()))
    with overlay([base, layer], work / "ovl") as r:
        assert sorted(os.listdir(r.merged / "usr/share/doc")) == ["new"]
        assert _run(r, work, "ls", "/usr/share/doc") == (0, b"new\n")
        assert _layer(r.upper, lowers=r.lowers)[2] == EMPTY_LAYER


def _sleepers(tag: str) -> list[int]:
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if tag.encode() in (p / "cmdline").read_bytes():
                    pids.append(int(p.name))
            except OSError:
                continue
    return pids


def test_interrupt_kills_and_cleans_up(base: Path, work: Path) -> None:
    def interrupt(_chunk: bytes) -> None:
        raise KeyboardInterrupt

    tag = _tag()
    with pytest.raises(KeyboardInterrupt), overlay([base], work / "ovl") as r:
        run(RunSpec(args=("sh", "-c", f"echo start; exec sleep {tag}"), env=()), r, output=interrupt,
            state_dir=work / "state")  # fmt: skip
    assert mounts_under(work) == []
    assert os.listdir(work / "state") == [] and os.listdir(work / "ovl") == []
    assert _sleepers(tag) == []


CHILD = """
import signal, sys
from pathlib import Path
from dockyard.build.runtime import RunSpec, overlay, run
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # what a builder does: SIGTERM -> exception
work = Path(sys.argv[2])
with overlay([Path(sys.argv[1])], work / "ovl") as r:
    run(RunSpec(args=("sh", "-c", f"echo started; exec sleep {sys.argv[3]}"), env=()), r,
        output=lambda b: (sys.stdout.buffer.write(b), sys.stdout.flush()), state_dir=work / "state")
"""


def _tag() -> str:
    """A sleep duration no other test uses at the same time (tests of both runtimes run in parallel workers): the
    command line by which this test's container process is found."""
    return f"62.{secrets.randbelow(10**6):06d}"


def _child_build(base: Path, work: Path, tag: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(base), str(work), tag],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"started\n"
    return proc


def test_sigterm_turned_into_an_exception_cleans_up(base: Path, work: Path) -> None:
    tag = _tag()
    proc = _child_build(base, work, tag)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 143
    assert mounts_under(work) == []
    assert _sleepers(tag) == []
    assert os.listdir(work / "ovl") == [] and os.listdir(work / "state") == []


def test_cleanup_after_a_killed_build(base: Path, work: Path) -> None:
    tag = _tag()
    proc = _child_build(base, work, tag)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert mounts_under(work) != [] and _sleepers(tag) != []
    cleanup_stale(work)
    assert mounts_under(work) == []
    assert _sleepers(tag) == []
    assert os.listdir(work / "ovl") == [] and os.listdir(work / "state") == []


def test_many_layers(work: Path) -> None:
    lowers = []
    for i in range(120):
        d = work / "layers" / f"layer-with-a-long-name-to-exceed-one-page-of-mount-options-{i:03d}"
        d.mkdir(parents=True)
        (d / f"f{i}").write_text(str(i))
        (d / "shared").write_text(str(i))
        lowers.append(d)
    t0 = time.monotonic()
    with overlay(lowers, work / "ovl") as r:
        elapsed = time.monotonic() - t0
        assert len([n for n in os.listdir(r.merged) if n.startswith("f")]) == 120
        assert (r.merged / "shared").read_text() == "119"  # the last given is the top
    assert elapsed < 5


def test_legacy_mount_with_relative_names(work: Path) -> None:
    """Kernels without ``lowerdir+``: mount(2), through short links to the layers when the names are too long."""
    lowers = []
    for i in range(60):
        d = work / "layers" / f"layer-with-a-long-name-to-exceed-one-page-of-mount-options-{i:03d}"
        d.mkdir(parents=True)
        (d / "shared").write_text(str(i))
        lowers.append(d)
    for name in ("upper", "wd", "merged"):
        (work / name).mkdir()
    _legacy_mount(list(reversed(lowers)), work / "upper", work / "wd", work / "merged")
    try:
        assert (work / "merged/shared").read_text() == "59"
    finally:
        unmount_all(work)
