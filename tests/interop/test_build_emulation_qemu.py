"""build.emulation for real, as root: binfmt_misc mounted and QEMU registered, arm64 programs run in a chroot,
and every test leaves the registrations (and the binfmt_misc mount) as it found them."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures_util import ensure_debian_arm64_foreign_rootfs, require_root, require_tool

from dockyard.build import emulation
from dockyard.errors import BuildUnavailable
from dockyard.oci.platform import Platform

# binfmt_misc is one for the whole host: every module that registers or removes QEMU runs in one xdist worker
pytestmark = [pytest.mark.interop, pytest.mark.xdist_group("binfmt")]

ARM64 = Platform.parse("linux/arm64")


def _host_state(arch: str) -> tuple[bool, bool, bool, str]:
    state = emulation.status(arch)
    return state.mounted, state.registered, state.enabled, state.flags


@pytest.fixture(scope="module")
def arm64_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The arm64 first-stage rootfs with qemu-aarch64 registered; unregistered afterwards if this registered it."""
    require_root("registering QEMU in binfmt_misc")
    require_tool("qemu-aarch64-static")
    rootfs = ensure_debian_arm64_foreign_rootfs()
    if emulation.host_platform().architecture == "arm64":
        pytest.skip("arm64 is native here")
    before = _host_state("arm64")
    records = tmp_path_factory.mktemp("emulation-records")
    said: list[str] = []
    changed = emulation.ensure(ARM64, announce=said.append, record_dir=records)
    try:
        assert len(said) == (1 if changed else 0)
        if changed:
            assert "qemu-aarch64" in said[0] and "`dockyard builder emulation --uninstall arm64`" in said[0]
        yield rootfs
    finally:
        if changed:
            assert emulation.uninstall("arm64", record_dir=records) is True
            assert _host_state("arm64") == before


def test_ensure_makes_arm64_ready_with_the_f_flag(arm64_rootfs: Path) -> None:
    state = emulation.status("arm64")
    assert state.ready and state.mounted and state.registered and state.enabled and "F" in state.flags
    assert state.interpreter_present


def test_chroot_uname_says_aarch64(arm64_rootfs: Path) -> None:
    assert emulation.elf_machine(arm64_rootfs / "bin/uname") == 183
    proc = subprocess.run(["chroot", arm64_rootfs, "/bin/uname", "-m"], capture_output=True, text=True, check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "aarch64\n", "")


