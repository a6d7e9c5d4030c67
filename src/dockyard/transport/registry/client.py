"""The client of the OCI Distribution API (``/v2/``): manifests, blobs, uploads, mounts, tags and catalog.

::

    with RegistryClient("127.0.0.1:5000") as reg:
        data, media_type, digest = reg.get_manifest("library/alpine", "3.19")
        with reg.open_blob("library/alpine", layer_digest) as blob:
            shutil.copyfileobj(blob, out)

Authentication, retries and redirects are the session's (:mod:`._session`); a client may be
shared by threads (three downloading blobs at once, say). What Distribution 2.8 does that
shapes this module: it negotiates manifests by ``Accept`` -- an OCI manifest or index is 404
unless its type is named, and a Docker manifest list asked for with only the Docker manifest
type comes back as its linux/amd64 child -- so :data:`DEFAULT_ACCEPT` names all four types.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import BinaryIO, Final, NamedTuple, Self

import httpx

from dockyard import __version__
from dockyard.errors import DigestMismatch, InvalidManifest, InvalidReference, RegistryError, SizeMismatch
from dockyard.oci import _grammar, mediatype
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest, is_digest
from dockyard.transport.registry import upload as _upload
from dockyard.transport.registry._session import Session
from dockyard.transport.registry.auth import Scope, TokenCache, pull_scope, push_scope
from dockyard.transport.registry.blobstream import BlobStream
from dockyard.transport.registry.credentials import Credentials, CredentialSource, StaticCredentials
from dockyard.transport.registry.hosts import endpoint
from dockyard.transport.registry.retry import RetryPolicy

DEFAULT_ACCEPT: Final = (
    mediatype.OCI_INDEX,
    mediatype.OCI_MANIFEST,
    mediatype.DOCKER_MANIFEST_LIST,
    mediatype.DOCKER_MANIFEST,
)
"""Every manifest type dockyard reads; Distribution 2.8 hides OCI types that are not named."""

MAX_MANIFEST_SIZE: Final = 4 * 1024 * 1024
#: The most :meth:`RegistryClient.read_blob` holds when the caller does not know the size.
MAX_SMALL_BLOB: Final = 64 * 1024 * 1024
#: The most pages of a tag or catalog listing that are followed.
MAX_PAGES: Final = 10_000
"""Larger manifests are refused, as containerd does."""

_GENERIC_TYPES: Final = frozenset({"", "application/json", "text/plain", "application/octet-stream"})


class ManifestResponse(NamedTuple):
    """A fetched manifest: the exact bytes, their media type and their digest."""

    data: bytes
    media_type: str
    digest: Digest


class RegistryClient:
    """A client of one registry host (``docker.io``, ``ghcr.io``, ``127.0.0.1:5000``)."""

    def __init__(
        self,
        host: str,
        *,
        credentials: CredentialSource | Credentials | None = None,
        insecure: bool = False,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        token_cache: TokenCache | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``credentials``: fixed credentials, or a source such as :class:`~.credentials.DockerConfig`
        (asked once, when the registry first wants authentication); ``None`` for anonymous access.
        ``insecure``: plain HTTP (loopback hosts always get plain HTTP)."""
        self.endpoint = endpoint(host, insecure=insecure)
        source = StaticCredentials(credentials) if isinstance(credentials, Credentials) else credentials
        self._session = Session(
            self.endpoint,
            source,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            token_cache=token_cache,
            transport=transport,
            user_agent=f"dockyard/{__version__}",
        )

    @property
    def host(self) -> str:
        return self.endpoint.host

    @property
    def session(self) -> Session:
        return self._session

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RegistryClient({self.endpoint.base_url!r})"

    # --- base -----------------------------------------------------------------------------------------------

    def ping(self) -> str | None:
        """``GET /v2/`` (authenticating if asked); the ``Docker-Distribution-API-Version`` it reports."""
        response = self._session.request("GET", self._session.url("/v2/"), what="/v2/", scopes=[])
        version: str | None = response.headers.get("docker-distribution-api-version")
        return version

    # --- manifests ------------------------------------------------------------------------------------------

    def get_manifest(self, repo: str, ref: str | Digest, accept: Sequence[str] = DEFAULT_ACCEPT) -> ManifestResponse:
        """Fetch a manifest or index by tag or digest: ``(bytes, media_type, digest)``.

        Fetched by digest, the bytes must hash to it (and to ``Docker-Content-Digest``), else
        :class:`~dockyard.errors.DigestMismatch`.
        """
        ref_text, wanted = _check_ref(repo, ref)
        what = _manifest_what(repo, ref_text)
        response = self._manifest_request("GET", repo, ref_text, accept, what)
        data = response.content
        if len(data) > MAX_MANIFEST_SIZE:
            raise InvalidManifest(f"registry {self.host} sent a manifest of {len(data)} bytes for {what}: too large")
        body = _json_object(data, f"registry {self.host} sent a manifest for {what} that")
        media_type = _media_type(response.headers.get("content-type", ""), body)
        header = _header_digest(response, self.host, what)
        if wanted is not None:
            actual = Digest.of(data, wanted.algorithm)
            if actual != wanted:
                raise DigestMismatch(str(wanted), str(actual), f"manifest {what} from {self.host}")
            if header is not None and header != wanted:
                raise DigestMismatch(str(wanted), str(header), f"Docker-Content-Digest of {what} from {self.host}")
            return ManifestResponse(data, media_type, wanted)
        algorithm = header.algorithm if header is not None else "sha256"
        return ManifestResponse(data, media_type, Digest.of(data, algorithm))

    def head_manifest(self, repo: str, ref: str | Digest, accept: Sequence[str] = DEFAULT_ACCEPT) -> Descriptor | None:
        """The descriptor (media type, digest, size) of a manifest, or ``None`` if there is none."""
        ref_text, wanted = _check_ref(repo, ref)
        what = _manifest_what(repo, ref_text)
        response = self._manifest_request("HEAD", repo, ref_text, accept, what, ok=(200, 404))
        if response.status_code == 404:
            return None
        digest = _header_digest(response, self.host, what) or wanted
        length = response.headers.get("content-length", "")
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        if digest is None or not length.isdigit() or media_type in _GENERIC_TYPES:
            # Not every registry says all of it on HEAD: ask for the manifest itself.
            got = self.get_manifest(repo, ref, accept)
            return Descriptor(got.media_type, got.digest, len(got.data))
        if wanted is not None and digest != wanted:
            raise DigestMismatch(str(wanted), str(digest), f"Docker-Content-Digest of {what} from {self.host}")
        return Descriptor(media_type, digest, int(length))

    def _manifest_request(
        self, method: str, repo: str, ref_text: str, accept: Sequence[str], what: str, ok: Sequence[int] = (200,)
    ) -> httpx.Response:
        return self._session.request(
            method,
            self._session.url(f"/v2/{repo}/manifests/{ref_text}"),
            what=what,
            scopes=[pull_scope(repo)],
            headers={"Accept": ", ".join(accept)},
            ok=ok,
        )

    def put_manifest(self, repo: str, ref: str | Digest, data: bytes, media_type: str) -> Digest:
        """Upload a manifest or index under a tag or its digest; its digest."""
        ref_text, wanted = _check_ref(repo, ref)
        digest = Digest.of(data, wanted.algorithm if wanted is not None else "sha256")
        what = _manifest_what(repo, ref_text)
        if wanted is not None and digest != wanted:
            raise DigestMismatch(str(wanted), str(digest), f"manifest pushed as {what}")
        response = self._session.request(
            "PUT",
            self._session.url(f"/v2/{repo}/manifests/{ref_text}"),
            what=what,
            scopes=[push_scope(repo)],
            headers={"Content-Type": media_type},
            body=data,
            ok=(200, 201),
        )
        returned = _header_digest(response, self.host, what)
        if returned is not None and returned.algorithm == digest.algorithm and returned != digest:
            raise DigestMismatch(str(digest), str(returned), f"manifest {what} as {self.host} stored it")
        return digest

    def delete_manifest(self, repo: str, digest: Digest | str) -> None:
        """Delete a manifest by digest (registries refuse deletion by tag; the registry must allow deletes)."""
        parsed = _parse_digest(digest)
        what = f"{repo}@{parsed}"
        self._session.request(
            "DELETE",
            self._session.url(f"/v2/{repo}/manifests/{parsed}"),
            what=what,
            scopes=[Scope.repository(repo, "delete", "pull", "push")],
            ok=(200, 202),
        )

    # --- blobs ----------------------------------------------------------------------------------------------

    def blob_exists(self, repo: str, digest: Digest | str) -> int | None:
        """The size of blob ``digest`` in ``repo``, or ``None`` when the registry does not have it there."""
        parsed = _parse_digest(digest)
        _check_repo(repo)
        response = self._session.request(
            "HEAD",
            self._session.url(f"/v2/{repo}/blobs/{parsed}"),
            what=_blob_what(repo, parsed),
            scopes=[pull_scope(repo)],
            ok=(200, 404),
        )
        if response.status_code == 404:
            return None
        length = response.headers.get("content-length", "")
        return int(length) if length.isdigit() else 0

    def open_blob(
        self, repo: str, digest: Digest | str, offset: int = 0, *, verify: bool = True, size: int | None = None
    ) -> BlobStream:
        """A stream of the blob from byte ``offset``; a dropped connection is resumed with ``Range``.

        Read from offset 0 with ``verify``, the stream raises
        :class:`~dockyard.errors.DigestMismatch` at its end if the bytes are not the blob.
        Redirects (to a storage host) are followed without the ``Authorization`` header.
        """
        parsed = _parse_digest(digest)
        _check_repo(repo)
        if offset < 0:
            raise ValueError("offset must not be negative")
        what = _blob_what(repo, parsed)
        url = self._session.url(f"/v2/{repo}/blobs/{parsed}")

        def opener(at: int) -> httpx.Response:
            headers = {"Range": f"bytes={at}-"} if at else {}
            return self._session.request(
                "GET", url, what=what, scopes=[pull_scope(repo)], headers=headers, stream=True, ok=(200, 206)
            )

        return BlobStream(opener, parsed, host=self.host, what=what, offset=offset, verify=verify, expected_size=size)

    def read_blob(self, repo: str, digest: Digest | str, size: int | None = None) -> bytes:
        """A whole (small) blob such as an image config, verified. ``size`` (the descriptor's) is all that is
        accepted; without it, at most :data:`MAX_SMALL_BLOB` bytes."""
        cap = size if size is not None else MAX_SMALL_BLOB
        parts: list[bytes] = []
        got = 0
        with self.open_blob(repo, digest, size=size) as stream:
            while chunk := stream.read(1 << 20):
                got += len(chunk)
                if got > cap:
                    raise SizeMismatch(cap, got, f"{_blob_what(repo, _parse_digest(digest))} (too big to hold)")
                parts.append(chunk)
        return b"".join(parts)

    def upload_blob(
        self,
        repo: str,
        digest: Digest | str,
        data: bytes | BinaryIO,
        size: int | None = None,
        chunk_size: int | None = None,
    ) -> Digest:
        """Upload a blob: ``POST`` then one ``PUT``, or ``PATCH`` chunks of ``chunk_size`` then ``PUT``.

        ``data`` is bytes or a binary file (read from its current position; retried only if it
        can seek). The registry checks the digest; a wrong one is a ``DIGEST_INVALID`` error.
        """
        parsed = _parse_digest(digest)
        _check_repo(repo)
        _upload.upload(self._session, repo, parsed, data, size, chunk_size, _blob_what(repo, parsed))
        return parsed

    def mount_blob(self, repo: str, digest: Digest | str, from_repo: str) -> bool:
        """Mount a blob of ``from_repo`` into ``repo`` without uploading it. False if the registry
        declined (it opened an upload instead, which is cancelled): then upload the blob."""
        parsed = _parse_digest(digest)
        _check_repo(repo)
        _check_repo(from_repo)
        what = f"{_blob_what(repo, parsed)} mounted from {from_repo}"
        response = self._session.request(
            "POST",
            self._session.url(f"/v2/{repo}/blobs/uploads/", [("mount", str(parsed)), ("from", from_repo)]),
            what=what,
            scopes=[push_scope(repo), pull_scope(from_repo)],
            ok=(201, 202),
        )
        if response.status_code == 201:
            return True
        _upload.cancel(self._session, repo, _upload.location(response, self.host, what), what)
        return False

    def delete_blob(self, repo: str, digest: Digest | str) -> None:
        """Delete a blob's link from ``repo`` (the registry must allow deletes)."""
        parsed = _parse_digest(digest)
        _check_repo(repo)
        self._session.request(
            "DELETE",
            self._session.url(f"/v2/{repo}/blobs/{parsed}"),
            what=_blob_what(repo, parsed),
            scopes=[Scope.repository(repo, "delete", "pull", "push")],
            ok=(200, 202),
        )

    # --- listings -------------------------------------------------------------------------------------------

    def tags(self, repo: str, page_size: int | None = None) -> list[str]:
        """The tags of ``repo``, in the registry's order, following ``Link: <...>; rel="next"`` pages."""
        _check_repo(repo)
        query = [("n", str(page_size))] if page_size else []
        return list(self._pages(self._session.url(f"/v2/{repo}/tags/list", query), "tags", repo, pull_scope(repo)))

    def catalog(self, page_size: int | None = None) -> list[str]:
        """Every repository name the registry lists (``registry:catalog:*`` access), following pages."""
        query = [("n", str(page_size))] if page_size else []
        url = self._session.url("/v2/_catalog", query)
        return list(self._pages(url, "repositories", "the catalog", Scope.catalog()))

    def _pages(self, url: httpx.URL, key: str, what: str, scope: Scope) -> Iterator[str]:
        seen: set[str] = set()
        next_url: httpx.URL | None = url
        while next_url is not None:
            if str(next_url) in seen:
                break  # a registry that links a page to itself
            if len(seen) >= MAX_PAGES:
                raise RegistryError(self.host, what=what, reason=f"listed more than {MAX_PAGES} pages")
            seen.add(str(next_url))
            response = self._session.request("GET", next_url, what=what, scopes=[scope])
            body = _json_object(response.content, f"registry {self.host} sent a {key} list for {what} that")
            items = body.get(key) or []
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise InvalidManifest(f"registry {self.host} sent a {key} list for {what} that is not a list of names")
            yield from items
            link = response.links.get("next", {}).get("url")
            next_url = response.url.join(link) if link else None


