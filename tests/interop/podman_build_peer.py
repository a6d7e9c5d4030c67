"""podman build as the peer of ``dockyard build``, and the union listing both images are compared by.

podman runs as the issue says it works on these machines: ``--storage-driver vfs --cgroup-manager cgroupfs
--events-backend file``, RUN steps in ``runc`` with ``--ulimit nofile=1024:1024 --ulimit nproc=4096:4096``,
``--layers --format docker``. Its whole state lives in a temporary directory (:func:`podman_state`): ``--root``,
``--runroot``, ``--tmpdir``, TMPDIR, and the blob-info cache podman 4.3 keeps in /var/lib/containers whatever
``--root`` says (hidden by a bind mount in a private mount namespace), so the machine's podman state is never read
or written. It runs offline (``unshare -n`` when the kernel allows: RUN's host network is then an empty one). Base
images are loaded from files (:func:`load_image`); the result is saved as a docker-archive or an OCI archive that
dockyard reads (:func:`read_image`).

:func:`union_listing` applies an image's layers with dockyard's union view (:mod:`dockyard.layers.union`) and lists
what a file-system comparison needs: names, types, modes, uid/gid, content sha256, link targets, devices, xattrs;
never mtimes, and not the paths that record time or are runtime mount points (:data:`DEFAULT_EXCLUDES`; podman
leaves an empty ``/etc/hosts`` in a RUN layer). :func:`differences` says what differs, for assertion messages.

A helper module for tests (no tests here).
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from fixtures_util import offline_prefix, podman_command, remove_tree, require_root

from dockyard.image.base import Image
from dockyard.layers import union
from dockyard.layers.tarstream import FILE, HARDLINK, SYMLINK, LayerOpener, TarReader
from dockyard.transport import docker_archive, oci_layout

#: RUN's ulimits, as the issue runs podman (Debian's runc, cgroup v1 hybrid).
ULIMITS: tuple[str, ...] = ("nofile=1024:1024", "nproc=4096:4096")

#: Paths a runtime mounts over or creates for a RUN step (they never belong to a layer's content).
RUNTIME_MOUNT_POINTS: tuple[str, ...] = (
    "etc/hosts",
    "etc/hostname",
    "etc/resolv.conf",
    "run/.containerenv",
    "run/secrets",
    "run/secrets/*",
    "proc/*",
    "sys/*",
    "dev/pts",
    "dev/pts/*",
    "dev/shm",
    "dev/shm/*",
    "dev/mqueue",
    "dev/mqueue/*",
)
#: Files that record the time they were made.
TIME_RECORDS: tuple[str, ...] = ("var/log/*", "var/cache/ldconfig/aux-cache", "*.pyc")
DEFAULT_EXCLUDES: tuple[str, ...] = (*TIME_RECORDS, *RUNTIME_MOUNT_POINTS)

_TIMEOUT = 1800


# --------------------------------------------------------------------------- podman


@contextlib.contextmanager
def podman_state() -> Iterator[Path]:
    """A private podman state directory (short: podman refuses a runroot over 50 characters), removed after."""
    require_root("rootful podman with runc and vfs storage")
    state = Path(tempfile.mkdtemp(prefix="pbp-", dir="/tmp"))
    (state / "tmp").mkdir()
    try:
        yield state
    finally:
        remove_tree(state)


def podman_argv(state: Path) -> list[str]:
    """``podman`` with its state under ``state`` and runc as its runtime."""
    return [*podman_command(state), "--tmpdir", os.fspath(state / "libpod"), "--runtime", "runc"]


def _env(state: Path) -> dict[str, str]:
    return {**os.environ, "TMPDIR": os.fspath(state / "tmp")}


#: Where root's podman keeps its blob-info cache whatever ``--root`` says (podman 4.3).
SYSTEM_CACHE = Path("/var/lib/containers")


def _isolated(state: Path, offline: bool) -> list[str]:
    """A prefix running podman in its own mount namespace (and network namespace when ``offline``) with
    ``state/varlib`` bound over :data:`SYSTEM_CACHE`, so that even the blob-info cache stays private."""
    unshare = shutil.which("unshare")
    if unshare is None:
        raise RuntimeError("podman_build_peer needs unshare (util-linux)")
    private = state / "varlib"
    private.mkdir(exist_ok=True)
    SYSTEM_CACHE.mkdir(mode=0o700, exist_ok=True)  # what podman's first run creates
    net = ["-n"] if offline and offline_prefix() else []
    script = 'mount --bind "$1" "$2" && shift 2 && exec "$@"'
    return [unshare, *net, "-m", "--propagation", "private", "sh", "-c", script, "sh", os.fspath(private),
            os.fspath(SYSTEM_CACHE)]  # fmt: skip


def _podman(state: Path, *args: str | os.PathLike[str], offline: bool = True) -> subprocess.CompletedProcess[str]:
    argv = [*_isolated(state, offline), *podman_argv(state), *(os.fspath(a) for a in args)]
    proc = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=_env(state), timeout=_TIMEOUT, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"podman failed with exit status {proc.returncode}: {' '.join(argv)}\n"
            f"--- stdout ---\n{proc.stdout[-20000:]}\n--- stderr ---\n{proc.stderr[-20000:]}"
        )
    return proc


def load_image(state: Path, source: str, name: str) -> str:
    """Load ``source`` (a containers-transport reference: ``docker-archive:PATH``, ``oci:DIR:TAG``,
    ``oci-archive:PATH``) into the private store as ``name``; its image ID."""
    image_id = _podman(state, "pull", "--quiet", source).stdout.strip().splitlines()[-1]
    _podman(state, "tag", image_id, name)
    return image_id


@dataclass(frozen=True)
class PodmanBuild:
    """What one ``podman build`` made: the saved image, its ID, the build's wall time and output."""

    archive: Path
    format: str
    image_id: str
    seconds: float
    output: str


