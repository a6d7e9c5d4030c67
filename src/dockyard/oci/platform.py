"""Platforms (``linux/arm64/v8``): parsing, normalisation and matching as containerd does them.

A port of github.com/containerd/platforms: ``Parse`` (:meth:`Platform.parse`), ``Normalize``
(:meth:`Platform.normalized`), ``Format``/``FormatAll`` (``str()``/:meth:`Platform.format_all`)
and ``NewMatcher(p).Match`` (:meth:`Platform.matches`).

Normalisation::

    aarch64            -> arm64            arm64/v8 (or /8)   -> arm64 (v8 is the default)
    x86_64, x86-64     -> amd64            amd64/v1           -> amd64 (v1 is the default)
    i386, i686         -> 386              armhf              -> arm/v7
    armel              -> arm/v6           arm (no variant)   -> arm/v7;  arm/5, arm/6, arm/8 -> arm/v5 ...
    macos              -> darwin           OS and architecture are lower-cased

(``i686`` is not in containerd's table; it is what Python reports for 32-bit x86 hosts.)

The only impure function here is :meth:`Platform.host`.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from dockyard.errors import InvalidPlatform

KNOWN_OS: Final = frozenset(
    {
        "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux",
        "nacl", "netbsd", "openbsd", "plan9", "solaris", "windows", "zos",
    }
)  # fmt: skip
"""Go's GOOS values (``go/build/syslist.go``), as containerd knows them."""

KNOWN_ARCH: Final = frozenset(
    {
        "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le", "loong64",
        "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc", "riscv", "riscv64",
        "s390", "s390x", "sparc", "sparc64", "wasm",
    }
)  # fmt: skip
"""Go's GOARCH values, as containerd knows them."""

_SPECIFIER_RE: Final = re.compile(r"\A[A-Za-z0-9_.-]+\Z", re.ASCII)
_OS_RE: Final = re.compile(r"\A([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?\Z", re.ASCII)
_PERCENT_RE: Final = re.compile(r"%([0-9A-Fa-f]{2})?")
_WINDOWS_NUMBER_RE: Final = re.compile(r"\A[0-9]+\Z", re.ASCII)

# Windows build numbers (containerd's platform_windows_compat.go).
_WS2022_BUILD: Final = 20348
_COMPAT_LTSC_BUILDS: Final = (_WS2022_BUILD,)


def normalize_os(os: str) -> str:
    """containerd's ``normalizeOS`` (without its fallback to the host OS for an empty value)."""
    os = os.lower()
    return "darwin" if os == "macos" else os


def normalize_arch(arch: str, variant: str) -> tuple[str, str]:
    """containerd's ``normalizeArch``: the canonical architecture and variant (``""`` for none)."""
    arch, variant = arch.lower(), variant.lower()
    if arch in ("i386", "i686"):
        return "386", ""
    if arch in ("x86_64", "x86-64", "amd64"):
        return "amd64", "" if variant == "v1" else variant
    if arch in ("aarch64", "arm64"):
        return "arm64", "" if variant in ("8", "v8") else variant
    if arch == "armhf":
        return "arm", "v7"
    if arch == "armel":
        return "arm", "v6"
    if arch == "arm":
        if variant in ("", "7"):
            return "arm", "v7"
        if variant in ("5", "6", "8"):
            return "arm", "v" + variant
    return arch, variant


def _decode_os_option(value: str, specifier: str, what: str) -> str:
    """Go's ``url.PathUnescape`` for an OS version or feature; a bad escape is an error."""
    if "%" not in value:
        return value
    if any(m.group(1) is None for m in _PERCENT_RE.finditer(value)):
        raise InvalidPlatform(f"invalid platform {specifier!r}: bad %-escape in OS {what} {value!r}")
    try:
        return urllib.parse.unquote(value, errors="strict")
    except UnicodeDecodeError:
        raise InvalidPlatform(f"invalid platform {specifier!r}: OS {what} {value!r} is not UTF-8") from None


