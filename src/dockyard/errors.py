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
    ├── StoreError                                the local store is damaged or locked
    ├── CredentialsError                          a Docker config.json or credential helper failed
    ├── BuildError                                a build step failed (a RUN's exit code, a missing COPY source)
    │   ├── DockerfileError (InvalidInput)        a Dockerfile that does not parse: names the file and line
    │   └── BuildUnavailable                      no runtime / kernel feature / emulator for what was asked
    └── RegistryError                             a registry answered with an error (codes + status)
        ├── RegistryAuthError                     401/403: no, wrong or insufficient credentials
        ├── RegistryNotFound (NotFound)           404: MANIFEST_UNKNOWN, BLOB_UNKNOWN, NAME_UNKNOWN ...
        ├── RegistryRejected                      4xx: DIGEST_INVALID, MANIFEST_INVALID, SIZE_INVALID ...
        ├── RegistryUnsupported                   405 UNSUPPORTED: e.g. deletes are disabled
        └── RegistryUnavailable                   5xx, 429 or unreachable, after the retries

Which registry error code means which class is one table, :mod:`dockyard.oci.errcodes`.

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


class CredentialsError(DockyardError):
    """A Docker ``config.json`` that does not parse, or a credential helper that failed."""


class BuildError(DockyardError):
    """A build step failed: a RUN's exit code, a COPY source that is not in the context, a bad stage name."""


class DockerfileError(BuildError, InvalidInput):
    """A Dockerfile (or .dockerignore) that does not parse; the message names the file and the line."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")
        self.path = path
        self.line = line
        self.reason = message


class BuildUnavailable(BuildError):
    """What the build needs is not on this machine: an OCI runtime, overlayfs, root, QEMU for a platform.

    The message names the missing package or kernel feature.
    """


class RegistryError(DockyardError):
    """A registry answered with an error: the Distribution error codes it sent and the HTTP status.

    ``errors`` holds the ``(code, message)`` pairs of the registry's ``{"errors": [...]}`` body;
    ``reason`` describes what happened when there is no such body (``answered 502 Bad Gateway``).
    """

    def __init__(
        self,
        host: str,
        *,
        status: int | None = None,
        errors: tuple[tuple[str, str], ...] = (),
        what: str = "",
        reason: str = "",
    ) -> None:
        if errors:
            said = "; ".join(f"{code}: {message}" if message else code for code, message in errors)
            text = f"registry {host} said {said}"
        else:
            text = f"registry {host} {reason or 'failed'}"
        if status is not None:
            text += f" ({status})"
        if what:
            text += f" for {what}"
        super().__init__(text)
        self.host = host
        self.status = status
        self.errors = errors
        self.what = what
        self.reason = reason

    @property
    def codes(self) -> tuple[str, ...]:
        """The registry's error codes, e.g. ``("MANIFEST_UNKNOWN",)``."""
        return tuple(code for code, _ in self.errors)


class RegistryAuthError(RegistryError):
    """The registry refused the request: credentials missing, wrong, or without the needed access."""


class RegistryNotFound(RegistryError, NotFound):
    """The registry has no such repository, manifest, tag, blob or upload (404)."""


class RegistryRejected(RegistryError):
    """The registry refused what was sent as invalid: a digest, size, manifest, name, tag, range or parameter."""


class RegistryUnsupported(RegistryError):
    """The registry does not support the operation (``UNSUPPORTED``: deletes disabled, a missing endpoint)."""


class RegistryUnavailable(RegistryError):
    """The registry is unreachable, failing (5xx) or rate limiting (429), and retrying did not help."""


__all__ = [
    "BlobNotFound",
    "BuildError",
    "BuildUnavailable",
    "Conflict",
    "ContainerNotFound",
    "CredentialsError",
    "DigestMismatch",
    "DockerfileError",
    "DockyardError",
    "ImageNotFound",
    "InvalidArchive",
    "InvalidDigest",
    "InvalidInput",
    "InvalidManifest",
    "InvalidPlatform",
    "InvalidReference",
    "NotFound",
    "RegistryAuthError",
    "RegistryError",
    "RegistryNotFound",
    "RegistryRejected",
    "RegistryUnavailable",
    "RegistryUnsupported",
    "SizeMismatch",
    "StoreError",
    "UnsafeLayer",
]
