"""One registry host over HTTP: authentication, retries with backoff, and redirects.

:meth:`Session.request` sends a request and returns the answer when its status is one the
caller expects; otherwise it raises the matching :class:`~dockyard.errors.RegistryError`. On the
way it

* adds the ``Authorization`` header the :class:`~.auth.Authenticator` has for the request's scopes,
  and after a 401 from the registry fetches a fresh one and tries once more (:class:`RegistryAuth`,
  an ``httpx.Auth`` flow);
* retries connection errors, timeouts, 5xx and 429 (``Retry-After`` honoured) with exponential
  backoff, when the request body can be sent again -- but until the registry has answered once,
  a connection that cannot be made (refused, unknown host, connect timeout) fails at once, as
  Docker does: nobody is there, and waiting will not change that;
* follows redirects itself, so the ``Authorization`` header never leaves the registry's origin
  (a blob redirected to a storage host gets no credentials).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from typing import Final
from urllib.parse import urlencode

import httpx

from dockyard.errors import RegistryAuthError, RegistryError
from dockyard.transport.registry import _errors
from dockyard.transport.registry.auth import Authenticator, Scope, TokenCache
from dockyard.transport.registry.credentials import CredentialSource
from dockyard.transport.registry.hosts import Endpoint
from dockyard.transport.registry.retry import RetryPolicy, should_retry_status

log = logging.getLogger("dockyard.registry")

#: A request body: bytes, or a function that yields the body afresh for each try.
Body = bytes | Callable[[], Iterable[bytes]] | None

MAX_REDIRECTS: Final = 5
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
#: No connection could be made: refused, unknown host, unreachable network, connect timeout.
_CONNECT_ERRORS: Final = (httpx.ConnectError, httpx.ConnectTimeout)
#: The most of an answer that is read into memory (manifests, token answers, tag lists; blobs are streamed).
MAX_BODY: Final = 4 * 1024 * 1024
#: The most of an error (or otherwise unwanted) answer that is read.
MAX_ERROR_BODY: Final = 64 * 1024


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


class Session:
    """Requests to one registry endpoint; safe to use from several threads at once."""

    def __init__(
        self,
        endpoint: Endpoint,
        credentials: CredentialSource | None,
        *,
        timeout: float,
        retry: RetryPolicy,
        token_cache: TokenCache | None = None,
        transport: httpx.BaseTransport | None = None,
        user_agent: str = "dockyard",
    ) -> None:
        self.endpoint = endpoint
        self.retry = retry
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=8)
        if transport is None and endpoint.scheme == "http":
            transport = PlainFirstTransport(limits)
        self.http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": user_agent},
            limits=limits,
        )
        self.auth = Authenticator(
            endpoint.host, credentials, self._token_request, cache=token_cache, plain_http=endpoint.scheme == "http"
        )
        self.sleep: Callable[[float], None] = time.sleep
        #: Only this origin (the registry's own scheme, host and port) ever gets the registry's credentials.
        self.home = _origin(httpx.URL(endpoint.base_url))
        #: Whether anything has answered yet: until then a connection that cannot be made is not retried.
        self.answered = False

    def url(self, path: str, query: Sequence[tuple[str, str]] = ()) -> httpx.URL:
        text = self.endpoint.base_url + path
        return httpx.URL(text + ("?" + urlencode(query) if query else ""))

    def close(self) -> None:
        self.http.close()

    # --- the request loop -----------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        what: str,
        scopes: Sequence[Scope] | None = (),
        headers: Mapping[str, str] | None = None,
        body: Body = None,
        replayable: bool = True,
        stream: bool = False,
        ok: Iterable[int] = (200,),
    ) -> httpx.Response:
        """Send, authenticate, retry and redirect; return the answer if its status is in ``ok``.

        ``scopes=None`` sends no credentials at all (token requests). ``replayable=False`` means
        the body cannot be sent twice: then nothing is retried. A ``stream`` answer must be closed
        by the caller; any other answer is read, at most :data:`MAX_BODY` bytes of it.
        """
        expected = frozenset(ok)
        url = httpx.URL(url) if isinstance(url, str) else url
        auth = RegistryAuth(self, scopes, what, body, replayable) if scopes is not None else None
        attempt = 0
        while True:
            attempt += 1
            can_retry = replayable and attempt < self.retry.attempts
            try:
                response = self._send_following_redirects(method, url, headers, auth, body)
            except httpx.TransportError as exc:
                never_connected = not self.answered and isinstance(exc, _CONNECT_ERRORS)
                if never_connected or not can_retry:
                    shown = f"{method} {_shown(url)}"
                    raise _errors.unreachable(self.endpoint.host, exc, what, shown) from exc
                wait = self.retry.backoff(attempt)
                log.debug("%s %s: %s; retry %d in %.2fs", method, url, exc, attempt, wait)
                self.sleep(wait)
                continue
            status = response.status_code
            if status in expected:
                return response if stream else _buffered(response, MAX_BODY, self.endpoint.host, what)
            if should_retry_status(status) and can_retry:
                wait = self.retry.wait_for(attempt, response.headers.get("retry-after"))
                _discard(response)
                log.debug("%s %s: %d; retry %d in %.2fs", method, url, status, attempt, wait)
                self.sleep(wait)
                continue
            error = _errors.from_response(
                self.endpoint.host, _buffered(response, MAX_ERROR_BODY, self.endpoint.host, what, cut=True), what
            )
            if status == 401 and auth is not None and auth.challenged and not error.errors:
                # A HEAD has no body to say why: say it for the registry.
                creds = self.auth.credentials()
                who = f"the credentials of {creds.username or 'the identity token'}" if creds else "anonymous access"
                error = RegistryAuthError(self.endpoint.host, status=401, what=what, reason=f"refused {who}")
            raise error

    def _send_following_redirects(
        self,
        method: str,
        url: httpx.URL,
        headers: Mapping[str, str] | None,
        auth: RegistryAuth | None,
        body: Body,
    ) -> httpx.Response:
        """Send (the answer streamed), following redirects by hand. The registry's ``Authorization`` goes only
        to the registry's own origin; headers the caller set go on only within the first request's origin;
        a request with a body is never redirected to another origin, and nothing is redirected from HTTPS to
        plain HTTP."""
        sent_headers = dict(headers or {})
        first = _origin(url)
        for _ in range(MAX_REDIRECTS + 1):
            here = _origin(url)
            request_headers = dict(sent_headers) if here == first else _public(sent_headers)
            content = body if isinstance(body, bytes) or body is None else body()
            request = self.http.build_request(method, url, headers=request_headers, content=content)
            response = self.http.send(request, stream=True, auth=auth if here == self.home else None)
            self.answered = True
            location = response.headers.get("location")
            if response.status_code not in _REDIRECTS or location is None:
                return response
            _discard(response)
            target = response.url.join(location)
            if response.status_code == 303 or (response.status_code in (301, 302) and method not in ("GET", "HEAD")):
                method, body = "GET", None
                sent_headers = {k: v for k, v in sent_headers.items() if k.lower() not in ("content-type",)}
            if url.scheme == "https" and target.scheme != "https":
                raise RegistryError(
                    self.endpoint.host, reason="redirected from HTTPS to plain HTTP", what=_shown(target)
                )
            if body is not None and _origin(target) != first:
                raise RegistryError(
                    self.endpoint.host, reason="redirected a request with a body to another host", what=_shown(target)
                )
            url = target
            log.debug("redirected to %s", _shown(url))
        raise RegistryError(self.endpoint.host, reason=f"redirected more than {MAX_REDIRECTS} times", what=_shown(url))

    # --- token requests (for the Authenticator) -------------------------------------------------------------

    def _token_request(
        self, method: str, url: str, headers: Mapping[str, str], form: Mapping[str, str] | None
    ) -> httpx.Response:
        sent = dict(headers)
        body: bytes | None = None
        if form is not None:
            body = urlencode(form).encode("ascii")
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        response = self.request(
            method,
            url,
            what="a token",
            scopes=None,
            headers=sent,
            body=body,
            ok=[status for status in range(200, 500) if status != 429],  # 429 is retried, not an answer
        )
        return response


class PlainFirstTransport(httpx.BaseTransport):
    """The transport of a plain-HTTP registry (loopback, or ``--insecure-registry``): no TLS set-up at all until an
    ``https://`` URL comes (a blob redirected to a storage host), which then gets httpx's default, verified
    transport. Loading the CA certificates is what ``httpx.Client()`` costs beyond importing httpcore (20-45 ms
    measured here), for nothing when every request is plain HTTP."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        # verify=False: this one only ever carries http:// requests (see handle_request), so no CA file is read.
        self._plain = httpx.HTTPTransport(verify=False, limits=limits)
        self._tls: httpx.HTTPTransport | None = None
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "http":
            return self._plain.handle_request(request)
        return self._secure().handle_request(request)

    def _secure(self) -> httpx.HTTPTransport:
        with self._lock:
            if self._tls is None:
                self._tls = httpx.HTTPTransport(limits=self._limits)  # verify=True: the default CA certificates
            return self._tls

    @property
    def tls_ready(self) -> bool:
        """Whether the verified transport (and its TLS set-up) has been made."""
        return self._tls is not None

    def close(self) -> None:
        self._plain.close()
        with self._lock:
            if self._tls is not None:
                self._tls.close()


