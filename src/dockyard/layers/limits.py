"""Bounds on what one layer may expand to, so a decompression bomb is refused rather than unpacked.

A layer is refused when its uncompressed stream grows past ``max_size`` bytes, or,
once it is past ``ratio_grace`` bytes, when it is more than ``max_ratio`` times the
compressed bytes read so far (checked as the stream is read, so the refusal comes
early and memory or disk never fill up first).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from dockyard.errors import InvalidInput, UnsafeLayer

KiB: Final = 1 << 10
MiB: Final = 1 << 20
GiB: Final = 1 << 30

DEFAULT_MAX_SIZE: Final = 64 * GiB
DEFAULT_MAX_RATIO: Final = 1000.0
DEFAULT_MAX_ENTRIES: Final = 10_000_000
DEFAULT_RATIO_GRACE: Final = 64 * MiB

ENV_MAX_SIZE: Final = "DOCKYARD_MAX_LAYER_SIZE"
ENV_MAX_RATIO: Final = "DOCKYARD_MAX_RATIO"

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)\s*$", re.IGNORECASE)
_UNITS: Final = {"": 1, "k": KiB, "m": MiB, "g": GiB, "t": 1 << 40, "p": 1 << 50}


def format_size(n: float) -> str:
    """``68719476736`` -> ``64 GiB`` (binary units, at most one decimal)."""
    for unit, factor in (("PiB", 1 << 50), ("TiB", 1 << 40), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= factor:
            value = n / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{int(n)} bytes"


def parse_size(text: str) -> int:
    """``"64G"``, ``"64GiB"``, ``"512m"``, ``"1048576"`` -> bytes (binary units)."""
    m = _SIZE_RE.match(text)
    if not m:
        raise InvalidInput(f"invalid size {text!r}: want a number of bytes, optionally with K, M, G or T")
    value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    return int(value)


@dataclass(frozen=True, slots=True)
class Limits:
    """How far one layer may expand (see the module docstring)."""

    max_size: int = DEFAULT_MAX_SIZE
    max_ratio: float = DEFAULT_MAX_RATIO
    max_entries: int = DEFAULT_MAX_ENTRIES
    ratio_grace: int = DEFAULT_RATIO_GRACE

    def __post_init__(self) -> None:
        if self.max_size <= 0:
            raise InvalidInput(f"max layer size must be positive, not {self.max_size}")
        if not self.max_ratio > 0:
            raise InvalidInput(f"max expansion ratio must be positive, not {self.max_ratio}")
        if self.max_entries <= 0:
            raise InvalidInput(f"max entries must be positive, not {self.max_entries}")
        if self.ratio_grace < 0:
            raise InvalidInput(f"ratio grace must not be negative, not {self.ratio_grace}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """Defaults, overridden by ``DOCKYARD_MAX_LAYER_SIZE`` (e.g. ``128G``) and ``DOCKYARD_MAX_RATIO``."""
        env = os.environ if environ is None else environ
        max_size = DEFAULT_MAX_SIZE
        max_ratio = DEFAULT_MAX_RATIO
        size_text = env.get(ENV_MAX_SIZE, "").strip()
        if size_text:
            try:
                max_size = parse_size(size_text)
            except InvalidInput as e:
                raise InvalidInput(f"{ENV_MAX_SIZE}: {e}") from None
        ratio_text = env.get(ENV_MAX_RATIO, "").strip()
        if ratio_text:
            try:
                max_ratio = float(ratio_text)
            except ValueError:
                raise InvalidInput(f"{ENV_MAX_RATIO}: invalid ratio {ratio_text!r}: want a number") from None
        try:
            return cls(max_size=max_size, max_ratio=max_ratio)
        except InvalidInput as e:
            raise InvalidInput(f"{ENV_MAX_SIZE} / {ENV_MAX_RATIO}: {e}") from None

    def check(self, uncompressed: int, compressed: int | None) -> None:
        """Raise :class:`UnsafeLayer` when ``uncompressed`` bytes from ``compressed`` ones is too much.

        ``compressed`` is None for a layer that is not compressed (no ratio then).
        """
        if uncompressed > self.max_size:
            raise UnsafeLayer(
                f"layer expands past {format_size(self.max_size)}: refusing a possible decompression bomb "
                f"(limit {self.max_size} bytes, set {ENV_MAX_SIZE} / {ENV_MAX_RATIO})"
            )
        if (
            compressed is not None
            and uncompressed > self.ratio_grace
            and uncompressed > self.max_ratio * max(compressed, 1)
        ):
            raise UnsafeLayer(
                f"layer expands past {self.max_ratio:g} times its compressed size "
                f"({format_size(uncompressed)} from {format_size(compressed)}): refusing a possible "
                f"decompression bomb (limit ratio {self.max_ratio:g}, set {ENV_MAX_SIZE} / {ENV_MAX_RATIO})"
            )

    def check_entries(self, count: int) -> None:
        """Raise :class:`UnsafeLayer` when a layer holds more than ``max_entries`` entries."""
        if count > self.max_entries:
            raise UnsafeLayer(f"layer has more than {self.max_entries} entries: refusing a possible decompression bomb")


DEFAULT_LIMITS: Final = Limits()

__all__ = [
    "DEFAULT_LIMITS",
    "ENV_MAX_RATIO",
    "ENV_MAX_SIZE",
    "Limits",
    "format_size",
    "parse_size",
]
