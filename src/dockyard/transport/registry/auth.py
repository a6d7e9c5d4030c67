"""Registry authentication: ``WWW-Authenticate`` challenges, scopes, bearer tokens and their cache.

The flow (Docker's token authentication, as CNCF Distribution implements it)::

    GET /v2/repo/manifests/tag           -> 401  WWW-Authenticate: Bearer realm="R",service="S",scope="..."
    GET R?service=S&scope=repository:repo:pull   (Basic credentials if any; anonymous otherwise)
                                         -> {"token": "...", "expires_in": 300}
    GET /v2/repo/manifests/tag  Authorization: Bearer ...   (retried once)

A registry with only Basic auth answers ``WWW-Authenticate: Basic realm="..."``; then the
credentials go in every request. An identity token (``docker login`` to a registry with OAuth2)
is exchanged with ``POST R`` ``grant_type=refresh_token``.

Once a host has challenged, later requests get their header before they are sent (a cached
token per host and scope set, fetched afresh when it expires), saving the 401 round trip.
This module does no I/O of its own: the caller hands :class:`Authenticator` a function that
sends the token request.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final
from urllib.parse import urlencode

from dockyard.errors import RegistryAuthError, RegistryError
from dockyard.transport.registry.credentials import Credentials, CredentialSource

if TYPE_CHECKING:
    import httpx

DEFAULT_TOKEN_TTL: Final = 60.0
"""Seconds a token lives when the token service does not say (``expires_in``)."""

CLIENT_ID: Final = "dockyard"
PULL: Final = "pull"
PUSH: Final = "push"


# --- challenges -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge of a ``WWW-Authenticate`` header: scheme (lowercased) and its parameters."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def scopes(self) -> tuple[Scope, ...]:
        """The scopes the registry named (``scope`` may hold several, separated by spaces)."""
        text = self.params.get("scope", "")
        return tuple(Scope.parse(part) for part in text.split() if part.count(":") >= 2)


_TCHAR: Final = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class _Lexer:
    """Tokens of RFC 7235's challenge grammar: tokens, token68, quoted strings, ``=`` and ``,``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def token(self) -> str:
        self.skip_space()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _TCHAR:
            self.pos += 1
        return self.text[start : self.pos]

    def token68_tail(self) -> str:
        """Trailing ``=`` padding of a token68 (``abc==``)."""
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] == "=":
            self.pos += 1
        return self.text[start : self.pos]

    def quoted(self) -> str:
        self.pos += 1  # the opening quote
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\" and self.pos < len(self.text):
                out.append(self.text[self.pos])
                self.pos += 1
            elif char == '"':
                return "".join(out)
            else:
                out.append(char)
        return "".join(out)  # unterminated: take what there is, as Docker does

    def value(self) -> str:
        return self.quoted() if self.peek() == '"' else self.token()

    def expect_param_equals(self) -> bool:
        """After a token: True (and consume) if ``=`` follows and starts a parameter value."""
        self.skip_space()
        if self.pos < len(self.text) and self.text[self.pos] == "=":
            rest = self.text[self.pos + 1 :].lstrip(" \t")
            if rest[:1] != "=":
                self.pos += 1
                return True
        return False


def parse_challenges(headers: str | Iterable[str]) -> list[Challenge]:
    """Parse ``WWW-Authenticate`` header value(s) into challenges; unparsable parts are skipped.

    >>> parse_challenges('Bearer realm="https://a/token",service="reg",scope="repository:x:pull"')[0].service
    'reg'
    """
    values = [headers] if isinstance(headers, str) else list(headers)
    challenges: list[Challenge] = []
    for value in values:
        lex = _Lexer(value)
        while lex.peek():
            if lex.peek() == ",":
                lex.pos += 1
                continue
            scheme = lex.token()
            if not scheme:
                lex.pos += 1  # junk: skip a character and resynchronise
                continue
            params: dict[str, str] = {}
            while True:
                mark = lex.pos
                name = lex.token()
                if not name:
                    break
                if lex.expect_param_equals():
                    params[name.lower()] = lex.value()
                    if lex.peek() == ",":
                        lex.pos += 1
                    continue
                if not params and lex.peek() in ("=", ",", ""):
                    # token68 (Negotiate abc==): not a parameter list.
                    lex.token68_tail()
                    break
                lex.pos = mark  # a new challenge starts here
                break
            challenges.append(Challenge(scheme.lower(), params))
    return challenges


# --- scopes -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class Scope:
    """An access scope: ``repository:library/alpine:pull,push``, ``registry:catalog:*``."""

    resource_type: str
    name: str
    actions: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Scope:
        resource_type, _, rest = text.partition(":")
        name, _, actions = rest.rpartition(":")
        return cls(resource_type, name, tuple(sorted({a for a in actions.split(",") if a})))

    @classmethod
    def repository(cls, name: str, *actions: str) -> Scope:
        return cls("repository", name, tuple(sorted(set(actions or (PULL,)))))

    @classmethod
    def catalog(cls) -> Scope:
        return cls("registry", "catalog", ("*",))

    def __str__(self) -> str:
        return f"{self.resource_type}:{self.name}:{','.join(self.actions)}"