# --- helpers ------------------------------------------------------------------------------------------------------


def _check_repo(repo: str) -> None:
    if not isinstance(repo, str) or not _grammar.ANCHORED_REMOTE_NAME_RE.match(repo):
        raise InvalidReference(f"invalid repository name {repo!r}")


def _check_ref(repo: str, ref: str | Digest) -> tuple[str, Digest | None]:
    """``(text, digest or None)`` of a tag or digest reference."""
    _check_repo(repo)
    if isinstance(ref, Digest):
        return str(ref), ref
    if ":" in ref or is_digest(ref):
        digest = _parse_digest(ref)
        return str(digest), digest
    if not _grammar.ANCHORED_TAG_RE.match(ref):
        raise InvalidReference(f"invalid tag {ref!r}")
    return ref, None


def _parse_digest(digest: Digest | str) -> Digest:
    if isinstance(digest, Digest):
        return digest
    try:
        return Digest.parse(digest)
    except ValueError as exc:
        raise InvalidReference(f"invalid digest {digest!r}: {exc}") from None


def _manifest_what(repo: str, ref: str) -> str:
    return f"{repo}@{ref}" if ":" in ref else f"{repo}:{ref}"


def _blob_what(repo: str, digest: Digest) -> str:
    return f"blob {digest} in {repo}"


