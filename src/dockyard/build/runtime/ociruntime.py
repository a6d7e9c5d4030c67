"""Which OCI runtime runs RUN steps, and how it is called: runc, or crun where it can run.

Both take the same command line (``--root DIR run --no-new-keyring --bundle DIR ID``, ``kill``, ``delete --force``).
crun 1.8 refuses a host whose cgroups are mounted in hybrid mode (v1 controllers under ``/sys/fs/cgroup``, cgroup2
at ``/sys/fs/cgroup/unified``): there each crun command runs in a private mount namespace with the cgroup2 mount
taken away, so crun sees a plain v1 host (the rest of the host's mounts, the step's overlay included, stay
visible to it). The choice: the build's ``--runtime``, else ``$DOCKYARD_RUNTIME``, else runc when installed, else
crun.
"""

from __future__ import annotations

import functools
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from dockyard.errors import BuildUnavailable

RUNTIMES: Final = ("runc", "crun")
RUNTIME_ENV: Final = "DOCKYARD_RUNTIME"
UNIFIED: Final = "/sys/fs/cgroup/unified"
_HIDE_CGROUP2: Final = f'umount -l {UNIFIED} || exit 125; exec "$@"'


@dataclass(frozen=True)
class OCIRuntime:
    name: str
    binary: str
    hide_cgroup2: bool = False  # crun on a hybrid cgroup host

    def argv(self, state_root: Path, *args: str) -> list[str]:
        """The command line of one runtime command with its state under ``state_root``."""
        cmd = [self.binary, "--root", os.fspath(state_root), *args]
        if not self.hide_cgroup2:
            return cmd
        unshare = shutil.which("unshare") or "unshare"
        return [unshare, "--mount", "--propagation", "private", "--", "/bin/sh", "-c", _HIDE_CGROUP2, "sh", *cmd]


def _mounts() -> dict[str, str]:
    """Mount point -> file system type, from this process's mount table (the last mount of a point wins)."""
    points: dict[str, str] = {}
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split()
                if " - " in line and len(fields) > 4:
                    points[fields[4]] = line.split(" - ", 1)[1].split()[0]
    except OSError:
        pass
    return points


@functools.cache
def hybrid_cgroups() -> bool:
    """cgroup v1 controllers with a cgroup2 hierarchy beside them (systemd's "hybrid" layout); read once a process,
    not once a step."""
    mounts = _mounts()
    return mounts.get("/sys/fs/cgroup") != "cgroup2" and mounts.get(UNIFIED) == "cgroup2"


def requested(name: str | None = None) -> str | None:
    """The runtime asked for (``name``, else ``$DOCKYARD_RUNTIME``), checked; None when nothing was asked."""
    name = name or os.environ.get(RUNTIME_ENV) or None
    if name is not None and name not in RUNTIMES:
        raise BuildUnavailable(f"unknown OCI runtime {name!r}: use one of {', '.join(RUNTIMES)}")
    return name


def find(name: str | None = None) -> OCIRuntime | None:
    """The runtime to use (see the module's text), or None when it is not installed."""
    wanted = requested(name)
    for candidate in (wanted,) if wanted else RUNTIMES:
        binary = shutil.which(candidate)
        if binary is not None:
            return OCIRuntime(candidate, binary, candidate == "crun" and hybrid_cgroups())
    return None


def by_name(name: str) -> OCIRuntime | None:
    """The runtime called ``name`` if it is installed (to clean up what it left), whatever was asked."""
    binary = shutil.which(name) if name in RUNTIMES else None
    return OCIRuntime(name, binary, name == "crun" and hybrid_cgroups()) if binary else None


__all__ = ["RUNTIMES", "RUNTIME_ENV", "OCIRuntime", "by_name", "find", "hybrid_cgroups", "requested"]