def _encode_os_option(value: str) -> str:
    """containerd's ``encodeOSOption``: escape what is ambiguous in ``os(version+feature)``."""
    return value.replace("%", "%25").replace("+", "%2B").replace("(", "%28").replace(")", "%29").replace("/", "%2F")


def _windows_version(text: str | None) -> tuple[int, int, int]:
    """containerd's ``getWindowsOSVersion``: (major, minor, build), all 0 when it does not parse."""
    if text is None or text.count(".") < 2:
        return (0, 0, 0)
    major, _, extra = text.partition(".")
    minor, _, extra = extra.partition(".")
    build = extra.partition(".")[0]
    limits = ((major, 0xFF), (minor, 0xFF), (build, 0xFFFF))
    if not all(_WINDOWS_NUMBER_RE.match(part) and int(part) <= limit for part, limit in limits):
        return (0, 0, 0)
    return (int(major), int(minor), int(build))


def _windows_compatible(host: tuple[int, int, int], ctr: tuple[int, int, int]) -> bool:
    """containerd's ``checkWindowsHostAndContainerCompat``."""
    if host[:2] != ctr[:2]:
        return False
    if host[2] < _WS2022_BUILD:
        return host[2] == ctr[2]
    supported = 0
    for build in reversed(_COMPAT_LTSC_BUILDS):
        if host[2] >= build:
            supported = build
            break
    return supported <= ctr[2] <= host[2]


def _str_tuple(value: object, what: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (tuple, list)):
        raise InvalidPlatform(f"platform {what} must be a sequence of strings, got {value!r}")
    if not all(isinstance(item, str) for item in value):
        raise InvalidPlatform(f"platform {what} must contain only strings, got {value!r}")
    return tuple(value)