def build(
    state: Path,
    context: Path,
    out: Path,
    *,
    dockerfile: Path | None = None,
    tag: str = "localhost/dockyard-peer:latest",
    build_args: Mapping[str, str] | None = None,
    target: str | None = None,
    layers: bool = True,
    format: str = "docker-archive",
    extra: Sequence[str] = (),
) -> PodmanBuild:
    """``podman build`` of ``context`` (``dockerfile`` default: ``context/Dockerfile``), saved to ``out`` as
    ``format`` (``docker-archive`` or ``oci-archive``; an existing ``out`` is replaced). Never pulls: bases must be
    loaded first (:func:`load_image`)."""
    if format not in ("docker-archive", "oci-archive"):
        raise ValueError(f"format must be docker-archive or oci-archive, not {format!r}")
    args: list[str] = ["build", "--format", "docker", f"--layers={str(layers).lower()}", "--pull=never"]
    args += ["--runtime", "runc", "--network=host", "--isolation=oci"]
    for ulimit in ULIMITS:
        args += ["--ulimit", ulimit]
    for key, value in (build_args or {}).items():
        args += ["--build-arg", f"{key}={value}"]
    if target is not None:
        args += ["--target", target]
    args += ["-f", os.fspath(dockerfile or context / "Dockerfile"), "-t", tag, *extra, os.fspath(context)]
    started = time.monotonic()
    proc = _podman(state, *args)
    seconds = time.monotonic() - started
    image_id = _podman(state, "image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()
    saved = out.parent / f".{out.name}.{os.getpid()}.podman-save"  # podman refuses an existing file
    saved.unlink(missing_ok=True)
    try:
        _podman(state, "save", "--quiet", "--format", format, "-o", saved, tag)
        saved.replace(out)
    finally:
        saved.unlink(missing_ok=True)
    return PodmanBuild(out, format, image_id, seconds, proc.stdout + proc.stderr)


def read_image(path: Path, format: str = "docker-archive") -> Image:
    """The one image of a docker-archive or an OCI archive/layout, read by dockyard."""
    if format == "docker-archive":
        [entry] = docker_archive.read(path)
        return entry.image
    [layout_entry] = oci_layout.read(path)
    return layout_entry.image


# --------------------------------------------------------------------------- the union listing


@dataclass(frozen=True, order=True)
class Node:
    """One path of the union view, as the comparison sees it.

    ``kind``: ``file``, ``dir``, ``symlink``, ``char``, ``block`` or ``fifo`` (a hard link is a ``file`` whose
    ``hardlink`` names the first path of its inode); ``sha256`` of a file's content (empty otherwise);
    ``linkname`` a symlink's target; ``device`` (major, minor); ``xattrs`` (name, hex value) sorted.
    """

    path: str
    kind: str
    mode: int
    uid: int
    gid: int
    sha256: str = ""
    linkname: str = ""
    hardlink: str = ""
    device: tuple[int, int] = (0, 0)
    xattrs: tuple[tuple[str, str], ...] = ()


def excluded(path: str, patterns: Sequence[str]) -> bool:
    """True when ``path`` matches one of ``patterns`` (glob; ``*`` also crosses ``/``)."""
    return _matcher(tuple(patterns)).match(path) is not None


_MATCHERS: dict[tuple[str, ...], re.Pattern[str]] = {}


def _matcher(patterns: tuple[str, ...]) -> re.Pattern[str]:
    found = _MATCHERS.get(patterns)
    if found is None:
        found = re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns) or r"(?!)")
        _MATCHERS[patterns] = found
    return found


