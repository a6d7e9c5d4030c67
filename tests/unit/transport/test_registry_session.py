"""The session's httpx auth flow on answers no real registry or the fault proxy can be observed giving:
an endless 401 body (how much of it is read), a streamed request body sent again after a challenge."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx

from dockyard.transport.registry._session import MAX_ERROR_BODY, Session
from dockyard.transport.registry.auth import Scope
from dockyard.transport.registry.credentials import Credentials, StaticCredentials
from dockyard.transport.registry.hosts import endpoint
from dockyard.transport.registry.retry import RetryPolicy

BASIC = "Basic " + base64.b64encode(b"alice:wonderland").decode()


class Endless(httpx.SyncByteStream):
    """A body that never ends, counting what was taken from it."""

    def __init__(self) -> None:
        self.taken = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        while True:
            self.taken += 4096
            yield b"x" * 4096

    def close(self) -> None:
        self.closed = True


def _session(handler: httpx.MockTransport) -> Session:
    return Session(
        endpoint("127.0.0.1:5000"),
        StaticCredentials(Credentials("alice", "wonderland")),
        timeout=5,
        retry=RetryPolicy(attempts=2, base=0.001, cap=0.001, jitter=0.0),
        transport=handler,
    )


def test_an_endless_401_is_not_read_whole_and_the_request_is_retried_with_credentials() -> None:
    endless = Endless()
    seen: list[str | None] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        if len(seen) == 1:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'}, stream=endless)
        return httpx.Response(200, content=b"{}")

    session = _session(httpx.MockTransport(handle))
    response = session.request("GET", session.url("/v2/"), what="/v2/", scopes=[Scope.repository("a/b")])
    assert response.status_code == 200
    assert seen == [None, BASIC]
    assert endless.closed and MAX_ERROR_BODY < endless.taken <= MAX_ERROR_BODY + 4096


def test_a_streamed_body_is_made_afresh_for_the_retry_after_a_challenge() -> None:
    bodies: list[bytes] = []

    def handle(request: httpx.Request) -> httpx.Response:
        bodies.append(request.read())
        if len(bodies) == 1:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})
        return httpx.Response(201)

    def body() -> Iterator[bytes]:
        yield b"part one, "
        yield b"part two"

    session = _session(httpx.MockTransport(handle))
    response = session.request(
        "PUT", session.url("/v2/a/b/manifests/t"), what="a/b:t", scopes=[Scope.repository("a/b")], body=body, ok=[201]
    )
    assert response.status_code == 201
    assert bodies == [b"part one, part two"] * 2