@dataclass(frozen=True, slots=True)
class Platform:
    """An OCI platform. Fields hold what they were given; :meth:`normalized` canonicalises them.

    ``variant`` and ``os_version`` are ``None`` when absent (an empty string is stored as ``None``).
    """

    os: str
    architecture: str
    variant: str | None = None
    os_version: str | None = None
    os_features: tuple[str, ...] = ()
    features: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.os, str):
            raise InvalidPlatform(f"platform os must be a string, got {self.os!r}")
        if not isinstance(self.architecture, str):
            raise InvalidPlatform(f"platform architecture must be a string, got {self.architecture!r}")
        for field_name in ("variant", "os_version"):
            value = getattr(self, field_name)
            if value is not None and not isinstance(value, str):
                raise InvalidPlatform(f"platform {field_name} must be a string, got {value!r}")
            if value == "":
                object.__setattr__(self, field_name, None)
        object.__setattr__(self, "os_features", _str_tuple(self.os_features, "os_features"))
        object.__setattr__(self, "features", _str_tuple(self.features, "features"))

    # --- parsing and printing -------------------------------------------------------------------------------

    @classmethod
    def parse(cls, specifier: str, *, default: Platform | None = None) -> Platform:
        """containerd's ``Parse``: ``<os>[(<version>[+<feature>]*)]|<arch>|<os>/<arch>[/<variant>]``.

        A lone OS takes its architecture from ``default`` (the :meth:`host` when not given), a lone
        architecture its OS. As containerd does, ``linux/arm`` and ``linux/arm/v7`` stay distinct
        here (variant ``None`` and ``v7``) but match each other, and so do ``linux/arm64`` and
        ``linux/arm64/v8``.
        """
        if not isinstance(specifier, str):
            raise InvalidPlatform(f"invalid platform: want a string, got {type(specifier).__name__}")
        if "*" in specifier:
            raise InvalidPlatform(f"invalid platform {specifier!r}: wildcards are not supported")
        parts = specifier.split("/", 3)
        os_match = _OS_RE.match(parts[0])
        if os_match is None:
            raise InvalidPlatform(
                f"invalid platform {specifier!r}: bad OS {parts[0]!r} (want letters, digits, '_' or '-', "
                "optionally followed by (version+feature...))"
            )
        os = normalize_os(os_match.group(1))
        os_version = _decode_os_option(os_match.group(2) or "", specifier, "version") or None
        os_features: tuple[str, ...] = ()
        if os_match.group(3):
            os_features = tuple(_decode_os_option(f, specifier, "feature") for f in os_match.group(3)[1:].split("+"))
        for what, part in zip(("architecture", "variant", "component"), parts[1:], strict=False):
            if not _SPECIFIER_RE.match(part):
                raise InvalidPlatform(
                    f"invalid platform {specifier!r}: bad {what} {part!r} (want letters, digits, '_', '.' or '-')"
                )

        if len(parts) == 1:
            base = (default if default is not None else cls.host()).normalized()
            if os in KNOWN_OS:
                variant = base.variant if base.architecture == "arm" and base.variant != "v7" else None
                return cls(os, base.architecture, variant, os_version, os_features)
            arch, variant_text = normalize_arch(parts[0], "")
            if arch == "arm" and variant_text == "v7":
                variant_text = ""
            if arch in KNOWN_ARCH:
                return cls(base.os, arch, variant_text or None)
            raise InvalidPlatform(f"invalid platform {specifier!r}: unknown operating system or architecture")
        if len(parts) == 2:
            arch, variant_text = normalize_arch(parts[1], "")
            if arch == "arm" and variant_text == "v7":
                variant_text = ""
            return cls(os, arch, variant_text or None, os_version, os_features)
        if len(parts) == 3:
            arch, variant_text = normalize_arch(parts[1], parts[2])
            if arch == "arm64" and not variant_text:
                variant_text = "v8"
            return cls(os, arch, variant_text or None, os_version, os_features)
        raise InvalidPlatform(f"invalid platform {specifier!r}: too many components (want os/arch[/variant])")

    def __str__(self) -> str:
        """containerd's ``Format``: ``os/arch[/variant]``."""
        if not self.os:
            return "unknown"
        return "/".join(p for p in (self.os, self.architecture, self.variant or "") if p)

    def format_all(self) -> str:
        """containerd's ``FormatAll``: also the OS version and features, ``windows(10.0.17763+win32k)/amd64``."""
        if not self.os:
            return "unknown"
        options = _encode_os_option(self.os_version or "")
        options += "".join("+" + _encode_os_option(f) for f in sorted(self.os_features) if f)
        head = f"{self.os}({options})" if options else self.os
        return "/".join(p for p in (head, self.architecture, self.variant or "") if p)

    # --- JSON ---------------------------------------------------------------------------------------------

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Platform:
        """Read an OCI ``platform`` object (``os``, ``architecture``, ``variant``, ``os.version``, ...)."""
        if not isinstance(obj, Mapping):
            raise InvalidPlatform(f"platform must be a JSON object, not {type(obj).__name__}")

        def text(key: str, required: bool) -> str | None:
            value = obj.get(key)
            if value is None:
                if required:
                    raise InvalidPlatform(f"platform: missing field {key!r}")
                return None
            if not isinstance(value, str):
                raise InvalidPlatform(f"platform: field {key!r} must be a string, got {value!r}")
            if required and not value:
                raise InvalidPlatform(f"platform: field {key!r} must not be empty")
            return value

        def strings(key: str) -> tuple[str, ...]:
            value = obj.get(key)
            if value is None:
                return ()
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidPlatform(f"platform: field {key!r} must be an array of strings, got {value!r}")
            return tuple(value)

        return cls(
            os=text("os", True) or "",
            architecture=text("architecture", True) or "",
            variant=text("variant", False),
            os_version=text("os.version", False),
            os_features=strings("os.features"),
            features=strings("features"),
        )

    def to_json(self) -> dict[str, Any]:
        """The OCI ``platform`` object; absent fields are left out."""
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        if self.features:
            out["features"] = list(self.features)
        return out

    # --- normalisation and matching -----------------------------------------------------------------------

    def normalized(self) -> Platform:
        """containerd's ``Normalize``: canonical OS, architecture and variant; features sorted, deduplicated."""
        arch, variant = normalize_arch(self.architecture, self.variant or "")
        return Platform(
            os=normalize_os(self.os),
            architecture=arch,
            variant=variant or None,
            os_version=self.os_version,
            os_features=tuple(sorted(set(self.os_features))),
            features=self.features,
        )

    def matches(self, other: Platform) -> bool:
        """Whether ``other`` (say, an index entry) is what this platform asks for.

        containerd's ``NewMatcher(self).Match(other)``: OS, architecture and variant equal after
        normalisation (so ``arm64`` matches ``arm64/v8`` and ``arm`` matches ``arm/v7``);
        ``other``'s OS features a subset of this platform's; and, when this platform is Windows
        with an ``os_version``, a compatible Windows build.
        """
        mine, theirs = self.normalized(), other.normalized()
        if (mine.os, mine.architecture, mine.variant) != (theirs.os, theirs.architecture, theirs.variant):
            return False
        if self.os == "windows":
            wanted = _windows_version(self.os_version)
            if (
                wanted != (0, 0, 0)
                and other.os_version
                and not _windows_compatible(wanted, _windows_version(other.os_version))
            ):
                return False
        return set(theirs.os_features) <= set(mine.os_features)

    def fallbacks(self) -> list[Platform]:
        """This platform, then the older variants of its architecture it can run, best first.

        containerd's ``Only`` vector, within one architecture: ``arm/v7`` → ``arm/v7, arm/v6, arm/v5``;
        ``amd64/v3`` → ``amd64/v3, amd64/v2, amd64/v1``. containerd also lets ``amd64`` take ``386`` and
        ``arm64`` take 32-bit ``arm``: dockyard never falls back to another architecture unasked.
        """
        base = self.normalized()
        out = [base]
        variant = base.variant or ""
        floor = {"arm": 5, "amd64": 1}.get(base.architecture)
        if floor is not None and variant[:1] == "v" and variant[1:].isdigit():
            for level in range(int(variant[1:]) - 1, floor - 1, -1):
                out.append(dataclasses.replace(base, variant=f"v{level}"))
        return out

    # --- the host -----------------------------------------------------------------------------------------

    @staticmethod
    def from_machine(system: str, machine: str) -> Platform:
        """The platform of a host from Python's ``sys.platform`` and ``platform.machine()`` values."""
        system = system.lower().rstrip("0123456789")
        os = {"win": "windows", "cygwin": "windows", "sunos": "solaris"}.get(system, normalize_os(system))
        machine = machine.lower()
        arm = re.fullmatch(r"armv([5-8])[a-z]*", machine)
        if arm:
            arch, variant = "arm", "v" + arm.group(1)
        elif machine in ("i486", "i586", "x86"):
            arch, variant = "386", ""
        elif machine == "loongarch64":
            arch, variant = "loong64", ""
        else:
            arch, variant = normalize_arch(machine, "")
        return Platform(os, arch, variant or None)

    @classmethod
    def host(cls) -> Platform:
        """The platform of the running machine (normalised, e.g. ``linux/amd64`` or ``linux/arm/v7``)."""
        import platform as _platform
        import sys

        return cls.from_machine(sys.platform, _platform.machine())


def parse(specifier: str, *, default: Platform | None = None) -> Platform:
    """Module-level alias of :meth:`Platform.parse`."""
    return Platform.parse(specifier, default=default)


__all__ = ["KNOWN_ARCH", "KNOWN_OS", "Platform", "normalize_arch", "normalize_os", "parse"]
