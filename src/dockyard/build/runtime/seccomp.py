"""The seccomp filter of RUN steps: the default profile of Docker and podman, as BuildKit applies containerd's.

The profile is read from the system, in the Docker/containers format (``defaultAction``, ``archMap``, ``syscalls``
with ``includes``/``excludes`` by architecture, capability and kernel): Debian ships it with containers-common
(``/usr/share/containers/seccomp.json``, package ``golang-github-containers-common``, which podman brings).
``$DOCKYARD_SECCOMP_PROFILE`` names another file, or ``unconfined`` for none. It is turned into the OCI runtime
spec's ``linux.seccomp`` as Docker does: the host's architecture with its sub-architectures (a foreign platform's
steps run under QEMU, which makes the host's system calls), and only the rules whose conditions hold for the
step's capabilities and the running kernel.
"""

from __future__ import annotations

import functools
import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from dockyard.errors import BuildError

PROFILE_ENV: Final = "DOCKYARD_SECCOMP_PROFILE"
SYSTEM_PROFILES: Final = (Path("/usr/share/containers/seccomp.json"), Path("/etc/containers/seccomp.json"))
UNCONFINED: Final = "unconfined"

#: uname machine -> (Go's GOARCH, as the profile's conditions name it; libseccomp's architecture)
_MACHINES: Final = {
    "x86_64": ("amd64", "SCMP_ARCH_X86_64"),
    "aarch64": ("arm64", "SCMP_ARCH_AARCH64"),
    "armv7l": ("arm", "SCMP_ARCH_ARM"),
    "ppc64le": ("ppc64le", "SCMP_ARCH_PPC64LE"),
    "s390x": ("s390x", "SCMP_ARCH_S390X"),
    "riscv64": ("riscv64", "SCMP_ARCH_RISCV64"),
}


def profile_path() -> Path | None:
    """The profile file to apply, or None for none (unconfined asked for, or no profile on this system)."""
    named = os.environ.get(PROFILE_ENV, "").strip()
    if named == UNCONFINED:
        return None
    if named:
        return Path(named)
    return next((p for p in SYSTEM_PROFILES if p.is_file()), None)


def missing_reason() -> str | None:
    """One line saying that steps run without a seccomp filter and why, or None when they have one."""
    if os.environ.get(PROFILE_ENV, "").strip() == UNCONFINED:
        return None  # asked for
    if profile_path() is None:
        return (
            "no seccomp profile on this system: RUN steps run without a seccomp filter "
            "(install the Debian package golang-github-containers-common, or set DOCKYARD_SECCOMP_PROFILE)"
        )
    return None


def _kernel(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("-", 1)[0].split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def convert(
    profile: dict[str, Any], *, caps: Sequence[str], machine: str | None = None, kernel: str | None = None
) -> dict[str, Any]:
    """``profile`` (Docker's format) as the OCI spec's ``linux.seccomp`` for a process with ``caps`` on ``machine``
    (default: this host) and ``kernel`` (default: the running one)."""
    machine = machine or platform.machine()
    if machine not in _MACHINES:
        raise BuildError(f"no seccomp architecture known for {machine}: set DOCKYARD_SECCOMP_PROFILE=unconfined")
    goarch, native = _MACHINES[machine]
    running = _kernel(kernel or platform.release())
    architectures: list[str] = []
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == native:
            architectures = [native, *(entry.get("subArchitectures") or [])]
    syscalls: list[dict[str, Any]] = []
    for call in profile.get("syscalls") or []:
        if not _applies(call, goarch, set(caps), running):
            continue
        names = call.get("names") or ([call["name"]] if call.get("name") else [])
        rule: dict[str, Any] = {"names": list(names), "action": call["action"]}
        if call.get("errnoRet") is not None:
            rule["errnoRet"] = int(call["errnoRet"])
        args = [
            {"index": a["index"], "value": a["value"], "valueTwo": a.get("valueTwo", 0), "op": a["op"]}
            for a in call.get("args") or []
        ]
        if args:
            rule["args"] = args
        syscalls.append(rule)
    out: dict[str, Any] = {"defaultAction": profile["defaultAction"], "syscalls": syscalls}
    if architectures:
        out["architectures"] = architectures
    if profile.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = int(profile["defaultErrnoRet"])
    return out


def _applies(call: dict[str, Any], goarch: str, caps: set[str], kernel: tuple[int, ...]) -> bool:
    """Docker's rule selection: an exclusion that matches drops the rule, an inclusion must match whole."""
    excludes, includes = call.get("excludes") or {}, call.get("includes") or {}
    if goarch in (excludes.get("arches") or []):
        return False
    if caps & set(excludes.get("caps") or []):
        return False
    if excludes.get("minKernel") and kernel >= _kernel(excludes["minKernel"]):
        return False
    if includes.get("arches") and goarch not in includes["arches"]:
        return False
    if not set(includes.get("caps") or []) <= caps:
        return False
    return not (includes.get("minKernel") and kernel < _kernel(includes["minKernel"]))


@functools.cache
def _load(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise BuildError(f"seccomp profile {path}: {exc}") from None
    if not isinstance(doc, dict) or "defaultAction" not in doc:
        raise BuildError(f"seccomp profile {path}: not a seccomp profile (no defaultAction)")
    return doc


def for_step(caps: Sequence[str]) -> dict[str, Any] | None:
    """``linux.seccomp`` for a step with ``caps``, or None when steps run unconfined."""
    path = profile_path()
    return None if path is None else _converted(path, tuple(caps))


@functools.cache
def _converted(path: Path, caps: tuple[str, ...]) -> dict[str, Any]:
    """Converted once a process for each profile and set of capabilities (every step has the same), not per step;
    callers put the result in a spec they serialise, never change it."""
    return convert(_load(path), caps=caps)


__all__ = ["PROFILE_ENV", "SYSTEM_PROFILES", "UNCONFINED", "convert", "for_step", "missing_reason", "profile_path"]
