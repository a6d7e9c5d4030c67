"""Content digests: ``algorithm:hex`` as the OCI image spec defines them (sha256, sha512)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final, Protocol

from dockyard.errors import DigestMismatch, InvalidDigest

SHA256: Final = "sha256"
SHA512: Final = "sha512"
_HEX_LENGTHS: Final = {SHA256: 64, SHA512: 128}
_HEX = re.compile(r"^[a-f0-9]+$")
_DIGEST_GRAMMAR = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


@dataclass(frozen=True, slots=True, order=True)
class Digest:
    """A validated digest. ``str(d)`` is ``algorithm:hex``."""

    algorithm: str
    hex: str

    def __post_init__(self) -> None:
        length = _HEX_LENGTHS.get(self.algorithm)
        if length is None:
            raise InvalidDigest(f"unsupported digest algorithm {self.algorithm!r} (want sha256 or sha512)")
        if len(self.hex) != length or not _HEX.match(self.hex):
            raise InvalidDigest(f"invalid {self.algorithm} digest {self.hex!r}: want {length} lowercase hex characters")

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse ``sha256:<64 hex>`` or ``sha512:<128 hex>``."""
        if not isinstance(text, str) or not _DIGEST_GRAMMAR.match(text):
            raise InvalidDigest(f"invalid digest {text!r}: want algorithm:hex")
        algorithm, _, hex_part = text.partition(":")
        return cls(algorithm, hex_part)

    @classmethod
    def of(cls, data: bytes, algorithm: str = SHA256) -> Digest:
        """The digest of ``data``."""
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @property
    def short(self) -> str:
        """The 12-character form Docker prints in IMAGE ID columns."""
        return self.hex[:12]

    def hasher(self) -> DigestHasher:
        """A fresh streaming hasher of this digest's algorithm."""
        return DigestHasher(self.algorithm)

    def verify(self, data: bytes, what: str = "content") -> None:
        """Raise :class:`DigestMismatch` unless ``data`` hashes to this digest."""
        actual = Digest.of(data, self.algorithm)
        if actual != self:
            raise DigestMismatch(str(self), str(actual), what)


class DigestHasher:
    """Streaming hasher that also counts bytes."""

    __slots__ = ("_h", "algorithm", "size")

    def __init__(self, algorithm: str = SHA256) -> None:
        if algorithm not in _HEX_LENGTHS:
            raise InvalidDigest(f"unsupported digest algorithm {algorithm!r}")
        self.algorithm = algorithm
        self._h: _Hasher = hashlib.new(algorithm)
        self.size = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._h.update(bytes(data) if not isinstance(data, bytes) else data)
        self.size += len(data)

    def digest(self) -> Digest:
        return Digest(self.algorithm, self._h.hexdigest())


def parse(text: str) -> Digest:
    """Module-level alias of :meth:`Digest.parse`."""
    return Digest.parse(text)


def is_digest(text: str) -> bool:
    """True when ``text`` is a valid digest string."""
    try:
        Digest.parse(text)
    except InvalidDigest:
        return False
    return True


__all__ = ["SHA256", "SHA512", "Digest", "DigestHasher", "is_digest", "parse"]