def _json_object(data: bytes, prefix: str) -> dict[str, object]:
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise InvalidManifest(f"{prefix} is not JSON ({_preview(data)})") from None
    if not isinstance(body, dict):
        raise InvalidManifest(f"{prefix} is not a JSON object")
    return body


def _preview(data: bytes) -> str:
    text = data[:40].decode("utf-8", "replace")
    return repr(text) + ("..." if len(data) > 40 else "")


def _media_type(content_type: str, body: dict[str, object]) -> str:
    """The Content-Type, or when it says nothing useful, the body's ``mediaType`` (or a guess)."""
    declared = content_type.split(";")[0].strip()
    if declared not in _GENERIC_TYPES:
        return declared
    inner = body.get("mediaType")
    if isinstance(inner, str) and inner:
        return inner
    if body.get("schemaVersion") == 1:
        return mediatype.DOCKER_SCHEMA1_SIGNED if "signatures" in body else mediatype.DOCKER_SCHEMA1_MANIFEST
    return mediatype.OCI_INDEX if "manifests" in body else mediatype.OCI_MANIFEST


def _header_digest(response: httpx.Response, host: str, what: str) -> Digest | None:
    value = response.headers.get("docker-content-digest")
    if not value:
        return None
    try:
        return Digest.parse(value.strip())
    except ValueError:
        raise InvalidManifest(f"registry {host} sent a bad Docker-Content-Digest {value!r} for {what}") from None


__all__ = ["DEFAULT_ACCEPT", "MAX_MANIFEST_SIZE", "ManifestResponse", "RegistryClient"]
