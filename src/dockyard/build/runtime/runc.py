"""One RUN step in an OCI runtime (runc, or crun: :mod:`.ociruntime`): the runtime spec BuildKit generates
(containerd's defaults: capabilities, /proc /dev /sys mounts, masked and read-only paths; no /run tmpfs; the
process's rlimits inherited; new privileges allowed), ``/etc/hosts``, ``/etc/resolv.conf`` and ``/etc/hostname``
bind-mounted read-only from files of the step, the output of the command (stdout and stderr merged) streamed to
the caller."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from dockyard.build.runtime import ociruntime, seccomp
from dockyard.build.runtime.mounts import unmount_all
from dockyard.build.runtime.overlay import OVERLAY_PREFIX, Rootfs, remove_tree
from dockyard.build.runtime.users import resolve_user
from dockyard.build.securepath import scoped_path
from dockyard.errors import BuildError, BuildUnavailable

DEFAULT_PATH: Final = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_HOSTNAME: Final = "buildkitsandbox"
#: Prefix of a step's state directory under ``state_dir`` (:func:`cleanup_stale` looks for it).
RUN_PREFIX: Final = "run-"
#: The builder's own per-step directories (secrets, pipes, bind copies, the runtime's state dir): removed after a
#: killed build too, and looked into for the runc state they hold.
STEP_PREFIX: Final = "step-"

#: containerd's default capabilities (what Docker and BuildKit grant a build step).
CAPABILITIES: Final = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)
MASKED_PATHS: Final = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS: Final = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


@dataclass(frozen=True)
class Mount:
    """An extra mount of the step (an OCI runtime spec mount)."""

    destination: str
    type: str
    source: str | None = None
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunSpec:
    """What to run: argv, environment (``K=V``), working directory, raw USER value, hostname, network
    (``host`` or ``none``), extra ``/etc/hosts`` entries (host, ip), extra mounts."""

    args: tuple[str, ...]
    env: tuple[str, ...]
    cwd: str = "/"
    user: str = ""
    hostname: str = DEFAULT_HOSTNAME
    network: str = "host"
    extra_hosts: tuple[tuple[str, str], ...] = ()
    mounts: tuple[Mount, ...] = ()


def available(runtime: str | None = None) -> str | None:
    """None when RUN steps can run here (with ``runtime``, default as :func:`ociruntime.find` picks), else the
    one-line reason."""
    return _runtime(runtime)[1]


def _runtime(runtime: str | None) -> tuple[ociruntime.OCIRuntime | None, str | None]:
    """The runtime RUN steps use here, or the one-line reason why they cannot run."""
    if os.geteuid() != 0:
        return None, "RUN steps need root (an OCI runtime and overlayfs mounts): run the build as root"
    try:
        found = ociruntime.find(runtime)
    except BuildUnavailable as exc:
        return None, str(exc)
    if found is None:
        wanted = ociruntime.requested(runtime)
        return None, f"no OCI runtime for RUN steps: install the Debian package {wanted or 'runc (or crun)'}"
    try:
        with open("/proc/filesystems", encoding="ascii") as f:
            known = any(line.split()[-1:] == ["overlay"] for line in f)
        if not known and not os.path.exists("/sys/module/overlay"):
            return None, "the kernel has no overlayfs: load it (modprobe overlay; CONFIG_OVERLAY_FS)"
    except OSError:
        pass
    return found, None


def hosts_file(hostname: str, extra_hosts: Sequence[tuple[str, str]]) -> str:
    """The ``/etc/hosts`` of a step (BuildKit's)."""
    lines = [f"127.0.0.1\tlocalhost {hostname}", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines += [f"{ip}\t{host}" for host, ip in extra_hosts]
    return "\n".join(lines) + "\n"


def _resolv_conf() -> str:
    try:
        return Path("/etc/resolv.conf").read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        return ""


def _env(env: Sequence[str]) -> list[str]:
    out = list(env)
    if not any(e.startswith("PATH=") for e in out):
        out.insert(0, DEFAULT_PATH)
    return out


def _spec_mounts(files: Path, extra: Sequence[Mount]) -> list[dict[str, Any]]:
    def bind(src: Path, dest: str) -> dict[str, Any]:
        return {"destination": dest, "type": "bind", "source": os.fspath(src), "options": ["rbind", "ro"]}

    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["ro", "nosuid", "noexec", "nodev"]},
        bind(files / "resolv.conf", "/etc/resolv.conf"),
        bind(files / "hosts", "/etc/hosts"),
        bind(files / "hostname", "/etc/hostname"),
    ]  # fmt: skip
    taken = {m.destination for m in extra}
    mounts = [m for m in mounts if m["destination"] not in taken]
    for m in extra:
        d: dict[str, Any] = {"destination": m.destination, "type": m.type, "options": list(m.options)}
        if m.source is not None:
            d["source"] = m.source
        mounts.append(d)
    return mounts


