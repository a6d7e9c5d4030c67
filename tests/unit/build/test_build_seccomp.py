"""Docker's seccomp profile format turned into the OCI spec's ``linux.seccomp``, rule by rule as Docker selects
them (architecture, capabilities, kernel), on a synthetic profile and on the system's containers-common one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dockyard.build.runtime.runc import CAPABILITIES
from dockyard.build.runtime.seccomp import SYSTEM_PROFILES, convert, for_step, missing_reason
from dockyard.errors import BuildError

PROFILE: dict[str, Any] = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "archMap": [
        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
    ],
    "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
        {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
        {"names": ["chroot"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_CHROOT"]}},
        {"names": ["bpf"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["bpf"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["new_call"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "6.1"}},
        {"names": ["old_way"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.4"}},
        {"name": "single", "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["arm64"]}},
    ],
}  # fmt: skip


def _names(out: dict[str, Any]) -> list[tuple[str, str]]:
    return [(n, r["action"]) for r in out["syscalls"] for n in r["names"]]


def test_rules_selected_as_docker_does() -> None:
    caps = ["CAP_SYS_CHROOT", "CAP_CHOWN"]
    amd = convert(PROFILE, caps=caps, machine="x86_64", kernel="6.18.44-fc")
    assert amd["defaultAction"] == "SCMP_ACT_ERRNO" and amd["defaultErrnoRet"] == 1
    assert amd["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert _names(amd) == [
        ("read", "SCMP_ACT_ALLOW"), ("write", "SCMP_ACT_ALLOW"), ("personality", "SCMP_ACT_ALLOW"),
        ("arch_prctl", "SCMP_ACT_ALLOW"), ("chroot", "SCMP_ACT_ALLOW"), ("bpf", "SCMP_ACT_ERRNO"),
        ("new_call", "SCMP_ACT_ALLOW"), ("single", "SCMP_ACT_ALLOW"),
    ]  # fmt: skip
    assert amd["syscalls"][1]["args"] == [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]
    assert amd["syscalls"][4]["errnoRet"] == 1
    arm = convert(PROFILE, caps=["CAP_SYS_ADMIN"], machine="aarch64", kernel="5.10.0-23-arm64")
    assert arm["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert _names(arm) == [("read", "SCMP_ACT_ALLOW"), ("write", "SCMP_ACT_ALLOW"), ("personality", "SCMP_ACT_ALLOW"),
                           ("bpf", "SCMP_ACT_ALLOW")]  # fmt: skip
    old = convert(PROFILE, caps=[], machine="x86_64", kernel="4.19.0")
    assert ("old_way", "SCMP_ACT_ALLOW") in _names(old) and ("new_call", "SCMP_ACT_ALLOW") not in _names(old)


def test_unknown_machine_is_an_error_naming_the_way_out() -> None:
    with pytest.raises(BuildError, match="DOCKYARD_SECCOMP_PROFILE=unconfined"):
        convert(PROFILE, caps=[], machine="vax")


def test_profile_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mine = tmp_path / "p.json"
    mine.write_text(json.dumps(PROFILE))
    monkeypatch.setenv("DOCKYARD_SECCOMP_PROFILE", str(mine))
    assert for_step(["CAP_CHOWN"]) is not None and missing_reason() is None
    monkeypatch.setenv("DOCKYARD_SECCOMP_PROFILE", "unconfined")
    assert for_step(["CAP_CHOWN"]) is None and missing_reason() is None  # asked for: nothing to say
    bad = tmp_path / "bad.json"
    bad.write_text('{"syscalls": []}')
    monkeypatch.setenv("DOCKYARD_SECCOMP_PROFILE", str(bad))
    with pytest.raises(BuildError, match="no defaultAction"):
        for_step([])


def test_the_system_profile_converts() -> None:
    path = next((p for p in SYSTEM_PROFILES if p.is_file()), None)
    if path is None:
        from fixtures_util import in_ci

        (pytest.fail if in_ci() else pytest.skip)(
            "no seccomp profile: `make deps` installs golang-github-containers-common"
        )
    out = convert(json.loads(path.read_text()), caps=list(CAPABILITIES), machine="x86_64", kernel="6.1.0")
    allowed = {n for r in out["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" and not r.get("args") for n in r["names"]}
    assert {"read", "execve", "clone", "chroot", "arch_prctl"} <= allowed  # chroot: CAP_SYS_CHROOT is granted
    assert "bpf" not in allowed and "add_key" not in allowed  # bpf needs CAP_SYS_ADMIN; add_key is not listed
    assert out["architectures"][0] == "SCMP_ARCH_X86_64"
