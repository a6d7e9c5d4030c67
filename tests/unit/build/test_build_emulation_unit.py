"""build.emulation without changing the host: platforms, the installed QEMU definitions, ELF machines, errors."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from fixtures_util import ensure_debian_arm64_foreign_rootfs, require_tool

from dockyard.build import emulation
from dockyard.errors import BuildUnavailable, InvalidPlatform
from dockyard.oci.platform import Platform

FOREIGN = ("arm64", "arm", "ppc64le", "s390x", "riscv64")


def _amd64_host() -> None:
    if emulation.host_platform().architecture != "amd64":
        pytest.skip("these expectations are for an amd64 host")


def test_host_platform_is_what_dpkg_says() -> None:
    dpkg = shutil.which("dpkg")
    if dpkg is None:
        pytest.skip("no dpkg to compare with")
    arch = subprocess.run([dpkg, "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    debian = {"amd64": "linux/amd64", "arm64": "linux/arm64", "armhf": "linux/arm/v7", "i386": "linux/386"}
    if arch not in debian:
        pytest.skip(f"no expectation for Debian architecture {arch}")
    assert str(emulation.host_platform()) == debian[arch]


@pytest.mark.parametrize(
    ("spec", "foreign"),
    [
        ("linux/amd64", False),
        ("linux/amd64/v3", False),
        ("linux/386", False),
        ("linux/arm64", True),
        ("linux/arm64/v8", True),
        ("linux/arm/v7", True),
        ("linux/arm/v6", True),
        ("linux/ppc64le", True),
        ("linux/s390x", True),
        ("linux/riscv64", True),
        ("windows/amd64", True),
    ],
)
def test_needs_emulation_on_amd64(spec: str, foreign: bool) -> None:
    _amd64_host()
    assert emulation.needs_emulation(Platform.parse(spec)) is foreign


@pytest.mark.parametrize(
    ("arch", "name"),
    [
        ("arm64", "qemu-aarch64"),
        ("aarch64", "qemu-aarch64"),
        ("linux/arm64/v8", "qemu-aarch64"),
        ("arm/v6", "qemu-arm"),
        ("linux/arm/v7", "qemu-arm"),
        ("armhf", "qemu-arm"),
        ("ppc64le", "qemu-ppc64le"),
        ("s390x", "qemu-s390x"),
        ("riscv64", "qemu-riscv64"),
        ("i386", "qemu-i386"),
        ("x86_64", "qemu-x86_64"),
    ],
)
def test_qemu_name(arch: str, name: str) -> None:
    assert emulation.qemu_name(arch) == name


def test_qemu_name_unknown_architecture() -> None:
    with pytest.raises(InvalidPlatform, match="cannot emulate the mips64le architecture"):
        emulation.qemu_name("linux/mips64le")


@pytest.mark.parametrize("arch", FOREIGN)
def test_installed_definitions_have_their_interpreter_and_do_not_claim_host_programs(arch: str) -> None:
    _amd64_host()
    require_tool(f"{emulation.qemu_name(arch)}-static")
    found = emulation.definition(emulation.qemu_name(arch))
    assert found is not None
    assert os.path.exists(found.interpreter)
    assert not found.matches(Path("/bin/sh").read_bytes()[:64])
    line = found.register_line()
    assert line.startswith(f":{found.name}:M:") and "F" in line.rsplit(":", 1)[1]
    assert found.register_line("/x/qemu").split(":")[6] == "/x/qemu"


def test_arm64_definition_claims_the_arm64_rootfs_programs() -> None:
    require_tool("qemu-aarch64-static")
    rootfs = ensure_debian_arm64_foreign_rootfs()
    found = emulation.definition("qemu-aarch64")
    assert found is not None
    for program in ("bin/sh", "bin/uname", "usr/bin/dpkg"):
        assert found.matches((rootfs / program).read_bytes()[:64]), program
    arm = emulation.definition("qemu-arm")
    assert arm is not None and not arm.matches((rootfs / "bin/sh").read_bytes()[:64])


def test_elf_machine(tmp_path: Path) -> None:
    rootfs = ensure_debian_arm64_foreign_rootfs()
    assert emulation.elf_machine(rootfs / "bin/sh") == emulation.ELF_MACHINES["arm64"] == 183
    assert emulation.elf_machine(rootfs / "usr/lib/aarch64-linux-gnu/libc.so.6") == 183
    if emulation.host_platform().architecture == "amd64":
        assert emulation.elf_machine(Path("/bin/sh")) == 62
    text = tmp_path / "script"
    text.write_text("#!/bin/sh\necho hi\n")
    assert emulation.elf_machine(text) is None
    short = tmp_path / "short"
    short.write_bytes(b"\x7fELF")
    assert emulation.elf_machine(short) is None


def test_native_status_is_ready() -> None:
    _amd64_host()
    for arch in ("amd64", "386", "linux/amd64/v2"):
        state = emulation.status(arch)
        assert state.native and state.ready and state.problem() is None


def test_status_of_an_unknown_architecture() -> None:
    state = emulation.status("mips64le")
    assert not state.supported and not state.ready
    assert "cannot emulate the mips64le architecture" in (state.problem() or "")


def test_status_names_the_missing_piece() -> None:
    base = emulation.EmulatorStatus(
        arch="arm64", name="qemu-aarch64", native=False, supported=True, kernel_support=True, mounted=True,
        registered=True, enabled=True, flags="PF", interpreter="/usr/bin/qemu-aarch64-static",
        interpreter_present=True,
    )  # fmt: skip
    assert base.ready and base.problem() is None
    from dataclasses import replace

    assert "CONFIG_BINFMT_MISC" in (replace(base, kernel_support=False, mounted=False).problem() or "")
    assert "not mounted" in (replace(base, mounted=False).problem() or "")
    assert "not registered" in (replace(base, registered=False).problem() or "")
    assert "disabled" in (replace(base, enabled=False).problem() or "")
    no_f = replace(base, flags="OC")
    assert not no_f.ready and "F (fix-binary)" in (no_f.problem() or "")


def test_ensure_native_changes_nothing() -> None:
    _amd64_host()
    said: list[str] = []
    before = emulation.status("arm64")
    assert emulation.ensure(Platform.parse("linux/amd64"), announce=said.append) is False
    assert emulation.ensure(Platform.parse("linux/386"), announce=said.append) is False
    assert said == [] and emulation.status("arm64") == before


def test_ensure_missing_interpreter_names_the_package(tmp_path: Path) -> None:
    _amd64_host()
    said: list[str] = []
    before = emulation.status("arm64")
    missing = tmp_path / "usr/bin/qemu-aarch64-static"
    with pytest.raises(BuildUnavailable) as raised:
        emulation.ensure(Platform.parse("linux/arm64"), announce=said.append, interpreter=os.fspath(missing),
                         record_dir=tmp_path / "records")  # fmt: skip
    message = str(raised.value)
    assert "linux/arm64" in message and os.fspath(missing) in message
    assert "install the Debian package qemu-user-static" in message
    assert said == [] and emulation.status("arm64") == before


@pytest.mark.parametrize(
    ("spec", "words"),
    [("windows/amd64", "only linux platforms"), ("linux/mips64le", "no QEMU emulation for mips64le")],
)
def test_ensure_refuses_what_it_cannot_emulate(spec: str, words: str, tmp_path: Path) -> None:
    _amd64_host()
    said: list[str] = []
    with pytest.raises(BuildUnavailable, match=words):
        emulation.ensure(Platform.parse(spec), announce=said.append, record_dir=tmp_path)
    assert said == []
