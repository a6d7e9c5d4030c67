"""The registry error codes, defined once: code -> default HTTP status -> message -> dockyard exception.

A registry answers a failed request with a body such as::

    {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown", "detail": {"Tag": "v9"}}]}

The OCI distribution spec lists fourteen codes (``code-1`` to ``code-14``, :attr:`ErrorCode.spec`);
CNCF Distribution, the reference registry, sends a few more (``TAG_INVALID``, ``MANIFEST_UNVERIFIED``,
``RANGE_INVALID``, ``PAGINATION_NUMBER_INVALID``, ``UNAVAILABLE``, ``UNKNOWN``, and in 3.x
``QUERY_PARAMETER_INVALID``), which clients meet in practice and must understand too.

The status and message of each code are Distribution's (``registry/api/errcode/register.go`` and
``registry/api/v2/errors.go``): they are what clients of the reference registry see, byte for byte, so the
registry client reads them and dockyard's registry server will write them from this table. Where the spec's
wording differs (``MANIFEST_UNKNOWN``: spec "manifest unknown to registry"), :attr:`ErrorCode.spec_message`
keeps the spec's. The status is a default: an endpoint may answer a code with another one (Distribution
answers an out-of-order chunk with ``RANGE_INVALID`` and 416, a bad ``n`` with ``PAGINATION_NUMBER_INVALID``
and 400, both their defaults).

Pure data and pure functions: no I/O, nothing from dockyard but :mod:`dockyard.errors`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from dockyard.errors import (
    RegistryAuthError,
    RegistryError,
    RegistryNotFound,
    RegistryRejected,
    RegistryUnavailable,
    RegistryUnsupported,
)


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """One registry error code."""

    code: str
    """The identifier in the ``code`` field: ``MANIFEST_UNKNOWN``."""
    status: int
    """The HTTP status it is sent with unless an endpoint says otherwise (Distribution's)."""
    message: str
    """The ``message`` Distribution sends with it."""
    error: type[RegistryError]
    """The exception the client raises for it."""
    spec: int | None = None
    """Its number in the distribution spec's table (``code-N``); ``None`` for Distribution's extra codes."""
    spec_message: str = ""
    """The spec's description, where the spec lists the code."""

    def entry(self, detail: Any = None, message: str | None = None) -> dict[str, Any]:
        """One item of an ``errors`` list: ``{"code", "message", "detail"}``."""
        return {"code": self.code, "message": self.message if message is None else message, "detail": detail}

    def exception(self, host: str, *, what: str = "", status: int | None = None) -> RegistryError:
        """The error the client raises when registry ``host`` answers this code for ``what``."""
        return self.error(
            host, status=self.status if status is None else status, errors=((self.code, self.message),), what=what
        )


def _code(
    code: str,
    status: int,
    message: str,
    error: type[RegistryError],
    spec: int | None = None,
    spec_message: str = "",
) -> ErrorCode:
    return ErrorCode(code, status, message, error, spec, spec_message or (message if spec is not None else ""))


# --- the distribution spec's codes (code-1 .. code-14) --------------------------------------------------------------

BLOB_UNKNOWN: Final = _code("BLOB_UNKNOWN", 404, "blob unknown to registry", RegistryNotFound, 1)
BLOB_UPLOAD_INVALID: Final = _code("BLOB_UPLOAD_INVALID", 404, "blob upload invalid", RegistryRejected, 2)
BLOB_UPLOAD_UNKNOWN: Final = _code("BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry", RegistryNotFound, 3)
DIGEST_INVALID: Final = _code(
    "DIGEST_INVALID", 400, "provided digest did not match uploaded content", RegistryRejected, 4
)
MANIFEST_BLOB_UNKNOWN: Final = _code(
    "MANIFEST_BLOB_UNKNOWN",
    400,
    "blob unknown to registry",
    RegistryRejected,
    5,
    "manifest references a manifest or blob unknown to registry",
)
MANIFEST_INVALID: Final = _code("MANIFEST_INVALID", 400, "manifest invalid", RegistryRejected, 6)
MANIFEST_UNKNOWN: Final = _code(
    "MANIFEST_UNKNOWN", 404, "manifest unknown", RegistryNotFound, 7, "manifest unknown to registry"
)
NAME_INVALID: Final = _code("NAME_INVALID", 400, "invalid repository name", RegistryRejected, 8)
NAME_UNKNOWN: Final = _code("NAME_UNKNOWN", 404, "repository name not known to registry", RegistryNotFound, 9)
SIZE_INVALID: Final = _code("SIZE_INVALID", 400, "provided length did not match content length", RegistryRejected, 10)
UNAUTHORIZED: Final = _code("UNAUTHORIZED", 401, "authentication required", RegistryAuthError, 11)
DENIED: Final = _code("DENIED", 403, "requested access to the resource is denied", RegistryAuthError, 12)
UNSUPPORTED: Final = _code(
    "UNSUPPORTED", 405, "The operation is unsupported.", RegistryUnsupported, 13, "the operation is unsupported"
)
TOOMANYREQUESTS: Final = _code("TOOMANYREQUESTS", 429, "too many requests", RegistryUnavailable, 14)

# --- CNCF Distribution's extra codes -------------------------------------------------------------------------------

UNKNOWN: Final = _code("UNKNOWN", 500, "unknown error", RegistryUnavailable)
UNAVAILABLE: Final = _code("UNAVAILABLE", 503, "service unavailable", RegistryUnavailable)
TAG_INVALID: Final = _code("TAG_INVALID", 400, "manifest tag did not match URI", RegistryRejected)
MANIFEST_UNVERIFIED: Final = _code(
    "MANIFEST_UNVERIFIED", 400, "manifest failed signature verification", RegistryRejected
)
RANGE_INVALID: Final = _code("RANGE_INVALID", 416, "invalid content range", RegistryRejected)
PAGINATION_NUMBER_INVALID: Final = _code(
    "PAGINATION_NUMBER_INVALID", 400, "invalid number of results requested", RegistryRejected
)
QUERY_PARAMETER_INVALID: Final = _code(
    "QUERY_PARAMETER_INVALID", 400, "invalid query parameter value", RegistryRejected
)

CODES: Final[Mapping[str, ErrorCode]] = MappingProxyType(
    {
        c.code: c
        for c in (
            BLOB_UNKNOWN,
            BLOB_UPLOAD_INVALID,
            BLOB_UPLOAD_UNKNOWN,
            DIGEST_INVALID,
            MANIFEST_BLOB_UNKNOWN,
            MANIFEST_INVALID,
            MANIFEST_UNKNOWN,
            NAME_INVALID,
            NAME_UNKNOWN,
            SIZE_INVALID,
            UNAUTHORIZED,
            DENIED,
            UNSUPPORTED,
            TOOMANYREQUESTS,
            UNKNOWN,
            UNAVAILABLE,
            TAG_INVALID,
            MANIFEST_UNVERIFIED,
            RANGE_INVALID,
            PAGINATION_NUMBER_INVALID,
            QUERY_PARAMETER_INVALID,
        )
    }
)
"""Every known code by its identifier."""


def lookup(code: str) -> ErrorCode | None:
    """The table entry of ``code``, or ``None`` for a code this table does not know."""
    return CODES.get(code)


def error_class(status: int, codes: Iterable[str] = ()) -> type[RegistryError]:
    """The exception for an answer with HTTP ``status`` and these error ``codes``.

    A status that is retried (429, 5xx) always means :class:`~dockyard.errors.RegistryUnavailable`, whatever
    the body says. Otherwise the first code the table knows decides (a registry answering ``NAME_UNKNOWN``
    with 400 still means "not found"); with none, the status: 401/403 authentication, 404 not found,
    405 unsupported, 416 and other 4xx a rejected request.
    """
    if status == 429 or status >= 500:
        return RegistryUnavailable
    for code in codes:
        known = CODES.get(code)
        if known is not None:
            return known.error
    if status in (401, 403):
        return RegistryAuthError
    if status == 404:
        return RegistryNotFound
    if status == 405:
        return RegistryUnsupported
    if 400 <= status < 500:
        return RegistryRejected
    return RegistryError


def body(*entries: Mapping[str, Any]) -> bytes:
    """The JSON body of an error answer: ``{"errors": [...]}`` of :meth:`ErrorCode.entry` items."""
    return json.dumps({"errors": list(entries)}, separators=(",", ":")).encode()


__all__ = [
    "BLOB_UNKNOWN",
    "BLOB_UPLOAD_INVALID",
    "BLOB_UPLOAD_UNKNOWN",
    "CODES",
    "DENIED",
    "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID",
    "MANIFEST_UNKNOWN",
    "MANIFEST_UNVERIFIED",
    "NAME_INVALID",
    "NAME_UNKNOWN",
    "PAGINATION_NUMBER_INVALID",
    "QUERY_PARAMETER_INVALID",
    "RANGE_INVALID",
    "SIZE_INVALID",
    "TAG_INVALID",
    "TOOMANYREQUESTS",
    "UNAUTHORIZED",
    "UNAVAILABLE",
    "UNKNOWN",
    "UNSUPPORTED",
    "ErrorCode",
    "body",
    "error_class",
    "lookup",
]
