"""QEMU user-mode emulation of foreign platforms through the kernel's ``binfmt_misc``.

A RUN step for ``linux/arm64`` on an amd64 host runs arm64 programs: the kernel hands them to
``qemu-aarch64-static`` when a ``binfmt_misc`` entry says so. The entry must carry the F (fix-binary) flag: the
kernel then opens the interpreter when the entry is registered, so it also works inside a container's root
filesystem, where ``/usr/bin/qemu-aarch64-static`` does not exist.

Registering changes the whole host, so :func:`ensure` does it only when a foreign platform is asked for, says so
on one line and records what it did under ``/run/dockyard/emulation`` (gone at reboot, as the registration is);
:func:`uninstall` undoes it. Definitions come from Debian's ``qemu-user-static``: ``update-binfmts --enable``
when ``binfmt-support`` knows the entry, else the package's ``/usr/lib/binfmt.d/qemu-<name>.conf`` line is
written to ``binfmt_misc/register``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from dockyard.atomicfile import write_atomically
from dockyard.errors import BuildUnavailable, InvalidPlatform
from dockyard.oci.platform import KNOWN_OS, Platform, normalize_arch

BINFMT_MISC: Final = Path("/proc/sys/fs/binfmt_misc")
"""Where the kernel's ``binfmt_misc`` file system is mounted."""

RECORD_DIR: Final = Path("/run/dockyard/emulation")
"""What :func:`ensure` changed, one ``<arch>.json`` per platform architecture, for :func:`uninstall`."""

BINFMTS_ADMIN_DIR: Final = Path("/var/lib/binfmts")
"""binfmt-support's database: an entry here means ``update-binfmts --enable <name>`` knows it."""

BINFMTS_IMPORT_DIR: Final = Path("/usr/share/binfmts")
"""Where packages put ``update-binfmts`` definitions (the ``qemu-user-static`` ones among them)."""

BINFMT_D_DIRS: Final = (Path("/etc/binfmt.d"), Path("/run/binfmt.d"), Path("/usr/lib/binfmt.d"), Path("/lib/binfmt.d"))
"""systemd-binfmt's directories of ``:name:type:offset:magic:mask:interpreter:flags`` lines, first wins."""

QEMU_NAMES: Final[Mapping[str, str]] = {
    "amd64": "x86_64",
    "386": "i386",
    "arm64": "aarch64",
    "arm": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}
"""Go architecture (OCI platform) -> QEMU's name for it (``qemu-<name>``, ``qemu-<name>-static``)."""

ELF_MACHINES: Final[Mapping[str, int]] = {
    "amd64": 62,
    "386": 3,
    "arm64": 183,
    "arm": 40,
    "ppc64le": 21,
    "s390x": 22,
    "riscv64": 243,
}
"""Go architecture -> the ``e_machine`` of its ELF files."""

_ALSO_NATIVE: Final[Mapping[str, frozenset[str]]] = {"amd64": frozenset({"386"})}
"""Architectures a host runs without emulation besides its own."""

PACKAGE: Final = "qemu-user-static"
_UNDO = "dockyard builder emulation --uninstall"


@dataclass(frozen=True)
class EmulatorStatus:
    """How ``binfmt_misc`` stands for one architecture.

    ``interpreter`` is the registered one, else the one the installed definition names (``None`` without
    either); ``flags`` are the registered entry's (``"POF"``), empty when not registered.
    """

    arch: str
    name: str
    native: bool
    supported: bool
    kernel_support: bool
    mounted: bool
    registered: bool
    enabled: bool
    flags: str
    interpreter: str | None
    interpreter_present: bool

    @property
    def ready(self) -> bool:
        """True when programs of this architecture run here, also inside a container's root file system."""
        return self.native or (self.mounted and self.registered and self.enabled and "F" in self.flags)

    def problem(self) -> str | None:
        """None when :attr:`ready`, else one line saying what is missing."""
        if self.ready:
            return None
        if not self.supported:
            return f"dockyard cannot emulate the {self.arch} architecture (it knows {', '.join(sorted(QEMU_NAMES))})"
        if not self.kernel_support:
            return "the kernel has no binfmt_misc (CONFIG_BINFMT_MISC)"
        if not self.mounted:
            return f"binfmt_misc is not mounted on {BINFMT_MISC}"
        if not self.registered:
            return f"{self.name} is not registered in binfmt_misc"
        if not self.enabled:
            return f"{self.name} is registered in binfmt_misc but disabled"
        return f"{self.name} is registered in binfmt_misc without the F (fix-binary) flag (flags {self.flags!r})"