def pull_scope(repo: str) -> Scope:
    """``repository:REPO:pull``."""
    return Scope.repository(repo, PULL)


def push_scope(repo: str) -> Scope:
    """``repository:REPO:pull,push`` (a push reads too: blob existence checks, mounts)."""
    return Scope.repository(repo, PULL, PUSH)


def merge_scopes(scopes: Iterable[Scope]) -> tuple[Scope, ...]:
    """One scope per resource with the union of its actions, in a stable order."""
    merged: dict[tuple[str, str], set[str]] = {}
    for scope in scopes:
        merged.setdefault((scope.resource_type, scope.name), set()).update(scope.actions)
    return tuple(sorted(Scope(kind, name, tuple(sorted(actions))) for (kind, name), actions in merged.items()))


# --- tokens -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Token:
    value: str = field(repr=False)
    expires_at: float
    """On the cache's clock (``time.monotonic`` by default)."""


class TokenCache:
    """Bearer tokens per (registry host, scope set) until they expire, and the challenge each host
    last sent (so a new client of a known host asks for a token without a 401 first).
    Safe to share between threads and clients."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._tokens: dict[tuple[str, frozenset[str]], Token] = {}
        self._challenges: dict[str, Challenge] = {}
        self._lock = threading.Lock()

    def challenge(self, host: str) -> Challenge | None:
        with self._lock:
            return self._challenges.get(host)

    def set_challenge(self, host: str, challenge: Challenge) -> None:
        with self._lock:
            self._challenges[host] = challenge

    @staticmethod
    def key(host: str, scopes: Iterable[Scope]) -> tuple[str, frozenset[str]]:
        return host, frozenset(str(s) for s in scopes)

    def get(self, host: str, scopes: Iterable[Scope]) -> Token | None:
        """A live token for exactly ``scopes``, else one whose scopes cover them (``pull,push`` covers ``pull``)."""
        key = self.key(host, scopes)
        wanted = [Scope.parse(s) for s in key[1]]
        now = self.clock()
        with self._lock:
            for dead in [k for k, t in self._tokens.items() if t.expires_at <= now]:
                del self._tokens[dead]
            token = self._tokens.get(key)
            if token is not None:
                return token
            for (cached_host, cached), candidate in self._tokens.items():
                if cached_host == host and _covers([Scope.parse(s) for s in cached], wanted):
                    return candidate
            return None

    def put(self, host: str, scopes: Iterable[Scope], value: str, ttl: float) -> Token:
        # Renew a little early so a token does not expire in flight.
        token = Token(value, self.clock() + ttl - min(5.0, ttl * 0.1))
        with self._lock:
            self._tokens[self.key(host, scopes)] = token
        return token

    def discard(self, host: str, scopes: Iterable[Scope]) -> None:
        with self._lock:
            self._tokens.pop(self.key(host, scopes), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)


def _covers(have: Sequence[Scope], wanted: Sequence[Scope]) -> bool:
    """True when every wanted scope's actions are among those ``have`` grants for the same resource."""
    granted: dict[tuple[str, str], set[str]] = {}
    for scope in have:
        granted.setdefault((scope.resource_type, scope.name), set()).update(scope.actions)
    return all(set(w.actions) <= granted.get((w.resource_type, w.name), set()) for w in wanted)