class RegistryAuth(httpx.Auth):
    """The registry's authentication as an httpx auth flow, for one :meth:`Session.request` (all its tries).

    Adds the ``Authorization`` header the :class:`~.auth.Authenticator` has for the request's scopes (a cached
    token, or none before the registry first challenged); after a 401 from the registry's own origin it reads
    the challenge, fetches a fresh token (through the session: retried, redirects followed without
    credentials) and sends the request once more -- once per :meth:`Session.request`, and only when the body
    can be sent again. The session gives this flow only to requests to the registry's own origin.
    """

    def __init__(self, session: Session, scopes: Sequence[Scope], what: str, body: Body, replayable: bool) -> None:
        self.session = session
        self.scopes = scopes
        self.what = what
        self.body = body
        self.replayable = replayable
        self.challenged = False
        """Whether the registry challenged (and a fresh header was fetched) during this request."""
        self._header: str | None = None
        self._looked_up = False

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not self._looked_up:
            self._header = self.session.auth.authorization(self.scopes)
            self._looked_up = True
        if self._header is not None and _origin(request.url) == self.session.home:
            request.headers["Authorization"] = self._header
        response = yield request
        if (
            response.status_code != 401
            or self.challenged
            or not self.replayable
            or _origin(response.url) != self.session.home
        ):
            return
        self.challenged = True
        _drain_for_retry(response)
        self._header = self.session.auth.challenged(
            response.headers.get_list("www-authenticate"), self.scopes, self.what
        )
        if self.body is not None and not isinstance(self.body, bytes):  # a streamed body: made afresh
            request = httpx.Request(request.method, request.url, headers=request.headers, content=self.body())
        request.headers["Authorization"] = self._header
        yield request