def config(spec: RunSpec, rootfs: Path, files: Path, cid: str) -> dict[str, Any]:
    """The OCI runtime config of one step (its ``config.json``)."""
    uid, gid, sgids = resolve_user(rootfs, spec.user)
    namespaces = [{"type": t} for t in ("pid", "ipc", "uts", "mount")]
    if spec.network == "none":
        namespaces.append({"type": "network"})
    elif spec.network != "host":
        raise BuildError(f"network mode {spec.network!r} is not supported (host or none)")
    caps = list(CAPABILITIES)
    linux: dict[str, Any] = {
        "cgroupsPath": f"/dockyard-build/{cid}",
        "namespaces": namespaces,
        "maskedPaths": list(MASKED_PATHS),
        "readonlyPaths": list(READONLY_PATHS),
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
    }
    filter_ = seccomp.for_step(caps)
    if filter_ is not None:
        linux["seccomp"] = filter_
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": uid, "gid": gid, **({"additionalGids": list(sgids)} if sgids else {})},
            "args": list(spec.args),
            "env": _env(spec.env),
            "cwd": spec.cwd or "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": False,
        },
        "root": {"path": os.fspath(rootfs), "readonly": False},
        "hostname": spec.hostname,
        "mounts": _spec_mounts(files, spec.mounts),
        "linux": linux,
    }


_Stub = tuple[Path, Path | None, int, frozenset[str]]


def _stubs(rootfs: Rootfs, destinations: Sequence[str]) -> list[_Stub]:
    """Mount points runc will create in the merged tree, deepest first: (path, the parent that existed
    before when it is the top missing one, that parent's mtime and names)."""
    out: dict[Path, _Stub] = {}
    for dest in destinations:
        target = scoped_path(rootfs.merged, dest)
        missing: list[Path] = []
        while target != rootfs.merged and not os.path.lexists(target):
            missing.append(target)
            target = target.parent
        if not missing:
            continue
        top, parent = missing[-1], missing[-1].parent
        try:
            st = os.stat(parent)
            names = frozenset(os.listdir(parent))
        except OSError:
            continue
        for p in missing:
            if p not in out:
                out[p] = (p, parent, st.st_mtime_ns, names) if p == top else (p, None, 0, frozenset())
    return sorted(out.values(), key=lambda s: len(s[0].parts), reverse=True)


def _remove_stubs(stubs: Sequence[_Stub]) -> None:
    """BuildKit's mount stub cleaner: empty stubs go; their parent's time is restored if nothing else changed."""
    for stub, parent, mtime_ns, names in stubs:
        try:
            st = os.lstat(stub)
            if os.path.isdir(stub) and not os.path.islink(stub):
                if os.listdir(stub):
                    continue
                os.rmdir(stub)
            elif st.st_size == 0:
                os.unlink(stub)
            else:
                continue
            if parent is not None and frozenset(os.listdir(parent)) == names:
                os.utime(parent, ns=(mtime_ns, mtime_ns))
        except OSError:
            continue


def _mkdirs(root: Path, path: str) -> None:
    """Create the working directory (0755, root) inside ``root`` when missing, as BuildKit does."""
    target = scoped_path(root, path)
    missing = []
    while target != root and not os.path.lexists(target):
        missing.append(target)
        target = target.parent
    for p in reversed(missing):
        os.mkdir(p, 0o755)
        os.chmod(p, 0o755)


def _run_runc(argv: list[str], output: Callable[[bytes], None], cleanup: Callable[[], None]) -> int:
    r, w = os.pipe()
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=w, stderr=w, start_new_session=True, close_fds=True
        )
    except BaseException:
        os.close(r)
        os.close(w)
        raise
    os.close(w)
    try:
        with os.fdopen(r, "rb", buffering=0) as pipe:
            while True:
                chunk = pipe.read(65536)
                if not chunk:
                    break
                output(chunk)
        return proc.wait()
    except BaseException:
        cleanup()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise


