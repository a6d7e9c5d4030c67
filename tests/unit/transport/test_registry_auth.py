"""Challenge parsing, scopes, the token cache, token answers, retry waits and registry error messages."""

from __future__ import annotations

import email.utils
import time

import pytest

from dockyard.errors import RegistryAuthError, RegistryError, RegistryNotFound, RegistryUnavailable
from dockyard.oci.errcodes import error_class
from dockyard.transport.registry._errors import error_pairs
from dockyard.transport.registry.auth import (
    Challenge,
    Scope,
    TokenCache,
    merge_scopes,
    parse_challenges,
    parse_token_response,
    pull_scope,
    push_scope,
)
from dockyard.transport.registry.retry import RetryPolicy, parse_retry_after

# --------------------------------------------------------------------------- challenges

CHALLENGES = [
    (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
        [
            Challenge(
                "bearer",
                {
                    "realm": "https://auth.docker.io/token",
                    "service": "registry.docker.io",
                    "scope": "repository:library/alpine:pull",
                },
            )
        ],
    ),
    ('Basic realm="Registry Realm"', [Challenge("basic", {"realm": "Registry Realm"})]),
    ("basic realm=simple", [Challenge("basic", {"realm": "simple"})]),
    (
        'Basic realm="a, b", Bearer realm="https://t/token", service="s"',
        [Challenge("basic", {"realm": "a, b"}), Challenge("bearer", {"realm": "https://t/token", "service": "s"})],
    ),
    (
        'Bearer realm="r",error="insufficient_scope",scope="repository:a/b:pull,push repository:c:pull"',
        [
            Challenge(
                "bearer",
                {"realm": "r", "error": "insufficient_scope", "scope": "repository:a/b:pull,push repository:c:pull"},
            )
        ],
    ),
    ('Bearer realm="with \\"quotes\\""', [Challenge("bearer", {"realm": 'with "quotes"'})]),
    ("Negotiate abc==, Basic realm=x", [Challenge("negotiate", {}), Challenge("basic", {"realm": "x"})]),
    ("Basic", [Challenge("basic", {})]),
    ("", []),
]


@pytest.mark.parametrize(("header", "expected"), CHALLENGES)
def test_parse_challenges(header: str, expected: list[Challenge]) -> None:
    assert parse_challenges(header) == expected


def test_parse_several_headers_and_challenge_scopes() -> None:
    parsed = parse_challenges(['Basic realm="x"', 'Bearer realm="y",scope="repository:a:pull repository:b:push"'])
    assert [c.scheme for c in parsed] == ["basic", "bearer"]
    assert parsed[1].realm == "y" and parsed[1].service is None
    assert parsed[1].scopes == (Scope("repository", "a", ("pull",)), Scope("repository", "b", ("push",)))


# --------------------------------------------------------------------------- scopes


def test_scopes() -> None:
    assert str(pull_scope("library/alpine")) == "repository:library/alpine:pull"
    assert str(push_scope("a/b")) == "repository:a/b:pull,push"
    assert str(Scope.catalog()) == "registry:catalog:*"
    assert Scope.parse("repository:host:5000/x:push,pull") == Scope("repository", "host:5000/x", ("pull", "push"))
    merged = merge_scopes([pull_scope("a"), Scope.repository("a", "push"), pull_scope("b"), pull_scope("a")])
    assert [str(s) for s in merged] == ["repository:a:pull,push", "repository:b:pull"]


# --------------------------------------------------------------------------- the token cache


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_cache_expiry_and_coverage() -> None:
    clock = FakeClock()
    cache = TokenCache(clock)
    cache.put("reg", [push_scope("a")], "tok-push", ttl=60)
    assert cache.get("reg", [push_scope("a")]).value == "tok-push"  # type: ignore[union-attr]
    # pull,push covers pull; nothing covers another repository or another host.
    assert cache.get("reg", [pull_scope("a")]).value == "tok-push"  # type: ignore[union-attr]
    assert cache.get("reg", [pull_scope("b")]) is None
    assert cache.get("other", [pull_scope("a")]) is None
    clock.now += 54.5  # renewed a little before expiry (ttl - min(5, ttl/10))
    assert cache.get("reg", [push_scope("a")]) is not None
    clock.now += 0.6
    assert cache.get("reg", [push_scope("a")]) is None
    assert len(cache) == 0