def union_listing(layers: Sequence[LayerOpener], *, exclude: Sequence[str] = DEFAULT_EXCLUDES) -> dict[str, Node]:
    """Apply ``layers`` (bottom first) with dockyard's union view; path -> :class:`Node`, without ``exclude``.

    The union is exported as one tar through a pipe (no temporary file) and each file's content hashed.
    """
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def produce(out: BinaryIO) -> None:
        try:
            with out:
                union.export(layers, out)
        except BrokenPipeError:
            pass
        except BaseException as e:
            failure.append(e)

    writer = threading.Thread(target=produce, args=(os.fdopen(write_fd, "wb"),), daemon=True)
    writer.start()
    listing: dict[str, Node] = {}
    match = _matcher(tuple(exclude))
    try:
        with os.fdopen(read_fd, "rb") as stream:
            reader = TarReader(stream)
            for h in reader:
                path = h.name.removeprefix("./").rstrip("/")
                if not path or match.match(path):
                    continue
                xattrs = tuple(sorted((k, v.hex()) for k, v in h.xattrs.items()))
                if h.kind == HARDLINK:
                    target = listing.get(h.linkname.removeprefix("./"))
                    if target is None:  # the target itself is excluded
                        continue
                    listing[path] = Node(
                        path, FILE, target.mode, target.uid, target.gid, target.sha256, hardlink=target.path,
                        xattrs=target.xattrs,
                    )  # fmt: skip
                    continue
                digest = ""
                if h.kind == FILE:
                    hasher = hashlib.sha256()
                    for chunk in reader.chunks():
                        hasher.update(chunk)
                    digest = hasher.hexdigest()
                listing[path] = Node(
                    path, h.kind, h.mode & 0o7777, h.uid, h.gid, digest,
                    linkname=h.linkname if h.kind == SYMLINK else "", device=(h.devmajor, h.devminor), xattrs=xattrs,
                )  # fmt: skip
    finally:
        writer.join()
    if failure:
        raise failure[0]
    return listing


def image_listing(image: Image, *, exclude: Sequence[str] = DEFAULT_EXCLUDES) -> dict[str, Node]:
    """:func:`union_listing` of an image's layers."""
    return union_listing([layer.open for layer in image.layers()], exclude=exclude)


def differences(ours: Mapping[str, Node], theirs: Mapping[str, Node], *, limit: int = 50) -> list[str]:
    """What differs between two listings, one line per path (at most ``limit`` lines), for assertion messages."""
    lines: list[str] = []
    for path in sorted(ours.keys() | theirs.keys()):
        a, b = ours.get(path), theirs.get(path)
        if a == b:
            continue
        if a is None or b is None:
            lines.append(f"{path}: only in {'theirs' if a is None else 'ours'}")
        else:
            fields = [f for f in Node.__dataclass_fields__ if getattr(a, f) != getattr(b, f)]
            lines.append(f"{path}: " + ", ".join(f"{f} {getattr(a, f)!r} != {getattr(b, f)!r}" for f in fields))
        if len(lines) >= limit:
            lines.append("...")
            break
    return lines