@dataclass(frozen=True)
class Definition:
    """One ``binfmt_misc`` entry as an installed package defines it (``source``: the file it came from)."""

    name: str
    magic: str  # as the register line writes it: \x escapes
    mask: str
    offset: int
    interpreter: str
    flags: str
    source: Path
    binfmt_support: bool  # update-binfmts knows it

    def matches(self, header: bytes) -> bool:
        """True when a file starting with ``header`` is one the kernel hands to this entry's interpreter."""
        magic, mask = _unescape(self.magic), _unescape(self.mask) if self.mask else None
        field = header[self.offset : self.offset + len(magic)]
        if len(field) < len(magic):
            return False
        if mask is None:
            return field == magic
        return all(b & m == x & m for b, m, x in zip(field, mask, magic, strict=True))

    def register_line(self, interpreter: str | None = None) -> str:
        """The line for ``binfmt_misc/register``, with the F flag."""
        flags = "".join(sorted(set(self.flags) | {"F"}))
        return f":{self.name}:M:{self.offset}:{self.magic}:{self.mask}:{interpreter or self.interpreter}:{flags}"


def _unescape(text: str) -> bytes:
    """binfmt_misc's ``\\xNN`` escapes (other characters stand for themselves)."""
    return re.sub(rb"\\x([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), text.encode("latin-1"))


def host_platform() -> Platform:
    """The platform of this machine (``linux/amd64`` here)."""
    return Platform.host()


def _arch_of(value: str | Platform) -> str:
    """The normalised architecture of ``arm64``, ``arm/v7``, ``linux/arm64/v8`` or a Platform."""
    if isinstance(value, Platform):
        return value.normalized().architecture
    first, _, rest = value.partition("/")
    if first.lower() in KNOWN_OS:  # linux/arm64/v8
        return Platform.parse(value).normalized().architecture
    return normalize_arch(first, rest)[0]  # arm64, arm/v7


def needs_emulation(p: Platform) -> bool:
    """True when programs of ``p`` do not run natively here (another OS always counts as foreign)."""
    p, host = p.normalized(), host_platform()
    if p.os != host.os:
        return True
    return p.architecture != host.architecture and p.architecture not in _ALSO_NATIVE.get(host.architecture, ())


def qemu_name(arch: str) -> str:
    """``qemu-aarch64`` for ``arm64``: the name of the ``binfmt_misc`` entry; InvalidPlatform when unknown."""
    arch = _arch_of(arch)
    if arch not in QEMU_NAMES:
        raise InvalidPlatform(
            f"dockyard cannot emulate the {arch} architecture (it knows {', '.join(sorted(QEMU_NAMES))})"
        )
    return f"qemu-{QEMU_NAMES[arch]}"


def elf_machine(path: Path) -> int | None:
    """The ``e_machine`` of an ELF file (183 for aarch64), None when ``path`` is not ELF."""
    with open(path, "rb") as f:
        head = f.read(20)
    if len(head) < 20 or head[:4] != b"\x7fELF" or head[5] not in (1, 2):
        return None
    return int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")


def _kernel_support() -> bool:
    try:
        return any(line.split()[-1:] == ["binfmt_misc"] for line in Path("/proc/filesystems").read_text().splitlines())
    except OSError:
        return False


def _mounted() -> bool:
    return (BINFMT_MISC / "register").exists()


def _read_entry(name: str) -> dict[str, str] | None:
    try:
        text = (BINFMT_MISC / name).read_text()
    except FileNotFoundError:
        return None
    entry: dict[str, str] = {}
    for line in text.splitlines():
        if line in ("enabled", "disabled"):
            entry["state"] = line
        else:
            key, _, value = line.partition(" ")
            entry[key.rstrip(":")] = value.strip()
    return entry


def definition(name: str) -> Definition | None:
    """The installed definition of ``name`` (``qemu-aarch64``): binfmt-support's first, then a binfmt.d line."""
    known = (BINFMTS_ADMIN_DIR / name).is_file()
    imported = BINFMTS_IMPORT_DIR / name
    if imported.is_file():
        fields: dict[str, str] = {}
        for line in imported.read_text().splitlines():
            key, _, value = line.strip().partition(" ")
            fields[key] = value.strip()
        if fields.get("magic") and fields.get("interpreter"):
            flags = "".join(
                flag
                for flag, key in (("P", "preserve"), ("OC", "credentials"), ("F", "fix_binary"))
                if fields.get(key) == "yes"
            )
            return Definition(
                name, fields["magic"], fields.get("mask", ""), int(fields.get("offset") or 0), fields["interpreter"],
                flags, imported, known,
            )  # fmt: skip
    for directory in BINFMT_D_DIRS:
        conf = directory / f"{name}.conf"
        if not conf.is_file():
            continue
        for line in conf.read_text().splitlines():
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            parts = line[1:].split(line[0])
            if len(parts) == 7 and parts[0] == name and parts[1] == "M":
                return Definition(name, parts[3], parts[4], int(parts[2] or 0), parts[5], parts[6], conf, known)
    return None


def status(arch: str, *, interpreter: str | None = None) -> EmulatorStatus:
    """How ``binfmt_misc`` stands for ``arch`` (``arm64``, ``arm/v7``, ``linux/ppc64le`` ...).

    ``interpreter`` replaces the installed definition's interpreter path.
    """
    arch = _arch_of(arch)
    native = not needs_emulation(Platform("linux", arch))
    supported = arch in QEMU_NAMES
    name = f"qemu-{QEMU_NAMES[arch]}" if supported else ""
    mounted = _mounted()
    entry = _read_entry(name) if supported and mounted else None
    if entry is not None:
        path: str | None = entry.get("interpreter")
    elif interpreter is not None:
        path = interpreter
    else:
        found = definition(name) if supported else None
        path = found.interpreter if found else None
    return EmulatorStatus(
        arch=arch,
        name=name,
        native=native,
        supported=supported,
        kernel_support=mounted or _kernel_support(),
        mounted=mounted,
        registered=entry is not None,
        enabled=entry is not None and entry.get("state") == "enabled",
        flags=entry.get("flags", "") if entry else "",
        interpreter=path,
        interpreter_present=path is not None and os.path.exists(path),
    )


@contextlib.contextmanager
def _locked(record_dir: Path) -> Iterator[None]:
    record_dir.mkdir(parents=True, exist_ok=True)
    with open(record_dir / ".lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _run(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        said = (proc.stderr or proc.stdout).strip().splitlines()
        raise BuildUnavailable(f"{what}: {' '.join(argv)} failed: {said[-1] if said else f'exit {proc.returncode}'}")


def _mount() -> None:
    if not _kernel_support() and shutil.which("modprobe"):
        subprocess.run(["modprobe", "binfmt_misc"], capture_output=True, check=False)
    if not _kernel_support():
        raise BuildUnavailable(
            "foreign platforms need the kernel's binfmt_misc (CONFIG_BINFMT_MISC), which this kernel does not have"
        )
    _run(["mount", "-t", "binfmt_misc", "binfmt_misc", os.fspath(BINFMT_MISC)], "cannot mount binfmt_misc")


def _write(path: Path, text: str, what: str) -> None:
    try:
        path.write_text(text)
    except OSError as e:
        raise BuildUnavailable(f"{what}: writing {text!r} to {path} failed: {e.strerror or e}") from None


def ensure(
    p: Platform,
    *,
    announce: Callable[[str], None],
    interpreter: str | None = None,
    record_dir: Path = RECORD_DIR,
) -> bool:
    """Make programs of ``p`` runnable here; True when the host was changed (and ``announce`` told once).

    Mounts ``binfmt_misc`` when it is not, and registers ``qemu-<name>`` with the F flag (``update-binfmts
    --enable`` when binfmt-support knows it, else the package's binfmt.d line). ``interpreter`` replaces the
    installed definition's emulator path (it is then registered directly). Raises :class:`BuildUnavailable`
    naming the missing package, kernel feature or privilege.
    """
    platform = p.normalized()
    if not needs_emulation(platform):
        return False
    if platform.os != "linux":
        raise BuildUnavailable(f"cannot run {platform} here: dockyard emulates only linux platforms")
    arch = platform.architecture
    if arch not in QEMU_NAMES:
        raise BuildUnavailable(
            f"cannot run {platform} here: dockyard has no QEMU emulation for {arch} "
            f"(it knows {', '.join(sorted(QEMU_NAMES))})"
        )
    name = f"qemu-{QEMU_NAMES[arch]}"
    if interpreter is not None and not os.path.exists(interpreter):
        raise BuildUnavailable(
            f"cannot run {platform} here: QEMU interpreter {interpreter} is missing; "
            f"install the Debian package {PACKAGE} (and binfmt-support)"
        )
    now = status(arch, interpreter=interpreter)
    if now.ready:
        return False
    if now.registered and "F" not in now.flags:
        raise BuildUnavailable(
            f"cannot run {platform} here: {name} is registered in binfmt_misc without the F (fix-binary) flag "
            f"(flags {now.flags!r}), which programs in a container's root file system need "
            f"(remove the entry: `{_UNDO} {arch}` and let dockyard register it)"
        )
    if now.registered:  # registered with F but disabled: enable it
        if os.geteuid() != 0:
            raise BuildUnavailable(f"cannot run {platform} here: {now.problem()}, and enabling it needs root")
        with _locked(record_dir):
            _write(BINFMT_MISC / name, "1", f"cannot enable {name}")
            _record(record_dir, arch, {"name": name, "method": "enable", "mounted": False})
        announce(
            f"dockyard enabled {name} in binfmt_misc to run {platform} (this changes the whole host; "
            f"undo: `{_UNDO} {arch}`)"
        )
        return True
    found = definition(name)
    path = interpreter or (found.interpreter if found else None)
    if found is None or path is None or not os.path.exists(path):
        missing = f"QEMU interpreter {path} is missing" if path else f"no binfmt definition of {name}"
        raise BuildUnavailable(
            f"cannot run {platform} here: {missing}; install the Debian package {PACKAGE} (and binfmt-support)"
        )
    if os.geteuid() != 0:
        raise BuildUnavailable(
            f"cannot run {platform} here: registering {name} in binfmt_misc needs root (build as root once)"
        )
    with _locked(record_dir):
        if status(arch, interpreter=interpreter).ready:  # another build did it while we waited
            return False
        mounted = False
        if not _mounted():
            _mount()
            mounted = True
        if _read_entry(name) is None:
            if found.binfmt_support and interpreter is None and shutil.which("update-binfmts"):
                method = "update-binfmts"
                _run(["update-binfmts", "--enable", name], f"cannot register {name}")
            else:
                method = "register"
                _write(BINFMT_MISC / "register", found.register_line(interpreter), f"cannot register {name}")
        else:
            method = "register"
        _record(record_dir, arch, {"name": name, "method": method, "mounted": mounted})
        after = status(arch, interpreter=interpreter)
        if not after.ready:
            raise BuildUnavailable(f"cannot run {platform} here: {after.problem()}")
    announce(
        f"dockyard registered {name} ({path}, flags {after.flags}) in binfmt_misc"
        f"{' after mounting binfmt_misc' if mounted else ''} to run {platform}: this changes the whole host; "
        f"undo: `{_UNDO} {arch}`"
    )
    return True


def _record(record_dir: Path, arch: str, data: dict[str, object]) -> None:
    write_atomically(record_dir / f"{arch}.json", json.dumps(data, sort_keys=True).encode() + b"\n")


def uninstall(arch: str, *, record_dir: Path = RECORD_DIR) -> bool:
    """Undo :func:`ensure` for ``arch``: remove (or disable again) its ``binfmt_misc`` entry, and unmount
    ``binfmt_misc`` when ensure mounted it and no entry is left. Without a record of ensure's, the entry is removed
    all the same (the user asked for it). True when something changed."""
    arch = _arch_of(arch)
    name = qemu_name(arch)
    if os.geteuid() != 0:
        raise BuildUnavailable(f"removing {name} from binfmt_misc needs root")
    with _locked(record_dir):
        record_path = record_dir / f"{arch}.json"
        try:
            record = json.loads(record_path.read_text())
        except (OSError, ValueError):
            record = {}
        changed = False
        if _mounted() and _read_entry(name) is not None:
            method = record.get("method")
            if method == "enable":
                _write(BINFMT_MISC / name, "0", f"cannot disable {name}")
            elif method == "update-binfmts" or (method is None and (BINFMTS_ADMIN_DIR / name).is_file()):
                _run(["update-binfmts", "--disable", name], f"cannot unregister {name}")
            else:
                _write(BINFMT_MISC / name, "-1", f"cannot unregister {name}")
            changed = True
        if record.get("mounted") and _mounted():
            left = {e.name for e in BINFMT_MISC.iterdir()} - {"register", "status"}
            if not left:
                _run(["umount", os.fspath(BINFMT_MISC)], "cannot unmount binfmt_misc")
                changed = True
        record_path.unlink(missing_ok=True)
    return changed


__all__ = [
    "BINFMT_MISC",
    "ELF_MACHINES",
    "QEMU_NAMES",
    "RECORD_DIR",
    "Definition",
    "EmulatorStatus",
    "definition",
    "elf_machine",
    "ensure",
    "host_platform",
    "needs_emulation",
    "qemu_name",
    "status",
    "uninstall",
]
