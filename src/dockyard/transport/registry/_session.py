"""One registry host over HTTP: authentication, retries with backoff, and redirects.

:meth:`Session.request` sends a request and returns the answer when its status is one the
caller expects; otherwise it raises the matching :class:`~dockyard.errors.RegistryError`. On the
way it

* adds the ``Authorization`` header the :class:`~.auth.Authenticator` has for the request's scopes,
  and after a 401 from the registry fetches a fresh one and tries once more;
* retries connection errors, timeouts, 5xx and 429 (``Retry-After`` honoured) with exponential
  backoff, when the request body can be sent again;
* follows redirects itself, so the ``Authorization`` header never leaves the registry's origin
  (a blob redirected to a storage host gets no credentials).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
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
        self.http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": user_agent},
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
        )
        self.auth = Authenticator(endpoint.host, credentials, self._token_request, cache=token_cache)
        self.sleep: Callable[[float], None] = time.sleep

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
        by the caller.
        """
        expected = frozenset(ok)
        url = httpx.URL(url) if isinstance(url, str) else url
        authorization = self.auth.authorization(scopes) if scopes is not None else None
        challenged = False
        attempt = 0
        while True:
            attempt += 1
            can_retry = replayable and attempt < self.retry.attempts
            try:
                response = self._send_following_redirects(method, url, headers, authorization, body, stream)
            except httpx.TransportError as exc:
                if not can_retry:
                    raise _errors.unreachable(self.endpoint.host, exc, what) from exc
                wait = self.retry.backoff(attempt)
                log.debug("%s %s: %s; retry %d in %.2fs", method, url, exc, attempt, wait)
                self.sleep(wait)
                continue
            status = response.status_code
            if (
                status == 401
                and scopes is not None
                and not challenged
                and replayable
                and _origin(response.url) == _origin(url)
            ):
                _discard(response)
                challenged = True
                authorization = self.auth.challenged(response.headers.get_list("www-authenticate"), scopes, what)
                attempt -= 1  # the authentication round trip is not a failure
                continue
            if status in expected:
                return response
            if should_retry_status(status) and can_retry:
                wait = self.retry.wait_for(attempt, response.headers.get("retry-after"))
                _discard(response)
                log.debug("%s %s: %d; retry %d in %.2fs", method, url, status, attempt, wait)
                self.sleep(wait)
                continue
            _discard(response)
            error = _errors.from_response(self.endpoint.host, response, what)
            if status == 401 and challenged and not error.errors:
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
        authorization: str | None,
        body: Body,
        stream: bool,
    ) -> httpx.Response:
        sent_headers = dict(headers or {})
        origin = _origin(url)
        for _ in range(MAX_REDIRECTS + 1):
            request_headers = dict(sent_headers)
            if authorization is not None and _origin(url) == origin:
                request_headers["Authorization"] = authorization
            content = body if isinstance(body, bytes) or body is None else body()
            request = self.http.build_request(method, url, headers=request_headers, content=content)
            response = self.http.send(request, stream=stream)
            location = response.headers.get("location")
            if response.status_code not in _REDIRECTS or location is None:
                return response
            _discard(response)
            url = response.url.join(location)
            if response.status_code == 303 or (response.status_code in (301, 302) and method not in ("GET", "HEAD")):
                method, body = "GET", None
                sent_headers = {k: v for k, v in sent_headers.items() if k.lower() not in ("content-type",)}
            log.debug("redirected to %s", url.copy_with(query=None))
        raise RegistryError(self.endpoint.host, reason=f"redirected more than {MAX_REDIRECTS} times", what=str(url))

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
            ok=range(200, 500),
        )
        return response


def _discard(response: httpx.Response) -> None:
    """Read what is left of an unwanted answer (so the connection can be reused) and close it."""
    try:
        response.read()
    except httpx.HTTPError:
        pass
    finally:
        response.close()