def basic_header(creds: Credentials) -> str:
    raw = f"{creds.username}:{creds.password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def parse_token_response(body: bytes, default_ttl: float = DEFAULT_TOKEN_TTL) -> tuple[str, float]:
    """``(token, ttl)`` from a token service's JSON: ``token`` or ``access_token``, ``expires_in``."""
    try:
        data = json.loads(body)
    except ValueError:
        raise ValueError("the token service's answer is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("the token service's answer is not a JSON object")
    token = data.get("token") or data.get("access_token")
    if not isinstance(token, str) or not token:
        raise ValueError("the token service's answer has no token")
    expires_in = data.get("expires_in")
    ttl = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else default_ttl
    return token, ttl


#: Sends one token request: (method, url, headers, form or None) -> response.
TokenFetch = Callable[[str, str, Mapping[str, str], Mapping[str, str] | None], "httpx.Response"]


class Authenticator:
    """The ``Authorization`` header for each request to one registry host."""

    def __init__(
        self,
        host: str,
        credentials: CredentialSource | None,
        fetch: TokenFetch,
        *,
        cache: TokenCache | None = None,
        default_ttl: float = DEFAULT_TOKEN_TTL,
        plain_http: bool = False,
    ) -> None:
        """``plain_http``: the registry itself is reached over plain HTTP (loopback or marked insecure); only
        then may its token service be plain HTTP too, unless that service is on a loopback address."""
        self.host = host
        self.plain_http = plain_http
        self.credential_source = credentials
        self.fetch = fetch
        self.cache = cache if cache is not None else TokenCache()
        self.default_ttl = default_ttl
        self._creds: Credentials | None = None
        self._creds_loaded = False
        self._lock = threading.RLock()

    @property
    def challenge(self) -> Challenge | None:
        """The challenge the registry last answered with (``None`` until it asked for auth)."""
        return self.cache.challenge(self.host)

    def credentials(self) -> Credentials | None:
        """The credentials for this host, looked up once (a helper may be slow)."""
        with self._lock:
            if not self._creds_loaded:
                found = self.credential_source.get(self.host) if self.credential_source is not None else None
                self._creds = found if found else None
                self._creds_loaded = True
            return self._creds

    def authorization(self, scopes: Sequence[Scope]) -> str | None:
        """The header for a request needing ``scopes``, if the host has challenged before."""
        challenge = self.cache.challenge(self.host)
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            creds = self.credentials()
            return basic_header(creds) if creds and not creds.identity_token else None
        if challenge.scheme == "bearer":
            token = self.cache.get(self.host, scopes)
            if token is None:
                token = self._fetch_token(challenge, scopes, scopes)
            return "Bearer " + token.value
        return None

    def challenged(self, www_authenticate: Sequence[str], scopes: Sequence[Scope], what: str) -> str:
        """After a 401: remember the challenge and return a fresh header, or raise :class:`RegistryAuthError`."""
        challenges = parse_challenges(www_authenticate)
        chosen = next((c for c in challenges if c.scheme == "bearer"), None) or next(
            (c for c in challenges if c.scheme == "basic"), None
        )
        if chosen is None:
            shown = ", ".join(c.scheme for c in challenges) or "none"
            raise RegistryAuthError(
                self.host, status=401, what=what, reason=f"asked for an unsupported authentication scheme ({shown})"
            )
        self.cache.set_challenge(self.host, chosen)
        if chosen.scheme == "basic":
            creds = self.credentials()
            if not creds or creds.identity_token:
                raise RegistryAuthError(
                    self.host, status=401, what=what, reason="requires a user name and password and none were found"
                )
            return basic_header(creds)
        self.cache.discard(self.host, scopes)
        wanted = merge_scopes([*scopes, *chosen.scopes])
        return "Bearer " + self._fetch_token(chosen, scopes, wanted).value

    def _check_realm(self, realm: str) -> None:
        """Credentials go to a token service over HTTPS, or over HTTP only where the registry itself is HTTP
        (the user's choice) or the service is on this machine."""
        from urllib.parse import urlsplit

        from dockyard.transport.registry.hosts import is_loopback

        parts = urlsplit(realm)
        if parts.scheme == "https":
            return
        if parts.scheme == "http" and (self.plain_http or is_loopback(parts.hostname or "")):
            return
        raise RegistryAuthError(
            self.host, status=401, reason=f"names a token service that is not HTTPS ({parts.scheme}://{parts.netloc})"
        )

    def _fetch_token(self, challenge: Challenge, key: Sequence[Scope], wanted: Sequence[Scope]) -> Token:
        realm = challenge.realm
        if not realm:
            raise RegistryAuthError(self.host, status=401, reason="sent a Bearer challenge without a realm")
        self._check_realm(realm)
        creds = self.credentials()
        service = challenge.service
        scope_text = " ".join(str(s) for s in wanted)
        if creds is not None and creds.identity_token:
            form = {"grant_type": "refresh_token", "refresh_token": creds.identity_token, "client_id": CLIENT_ID}
            if service:
                form["service"] = service
            if scope_text:
                form["scope"] = scope_text
            response = self.fetch("POST", realm, {}, form)
        else:
            query: list[tuple[str, str]] = []
            if service:
                query.append(("service", service))
            query.extend(("scope", str(s)) for s in wanted)
            url = realm + (("&" if "?" in realm else "?") + urlencode(query) if query else "")
            headers = {"Authorization": basic_header(creds)} if creds else {}
            response = self.fetch("GET", url, headers, None)
        who = f"the credentials of {creds.username or 'the identity token'}" if creds else "anonymous access"
        if response.status_code in (401, 403):
            raise RegistryAuthError(
                self.host, status=response.status_code, what=scope_text, reason=f"token service {realm} refused {who}"
            )
        if response.status_code != 200:
            raise RegistryError(
                self.host,
                status=response.status_code,
                what=scope_text,
                reason=f"token service {realm} failed",
            )
        try:
            value, ttl = parse_token_response(response.content, self.default_ttl)
        except ValueError as exc:
            raise RegistryError(self.host, what=scope_text, reason=f"token service {realm}: {exc}") from None
        return self.cache.put(self.host, key, value, ttl)


__all__ = [
    "CLIENT_ID",
    "DEFAULT_TOKEN_TTL",
    "PULL",
    "PUSH",
    "Authenticator",
    "Challenge",
    "Scope",
    "Token",
    "TokenCache",
    "TokenFetch",
    "basic_header",
    "merge_scopes",
    "parse_challenges",
    "parse_token_response",
    "pull_scope",
    "push_scope",
]
