"""The one exception tree of dockyard.

    DockyardError
    ├── InvalidInput (ValueError)                 bad user or file input
    │   ├── InvalidDigest
    │   ├── InvalidReference
    │   ├── InvalidPlatform
    │   ├── InvalidManifest                       manifests, indexes, configs, descriptors
    │   └── InvalidArchive                        docker-archive / OCI layout shape
    ├── DigestMismatch                            bytes do not hash to the digest they claim
    ├── SizeMismatch                              bytes are not the size their descriptor claims
    ├── UnsafeLayer                               hostile tar: escapes, absolute paths, bombs
    ├── NotFound (LookupError)
    │   ├── ImageNotFound
    │   ├── BlobNotFound
    │   └── ContainerNotFound
    ├── Conflict                                  the operation would break Docker's rules (rmi)
    └── StoreError                                the local store is damaged or locked

Every error carries a one-line message meant for the user.
"""

from __future__ import annotations


class DockyardError(Exception):
    """Root of every error dockyard raises on purpose."""


class InvalidInput(DockyardError, ValueError):
    """Input that does not parse or validate."""


class InvalidDigest(InvalidInput):
    """A digest string with an unknown algorithm or a malformed hex part."""


class InvalidReference(InvalidInput):
    """An image reference that does not follow Docker's grammar."""


class InvalidPlatform(InvalidInput):
    """A platform string such as ``linux/arm64/v8`` that does not parse."""


class InvalidManifest(InvalidInput):
    """A manifest, index, config or descriptor that does not validate; names the bad field."""


class InvalidArchive(InvalidInput):
    """A docker-archive or OCI layout that is not laid out as the format says."""


class DigestMismatch(DockyardError):
    """Content whose hash is not the digest it was addressed by."""

    def __init__(self, expected: str, actual: str, what: str = "content") -> None:
        super().__init__(f"digest mismatch for {what}: expected {expected}, got {actual}")
        self.expected = expected
        self.actual = actual


class SizeMismatch(DockyardError):
    """Content whose length is not the size its descriptor claims."""

    def __init__(self, expected: int, actual: int, what: str = "content") -> None:
        super().__init__(f"size mismatch for {what}: expected {expected} bytes, got {actual}")
        self.expected = expected
        self.actual = actual


class UnsafeLayer(DockyardError):
    """A layer tar that tries to write outside its root, or a decompression bomb."""


class NotFound(DockyardError, LookupError):
    """Something that was asked for does not exist."""


class ImageNotFound(NotFound):
    """No image matches the given name or ID."""


class BlobNotFound(NotFound):
    """A blob is missing from where it should be."""


class ContainerNotFound(NotFound):
    """No container matches the given name or ID."""


class Conflict(DockyardError):
    """The operation is refused because it would break a rule (e.g. rmi of an image in use)."""


class StoreError(DockyardError):
    """The local store is damaged, locked, or cannot be written."""


__all__ = [
    "BlobNotFound",
    "Conflict",
    "ContainerNotFound",
    "DigestMismatch",
    "DockyardError",
    "ImageNotFound",
    "InvalidArchive",
    "InvalidDigest",
    "InvalidInput",
    "InvalidManifest",
    "InvalidPlatform",
    "InvalidReference",
    "NotFound",
    "SizeMismatch",
    "StoreError",
    "UnsafeLayer",
]
