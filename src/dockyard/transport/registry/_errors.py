"""Turn a registry's error answer into the matching :class:`~dockyard.errors.RegistryError`.

Which code and status mean which exception is :mod:`dockyard.oci.errcodes`' table, not this module's.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from dockyard.errors import RegistryError, RegistryUnavailable

if TYPE_CHECKING:
    import httpx

_MAX_ERRORS = 5
_MAX_MESSAGE = 200


def error_pairs(body: bytes) -> tuple[tuple[str, str], ...]:
    """The ``(code, message)`` pairs of Distribution's ``{"errors": [{"code", "message", "detail"}]}``."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return ()
    items = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return ()
    pairs: list[tuple[str, str]] = []
    for item in items[:_MAX_ERRORS]:
        if isinstance(item, dict) and isinstance(item.get("code"), str):
            message = item.get("message")
            text = " ".join(message.split())[:_MAX_MESSAGE] if isinstance(message, str) else ""
            pairs.append((item["code"], text))
    return tuple(pairs)


def from_response(host: str, response: httpx.Response, what: str) -> RegistryError:
    """The error for ``response`` (its body must have been read)."""
    status = response.status_code
    try:
        body = response.content
    except Exception:  # the body could not be read (httpx.ResponseNotRead): judge by the status alone
        body = b""
    pairs = error_pairs(body)
    reason = "" if pairs else f"answered {response.reason_phrase or 'with an error'}"
    from dockyard.oci import errcodes  # only an error needs the table (~1 ms to import)

    cls = errcodes.error_class(status, (code for code, _ in pairs))
    return cls(host, status=status, errors=pairs, what=what, reason=reason)


_ERRNO = re.compile(r"^\[Errno (-?\d+)\] (.*)$")


def describe(exc: Exception) -> str:
    """A short account of a transport error: ``connection refused``, ``host name lookup failed: ...``."""
    import httpx

    detail = " ".join(str(exc).split())
    match = _ERRNO.match(detail)
    if match is not None:
        number, text = int(match.group(1)), match.group(2)
        text = text[:1].lower() + text[1:]
        if number < 0:  # getaddrinfo's EAI_* codes: the name does not resolve
            return f"host name lookup failed: {text}"
        return text
    if isinstance(exc, httpx.ConnectTimeout):
        return "connection timed out"
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def unreachable(host: str, exc: Exception, what: str, request: str = "") -> RegistryUnavailable:
    """The error for a registry that could not be reached; ``request`` (``GET URL``) names what was sent."""
    said = f"{request}: {describe(exc)}" if request else describe(exc)
    return RegistryUnavailable(host, what=what, reason=f"is unreachable ({said})")