def _drain_for_retry(response: httpx.Response) -> None:
    """Read a little of the 401 an auth flow answers (a small one leaves the connection reusable) and close it.
    httpx then reads the answer whole before sending the retry: it is given an empty body for that, so a
    registry cannot make dockyard hold an endless 401."""
    stream = response.stream
    try:
        if isinstance(stream, httpx.SyncByteStream):
            got = 0
            for chunk in stream:
                got += len(chunk)
                if got > MAX_ERROR_BODY:
                    break
    except httpx.HTTPError:
        pass
    finally:
        if isinstance(stream, httpx.SyncByteStream):
            stream.close()
    response.stream = httpx.ByteStream(b"")


def _discard(response: httpx.Response) -> None:
    """Read a little of an unwanted answer (a small one leaves the connection reusable) and close it."""
    try:
        got = 0
        for chunk in response.iter_raw():
            got += len(chunk)
            if got > MAX_ERROR_BODY:
                break
    except httpx.HTTPError:
        pass
    finally:
        response.close()


def _buffered(response: httpx.Response, limit: int, host: str, what: str, *, cut: bool = False) -> httpx.Response:
    """The streamed ``response`` read into memory, at most ``limit`` bytes: past that it is refused (or, with
    ``cut``, truncated), so a hostile registry cannot make dockyard hold an endless answer."""
    parts: list[bytes] = []
    got = 0
    try:
        for chunk in response.iter_bytes():
            got += len(chunk)
            if got > limit:
                if not cut:
                    raise RegistryError(
                        host, status=response.status_code, what=what, reason=f"sent more than {limit} bytes"
                    )
                parts.append(chunk[: limit - (got - len(chunk))])
                break
            parts.append(chunk)
    except httpx.HTTPError as exc:
        if not cut:
            raise _errors.unreachable(host, exc, what) from exc
    finally:
        response.close()
    return httpx.Response(
        response.status_code,
        headers=[(k, v) for k, v in response.headers.multi_items() if k.lower() not in _ENCODING_HEADERS],
        content=b"".join(parts),
        request=response.request,
    )


_ENCODING_HEADERS: Final = frozenset({"content-encoding", "transfer-encoding"})  # the content is decoded


def _public(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers that may go to another origin: no credentials."""
    return {k: v for k, v in headers.items() if k.lower() not in ("authorization", "cookie")}


def _shown(url: httpx.URL) -> str:
    """A URL fit for a message: without its query (signed storage URLs carry secrets there)."""
    return str(url.copy_with(query=None))