def run(
    spec: RunSpec, rootfs: Rootfs, *, output: Callable[[bytes], None], state_dir: Path, runtime: str | None = None
) -> int:
    """Run ``spec`` in ``rootfs`` with the OCI runtime (``runtime``: runc or crun, default as
    :func:`ociruntime.find` picks); its exit code (128+N when killed by signal N)."""
    oci, reason = _runtime(runtime)
    if oci is None:
        raise BuildUnavailable(reason or "no OCI runtime for RUN steps")
    cid = f"dockyard-{secrets.token_hex(8)}"
    state_dir.mkdir(parents=True, exist_ok=True)
    base = state_dir / f"{RUN_PREFIX}{cid}"
    base.mkdir(mode=0o700)
    root = base / oci.name  # the runtime's state: cleanup_stale knows the runtime by this name
    files = base / "files"
    stubs: list[_Stub] = []
    started = finished = False

    def kill_and_delete() -> None:
        _kill_and_delete(oci, root, cid)

    try:
        files.mkdir()
        (files / "hosts").write_text(hosts_file(spec.hostname, spec.extra_hosts), encoding="utf-8")
        (files / "resolv.conf").write_text(_resolv_conf(), encoding="utf-8", errors="surrogateescape")
        (files / "hostname").write_text(spec.hostname + "\n", encoding="utf-8")
        for name in ("hosts", "resolv.conf", "hostname"):
            os.chmod(files / name, 0o644)
        cfg = config(spec, rootfs.merged, files, cid)
        _mkdirs(rootfs.merged, spec.cwd or "/")
        stubs = _stubs(rootfs, [m["destination"] for m in cfg["mounts"]])
        (base / "config.json").write_text(json.dumps(cfg, indent=1), encoding="utf-8")
        argv = oci.argv(root, "run", "--no-new-keyring", "--bundle", os.fspath(base), cid)
        started = True
        code = _run_runc(argv, output, kill_and_delete)
        finished = True
        return code
    finally:
        if started and not finished:
            kill_and_delete()
        _remove_stubs(stubs)
        remove_tree(base)


def _kill_and_delete(oci: ociruntime.OCIRuntime, root: Path, cid: str, *, wait: float = 10.0) -> None:
    """Kill container ``cid`` and delete its state; return once its init process is gone (a SIGKILL is delivered
    asynchronously, and the runtime's ``delete --force`` does not wait for it everywhere)."""
    pid = 0
    state = subprocess.run(oci.argv(root, "state", cid), capture_output=True, check=False)
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        pid = int(json.loads(state.stdout or b"{}").get("pid") or 0)
    started = _stat(pid)[1] if pid > 0 else None
    for cmd in (["kill", cid, "KILL"], ["delete", "--force", cid]):
        subprocess.run(oci.argv(root, *cmd), capture_output=True, check=False)
    if started is None:
        return
    deadline = time.monotonic() + wait
    while True:
        alive, since = _stat(pid)
        if not alive or since != started:  # gone, a zombie, or the number taken by another process
            return
        if time.monotonic() >= deadline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.02)


def _stat(pid: int) -> tuple[bool, bytes | None]:
    """(running: the process exists and is not a zombie, its start time) from ``/proc/PID/stat``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[-1].split()
        return fields[0] != b"Z", fields[19]
    except (OSError, IndexError):
        return False, None


_STALE_DEPTH: Final = 3


def _leftovers(work: Path) -> list[Path]:
    """Overlay and step directories at most three levels under ``work``, not looking into mount points."""
    found = []
    for dirpath, dirs, _files in os.walk(work):
        depth = len(Path(dirpath).relative_to(work).parts)
        for d in list(dirs):
            full = Path(dirpath, d)
            if d.startswith((OVERLAY_PREFIX, RUN_PREFIX)):
                found.append(full)
                dirs.remove(d)
            elif d.startswith(STEP_PREFIX) and not os.path.ismount(full):
                found.append(full)  # and look inside: its runtime state dir holds the runc root
            elif depth + 1 >= _STALE_DEPTH or os.path.ismount(full):
                dirs.remove(d)
    return found


def cleanup_stale(work: Path) -> None:
    """After a build killed hard: kill and delete its runtime's containers, unmount what is mounted under
    ``work`` and remove the overlay and step directories left there."""
    if not work.is_dir():
        return
    leftovers = _leftovers(work)
    for step in leftovers:
        if not step.name.startswith(RUN_PREFIX):
            continue
        for name in ociruntime.RUNTIMES:
            root = step / name
            oci = ociruntime.by_name(name) if root.is_dir() else None
            if oci is None:
                continue
            for entry in sorted(root.iterdir()):
                _kill_and_delete(oci, root, entry.name)
    unmount_all(work)
    for path in leftovers:
        remove_tree(path)


__all__ = [
    "CAPABILITIES",
    "DEFAULT_HOSTNAME",
    "STEP_PREFIX",
    "Mount",
    "RunSpec",
    "available",
    "cleanup_stale",
    "config",
    "hosts_file",
    "run",
]