def test_chroot_shell_runs_under_qemu(arm64_rootfs: Path) -> None:
    assert emulation.elf_machine(arm64_rootfs / "bin/sh") == 183
    proc = subprocess.run(
        ["chroot", arm64_rootfs, "/bin/sh", "-c", "echo $((6 * 7)); exit 3"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stdout) == (3, "42\n")


def test_ensure_twice_changes_nothing(arm64_rootfs: Path, tmp_path: Path) -> None:
    said: list[str] = []
    assert emulation.ensure(ARM64, announce=said.append, record_dir=tmp_path) is False
    assert said == []


# --------------------------------------------------------------------------- another arch, registered directly


def _spare_arch() -> str:
    """A foreign architecture nothing has registered, for tests that register and remove it themselves."""
    for arch in ("s390x", "riscv64", "ppc64le"):
        if not emulation.status(arch).registered and os.path.exists(f"/usr/bin/{emulation.qemu_name(arch)}-static"):
            return arch
    pytest.skip("no unregistered foreign architecture with a QEMU emulator to test with")


@contextlib.contextmanager
def _binfmt_misc() -> Iterator[None]:
    """binfmt_misc mounted for the block; unmounted after when it was not before and nothing is left in it."""
    mounted = (emulation.BINFMT_MISC / "register").exists()
    if not mounted:
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", emulation.BINFMT_MISC], check=True)
    try:
        yield
    finally:
        if not mounted and not {e.name for e in emulation.BINFMT_MISC.iterdir()} - {"register", "status"}:
            subprocess.run(["umount", emulation.BINFMT_MISC], check=True)


@contextlib.contextmanager
def _registered(name: str, line: str) -> Iterator[None]:
    (emulation.BINFMT_MISC / "register").write_text(line)
    try:
        yield
    finally:
        if (emulation.BINFMT_MISC / name).exists():
            (emulation.BINFMT_MISC / name).write_text("-1")


def test_status_ensure_uninstall_round_trip(tmp_path: Path) -> None:
    require_root("registering QEMU in binfmt_misc")
    arch = _spare_arch()
    before = _host_state(arch)
    qemu = f"/usr/bin/{emulation.qemu_name(arch)}-static"
    said: list[str] = []
    assert emulation.ensure(Platform("linux", arch), announce=said.append, interpreter=qemu, record_dir=tmp_path)
    try:
        state = emulation.status(arch)
        assert state.ready and state.interpreter == qemu and "F" in state.flags
        assert len(said) == 1 and f"--uninstall {arch}`" in said[0]
        assert (tmp_path / f"{arch}.json").exists()
    finally:
        assert emulation.uninstall(arch, record_dir=tmp_path) is True
    assert _host_state(arch) == before
    assert not (tmp_path / f"{arch}.json").exists()
    assert emulation.uninstall(arch, record_dir=tmp_path) is False


def test_a_registration_without_the_f_flag_is_refused(tmp_path: Path) -> None:
    require_root("registering QEMU in binfmt_misc")
    arch = _spare_arch()
    found = emulation.definition(emulation.qemu_name(arch))
    assert found is not None
    line = found.register_line().rsplit(":", 1)[0] + ":P"
    with _binfmt_misc(), _registered(found.name, line):
        state = emulation.status(arch)
        assert state.registered and state.enabled and not state.ready
        said: list[str] = []
        with pytest.raises(BuildUnavailable, match=r"without the F \(fix-binary\) flag"):
            emulation.ensure(Platform("linux", arch), announce=said.append, record_dir=tmp_path)
        assert said == [] and emulation.status(arch).flags == "P"
        (emulation.BINFMT_MISC / found.name).write_text("0")  # disabled as well: enabling it would not do
        with pytest.raises(BuildUnavailable, match=r"without the F \(fix-binary\) flag"):
            emulation.ensure(Platform("linux", arch), announce=said.append, record_dir=tmp_path)
        assert said == [] and not emulation.status(arch).enabled


def test_a_disabled_registration_is_enabled_and_disabled_again(tmp_path: Path) -> None:
    require_root("registering QEMU in binfmt_misc")
    arch = _spare_arch()
    found = emulation.definition(emulation.qemu_name(arch))
    assert found is not None
    with _binfmt_misc(), _registered(found.name, found.register_line()):
        (emulation.BINFMT_MISC / found.name).write_text("0")
        assert not emulation.status(arch).enabled
        said: list[str] = []
        assert emulation.ensure(Platform("linux", arch), announce=said.append, record_dir=tmp_path) is True
        assert emulation.status(arch).ready and len(said) == 1 and "enabled" in said[0]
        assert emulation.uninstall(arch, record_dir=tmp_path) is True
        state = emulation.status(arch)
        assert state.registered and not state.enabled


def test_dockyard_reads_the_arm64_fixture_image() -> None:
    from fixtures_util import ensure_debian_arm64_oci_layout

    from dockyard.layers import union
    from dockyard.transport import oci_layout

    [entry] = oci_layout.read(ensure_debian_arm64_oci_layout(), platform=ARM64)
    config = entry.image.config()
    assert (config.os, config.architecture) == ("linux", "arm64")
    assert entry.ref_name == "bookworm" and len(entry.image.layers()) == 1
    paths = {e.path: e for e in union.flatten([layer.open for layer in entry.image.layers()])}
    assert paths["usr/bin/dash"].kind == "file" and paths["bin"].linkname == "usr/bin"
