"""Blob uploads: ``POST`` to open an upload, then one monolithic ``PUT``, or ``PATCH`` chunks and a closing ``PUT``.

Every answer's ``Location`` is where the upload goes on; it may be relative (``/v2/...``) or
absolute, and may carry state in its query (Distribution's ``_state``), to which ``digest=`` is
added for the closing ``PUT``. A body that can be read again (bytes, a seekable file) is retried
like any request; a one-shot stream is sent once.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import BinaryIO, Final

import httpx

from dockyard.errors import DigestMismatch, RegistryError, RegistryUnavailable, SizeMismatch
from dockyard.oci.digest import Digest
from dockyard.transport.registry._session import Session
from dockyard.transport.registry.auth import Scope, push_scope

OCTET_STREAM: Final = "application/octet-stream"
READ_SIZE: Final = 1024 * 1024


def location(response: httpx.Response, host: str, what: str) -> httpx.URL:
    """The absolute URL of the answer's ``Location`` (relative ones are resolved against the request)."""
    value = response.headers.get("location")
    if not value:
        raise RegistryError(host, status=response.status_code, what=what, reason="sent no Location for the upload")
    return response.url.join(value)


def start(session: Session, repo: str, what: str, scopes: list[Scope] | None = None) -> httpx.URL:
    """Open an upload session; the URL to send the content to."""
    response = session.request(
        "POST",
        session.url(f"/v2/{repo}/blobs/uploads/"),
        what=what,
        scopes=scopes or [push_scope(repo)],
        ok=(202,),
    )
    response.close()
    return location(response, session.endpoint.host, what)


def cancel(session: Session, repo: str, url: httpx.URL, what: str) -> None:
    """Abandon an upload session (errors ignored: the registry purges stale uploads anyway)."""
    with contextlib.suppress(RegistryError):
        session.request("DELETE", url, what=what, scopes=[push_scope(repo)], ok=(204, 404)).close()


def upload(
    session: Session,
    repo: str,
    digest: Digest,
    data: bytes | BinaryIO,
    size: int | None,
    chunk_size: int | None,
    what: str,
) -> None:
    """Upload ``data`` (``size`` bytes) as blob ``digest`` of ``repo``."""
    if isinstance(data, bytes):
        if size is not None and size != len(data):
            raise SizeMismatch(size, len(data), what)
        size = len(data)
    if chunk_size is not None and chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    rewind = _rewinder(data)
    attempt = 0
    while True:
        attempt += 1
        url = start(session, repo, what)
        try:
            if chunk_size is None:
                response = _put_monolithic(session, repo, url, digest, data, size, what)
            else:
                response = _put_chunked(session, repo, url, digest, data, size, chunk_size, what)
            break
        except RegistryUnavailable:
            # Part of the body may have reached the registry: never send it again into the same session
            # (the bytes would be appended twice); cancel it and start a fresh one, when the data can rewind.
            cancel(session, repo, url, what)
            if rewind is None or attempt >= session.retry.attempts:
                raise
            rewind()
            session.sleep(session.retry.backoff(attempt))
        except BaseException:
            cancel(session, repo, url, what)
            raise
    response.close()
    returned = response.headers.get("docker-content-digest")
    if returned and returned != str(digest):
        raise DigestMismatch(str(digest), returned, f"{what} (as the registry stored it)")


def _rewinder(data: bytes | BinaryIO) -> Callable[[], None] | None:
    """How to send ``data`` again from its start, or ``None`` when it is a one-shot stream."""
    if isinstance(data, bytes):
        return lambda: None
    try:
        if not data.seekable():
            return None
        at = data.tell()
    except (OSError, ValueError):
        return None

    def rewind() -> None:
        data.seek(at, os.SEEK_SET)

    return rewind


def _closing_url(url: httpx.URL, digest: Digest) -> httpx.URL:
    return url.copy_merge_params({"digest": str(digest)})


def _put_monolithic(
    session: Session, repo: str, url: httpx.URL, digest: Digest, data: bytes | BinaryIO, size: int | None, what: str
) -> httpx.Response:
    headers = {"Content-Type": OCTET_STREAM}
    if size is not None:
        headers["Content-Length"] = str(size)
    body: bytes | Callable[[], Iterator[bytes]]
    if isinstance(data, bytes):
        body = data
    else:
        body, _ = _replayable_reader(data, size)
    return session.request(
        "PUT",
        _closing_url(url, digest),
        what=what,
        scopes=[push_scope(repo)],
        headers=headers,
        body=body,
        replayable=False,  # a retry opens a new upload session (see upload)
        ok=(201,),
    )


def _replayable_reader(stream: BinaryIO, size: int | None) -> tuple[Callable[[], Iterator[bytes]], bool]:
    """A body function reading ``size`` bytes of ``stream``; replayable when the stream can seek."""
    try:
        start_at: int | None = stream.tell() if stream.seekable() else None
    except (OSError, ValueError):
        start_at = None

    def body() -> Iterator[bytes]:
        if start_at is not None:
            stream.seek(start_at, os.SEEK_SET)
        left = size
        sent = 0
        while left is None or left > 0:
            block = stream.read(READ_SIZE if left is None else min(READ_SIZE, left))
            if not block:
                break
            sent += len(block)
            if left is not None:
                left -= len(block)
            yield block
        if size is not None and sent != size:
            raise SizeMismatch(size, sent, "blob upload source")

    return body, start_at is not None


def _slices(chunk: bytes) -> Callable[[], Iterator[bytes]]:
    """A replayable body of ``chunk`` in :data:`READ_SIZE` slices (a memoryview each: no copies)."""
    view = memoryview(chunk)

    def body() -> Iterator[bytes]:
        for at in range(0, len(view), READ_SIZE):
            yield bytes(view[at : at + READ_SIZE])

    return body


def _put_chunked(
    session: Session,
    repo: str,
    url: httpx.URL,
    digest: Digest,
    data: bytes | BinaryIO,
    size: int | None,
    chunk_size: int,
    what: str,
) -> httpx.Response:
    host = session.endpoint.host
    offset = 0
    while size is None or offset < size:
        want = chunk_size if size is None else min(chunk_size, size - offset)
        chunk = data[offset : offset + want] if isinstance(data, bytes) else data.read(want)
        if not chunk:
            if size is not None:
                raise SizeMismatch(size, offset, what)
            break
        response = session.request(
            "PATCH",
            url,
            what=what,
            scopes=[push_scope(repo)],
            headers={
                "Content-Type": OCTET_STREAM,
                "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                "Content-Length": str(len(chunk)),
            },
            body=_slices(chunk),
            replayable=False,  # a retry opens a new upload session (see upload)
            ok=(202,),
        )
        response.close()
        url = location(response, host, what)
        offset += len(chunk)
    return session.request(
        "PUT",
        _closing_url(url, digest),
        what=what,
        scopes=[push_scope(repo)],
        headers={"Content-Type": OCTET_STREAM, "Content-Length": "0"},
        body=b"",
        ok=(201,),
    )


__all__ = ["OCTET_STREAM", "cancel", "location", "start", "upload"]