def test_token_cache_short_ttl_and_discard() -> None:
    clock = FakeClock()
    cache = TokenCache(clock)
    cache.put("reg", [], "t", ttl=2)
    clock.now += 1.7
    assert cache.get("reg", []) is not None
    clock.now += 0.2
    assert cache.get("reg", []) is None
    cache.put("reg", [pull_scope("x")], "t2", ttl=60)
    cache.discard("reg", [pull_scope("x")])
    assert cache.get("reg", [pull_scope("x")]) is None


def test_token_cache_remembers_challenges() -> None:
    cache = TokenCache()
    assert cache.challenge("reg") is None
    cache.set_challenge("reg", Challenge("bearer", {"realm": "r"}))
    assert cache.challenge("reg") == Challenge("bearer", {"realm": "r"})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"token": "abc", "expires_in": 300}', ("abc", 300.0)),
        (b'{"access_token": "xyz"}', ("xyz", 60.0)),
        (b'{"token": "t", "access_token": "a", "expires_in": 0}', ("t", 60.0)),
    ],
)
def test_parse_token_response(body: bytes, expected: tuple[str, float]) -> None:
    assert parse_token_response(body) == expected


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"expires_in": 5}', b'{"token": ""}'])
def test_parse_token_response_refuses(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_token_response(body)


# --------------------------------------------------------------------------- retries


def test_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert 28 <= (parse_retry_after(date, now) or 0) <= 31
    policy = RetryPolicy(base=0.1, cap=1.0, max_retry_after=5.0, jitter=0.0)
    assert policy.wait_for(1, "120") == 5.0
    assert [policy.backoff(n) for n in (1, 2, 3, 4, 5)] == [0.1, 0.2, 0.4, 0.8, 1.0]
    jittery = RetryPolicy(base=1.0, jitter=0.5)
    assert all(1.0 <= jittery.backoff(1) <= 1.5 for _ in range(20))


# --------------------------------------------------------------------------- registry errors


def test_error_body_and_classes() -> None:
    body = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}},{"code":"X"}]}'
    assert error_pairs(body) == (("MANIFEST_UNKNOWN", "manifest unknown"), ("X", ""))
    assert error_pairs(b"<html>") == ()
    assert error_pairs(b'{"errors": "nope"}') == ()
    assert error_class(401) is RegistryAuthError and error_class(403) is RegistryAuthError
    assert error_class(404) is RegistryNotFound
    assert error_class(429) is RegistryUnavailable and error_class(503) is RegistryUnavailable
    assert issubclass(error_class(400), RegistryError)


def test_error_messages() -> None:
    err = RegistryNotFound(
        "127.0.0.1:5000", status=404, errors=(("MANIFEST_UNKNOWN", "manifest unknown"),), what="repo/x:tag"
    )
    assert str(err) == "registry 127.0.0.1:5000 said MANIFEST_UNKNOWN: manifest unknown (404) for repo/x:tag"
    assert err.codes == ("MANIFEST_UNKNOWN",) and err.status == 404
    assert isinstance(err, LookupError)
    two = RegistryAuthError("h", status=403, errors=(("DENIED", "no"), ("UNAUTHORIZED", "who")), what="r:t")
    assert str(two) == "registry h said DENIED: no; UNAUTHORIZED: who (403) for r:t"
    assert str(RegistryUnavailable("h", reason="is unreachable (ConnectError: refused)")) == (
        "registry h is unreachable (ConnectError: refused)"
    )
