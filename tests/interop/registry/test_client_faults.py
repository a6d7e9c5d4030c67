"""RegistryClient when things go wrong: a fault-injecting proxy in front of a real Distribution 2.8.

The proxy forwards every request to the registry except those a Fault picks (429, 5xx, reset,
body cut short, body replaced, redirect), and records what it saw, so each test can check both
that the client recovered and how (how many tries, which Range it asked for).
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from registry_util import ALICE, Fault, FaultProxy, RecordingServer, Registry, Sample, free_port

from dockyard.errors import DigestMismatch, InvalidManifest, RegistryError, RegistryUnavailable
from dockyard.oci.digest import Digest
from dockyard.transport.registry.client import RegistryClient
from dockyard.transport.registry.credentials import Credentials
from dockyard.transport.registry.retry import RetryPolicy

pytestmark = pytest.mark.interop

TOO_MANY = json.dumps({"errors": [{"code": "TOOMANYREQUESTS", "message": "slow down", "detail": None}]}).encode()


@pytest.fixture
def proxied(faults: FaultProxy, fast_retry: RetryPolicy) -> Iterator[RegistryClient]:
    with RegistryClient(faults.host, retry=fast_retry) as client:
        yield client


@pytest.fixture(scope="module")
def big_blob() -> tuple[bytes, Digest]:
    data = os.urandom(1024 * 1024 + 333)
    return data, Digest.of(data)


@pytest.fixture
def uploaded(proxied: RegistryClient, big_blob: tuple[bytes, Digest]) -> tuple[bytes, Digest]:
    data, digest = big_blob
    if proxied.blob_exists("faults/blob", digest) is None:
        proxied.upload_blob("faults/blob", digest, data)
    return big_blob


def test_429_with_retry_after_is_waited_for(proxied: RegistryClient, faults: FaultProxy, sample: Sample) -> None:
    faults.add(
        Fault(r"^GET /v2/sample/base/manifests/v1$", "status", status=429, headers={"Retry-After": "1"}, body=TOO_MANY)
    )
    start = time.monotonic()
    got = proxied.get_manifest("sample/base", "v1")
    elapsed = time.monotonic() - start
    assert got.digest == sample.base.manifest().digest
    assert elapsed >= 0.95
    assert [s.status for s in faults.requests("manifests/v1")] == [429, 200]


def test_retry_after_is_capped(faults: FaultProxy, sample: Sample) -> None:
    policy = RetryPolicy(attempts=3, base=0.01, cap=0.05, max_retry_after=0.2)
    faults.add(Fault(r"manifests/v1$", "status", status=429, headers={"Retry-After": "3600"}, body=TOO_MANY))
    start = time.monotonic()
    with RegistryClient(faults.host, retry=policy) as client:
        client.get_manifest("sample/base", "v1")
    assert time.monotonic() - start < 2


def test_5xx_once_is_retried(proxied: RegistryClient, faults: FaultProxy, uploaded: tuple[bytes, Digest]) -> None:
    data, digest = uploaded
    faults.reset()
    faults.add(Fault(r"^HEAD /v2/faults/blob/blobs/", "status", status=503))
    faults.add(Fault(r"^GET /v2/faults/blob/blobs/", "status", status=502))
    assert proxied.blob_exists("faults/blob", digest) == len(data)
    assert proxied.read_blob("faults/blob", digest) == data
    assert [s.status for s in faults.requests("blobs/")] == [503, 200, 502, 200]


def test_persistent_5xx_gives_up_with_one_line(proxied: RegistryClient, faults: FaultProxy, sample: Sample) -> None:
    faults.add(Fault(r"manifests/v1$", "status", status=500, times=100))
    with pytest.raises(RegistryUnavailable) as info:
        proxied.get_manifest("sample/base", "v1")
    assert str(info.value) == f"registry {faults.host} answered Internal Server Error (500) for sample/base:v1"
    assert len(faults.requests("manifests/v1")) == proxied.session.retry.attempts


def test_429_to_the_end_keeps_the_registry_code(proxied: RegistryClient, faults: FaultProxy, sample: Sample) -> None:
    faults.add(Fault(r"manifests/v1$", "status", status=429, headers={"Retry-After": "0"}, body=TOO_MANY, times=100))
    with pytest.raises(RegistryUnavailable) as info:
        proxied.get_manifest("sample/base", "v1")
    assert info.value.codes == ("TOOMANYREQUESTS",)
    assert str(info.value).endswith("said TOOMANYREQUESTS: slow down (429) for sample/base:v1")


def test_reset_connection_is_retried(proxied: RegistryClient, faults: FaultProxy, sample: Sample) -> None:
    faults.add(Fault(r"^GET /v2/sample/app/manifests/v1$", "reset"))
    assert proxied.get_manifest("sample/app", "v1").digest == sample.app.manifest().digest
    assert len(faults.requests("sample/app/manifests/v1")) == 2


class CountingTransport(httpx.HTTPTransport):
    """httpx's own transport, counting the requests sent and the connections refused; ``on_refused(n)`` is
    called at the n-th refusal (before the error goes on to the client)."""

    def __init__(self, on_refused: Callable[[int], None] | None = None) -> None:
        super().__init__()
        self.sent = 0
        self.refused = 0
        self.on_refused = on_refused

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        try:
            return super().handle_request(request)
        except httpx.ConnectError:
            self.refused += 1
            if self.on_refused is not None:
                self.on_refused(self.refused)
            raise


def test_unreachable_registry_fails_at_once(fast_retry: RetryPolicy) -> None:
    host = f"127.0.0.1:{free_port()}"
    transport = CountingTransport()
    with RegistryClient(host, retry=fast_retry, transport=transport) as client:
        with pytest.raises(RegistryUnavailable) as info:
            client.ping()
        assert transport.sent == 1  # no retry before the registry ever answered (it was 4)
        with pytest.raises(RegistryUnavailable) as manifest:
            client.get_manifest("foo", "latest")
        assert transport.sent == 2
    assert str(info.value) == f"registry {host} is unreachable (GET http://{host}/v2/: connection refused) for /v2/"
    assert str(manifest.value) == (
        f"registry {host} is unreachable (GET http://{host}/v2/foo/manifests/latest: connection refused) for foo:latest"
    )


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (
            httpx.ConnectError("[Errno -2] Name or service not known"),
            "host name lookup failed: name or service not known",
        ),
        (httpx.ConnectTimeout("timed out"), "connection timed out"),
    ],
)
def test_unknown_host_or_connect_timeout_fails_at_once(fast_retry: RetryPolicy, error: Exception, said: str) -> None:
    # Neither can be made here (no DNS server may be asked, loopback connects at once): httpx's own errors for them.
    calls: list[str] = []

    def failing(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        raise error

    transport = httpx.MockTransport(failing)
    with (
        RegistryClient("nowhere.invalid", retry=fast_retry, transport=transport) as client,
        pytest.raises(RegistryUnavailable) as info,
    ):
        client.get_manifest("library/foo", "1")
    assert calls == ["https://nowhere.invalid/v2/library/foo/manifests/1"]
    assert str(info.value) == (
        f"registry nowhere.invalid is unreachable (GET https://nowhere.invalid/v2/library/foo/manifests/1: {said})"
        " for library/foo:1"
    )


def test_refused_reconnect_during_a_download_is_retried_and_resumed(
    registry: Registry, fast_retry: RetryPolicy, big_blob: tuple[bytes, Digest]
) -> None:
    data, digest = big_blob
    with RegistryClient(registry.host, retry=fast_retry) as direct:
        if direct.blob_exists("faults/blob", digest) is None:
            direct.upload_blob("faults/blob", digest, data)
    proxy = FaultProxy(registry.host)
    proxy.start()

    def back_again(refusals: int) -> None:
        if refusals == 2:  # the proxy comes back on the same port after two refused reconnects
            proxy.server = type(proxy.server)(("127.0.0.1", proxy.port), proxy.handler)
            proxy.server.owner = proxy  # type: ignore[attr-defined]
            proxy.thread = threading.Thread(target=proxy.server.serve_forever, daemon=True)
            proxy.start()

    transport = CountingTransport(on_refused=back_again)
    proxy.add(Fault(r"^GET /v2/faults/blob/blobs/", "drop", drop_after=300_000))
    try:
        with (
            RegistryClient(proxy.host, retry=fast_retry, transport=transport) as client,
            client.open_blob("faults/blob", digest) as stream,
        ):
            first = stream.read(len(data))
            assert len(first) == 300_000
            proxy.stop()  # the connection dropped, and now nothing listens: reconnects are refused
            rest = stream.read()
            assert first + rest == data
            assert stream.resumes == 1
        assert transport.refused == 2
        gets = proxy.requests(r"^GET /v2/faults/blob/blobs/")
        assert [g.headers.get("range") for g in gets] == [None, "bytes=300000-"]
    finally:
        proxy.stop()


def test_upload_put_retried_after_503(proxied: RegistryClient, faults: FaultProxy) -> None:
    data = os.urandom(200_000)
    digest = Digest.of(data)
    faults.add(Fault(r"^PUT /v2/faults/upload/blobs/uploads/", "status", status=503))
    faults.add(Fault(r"^POST /v2/faults/upload/blobs/uploads/", "status", status=502))
    proxied.upload_blob("faults/upload", digest, io.BytesIO(data), len(data))  # seekable: replayable
    assert proxied.blob_exists("faults/upload", digest) == len(data)
    # a failed PUT may have delivered part of the body: its upload session is cancelled and a fresh one opened
    assert [(s.method, s.status) for s in faults.requests(r"^(POST|PUT|DELETE) ")] == [
        ("POST", 502),
        ("POST", 202),
        ("PUT", 503),
        ("DELETE", 204),
        ("POST", 202),
        ("PUT", 201),
    ]


# --------------------------------------------------------------------------- blob streams


def test_dropped_blob_download_resumes_with_range(
    proxied: RegistryClient, faults: FaultProxy, uploaded: tuple[bytes, Digest]
) -> None:
    data, digest = uploaded
    faults.reset()
    faults.add(Fault(r"^GET /v2/faults/blob/blobs/", "drop", drop_after=300_000))
    with proxied.open_blob("faults/blob", digest) as stream:
        assert stream.read() == data
        assert stream.resumes == 1
        assert stream.size == len(data)
    gets = faults.requests(r"^GET /v2/faults/blob/blobs/")
    assert "range" not in gets[0].headers
    assert gets[1].headers["range"] == "bytes=300000-"
    assert gets[1].status == 206


def test_blob_that_keeps_dropping_gives_up(
    proxied: RegistryClient, faults: FaultProxy, uploaded: tuple[bytes, Digest]
) -> None:
    _, digest = uploaded
    faults.add(Fault(r"^GET /v2/faults/blob/blobs/", "drop", drop_after=0, times=100))
    with pytest.raises(RegistryUnavailable) as info, proxied.open_blob("faults/blob", digest) as stream:
        stream.read()
    assert "kept dropping the download at byte 0" in str(info.value)


def test_blob_with_wrong_bytes_fails_at_the_end(
    proxied: RegistryClient, faults: FaultProxy, uploaded: tuple[bytes, Digest]
) -> None:
    data, digest = uploaded
    tampered = bytes([data[0] ^ 1]) + data[1:]
    faults.add(Fault(r"^GET /v2/faults/blob/blobs/", "body", body=tampered))
    with pytest.raises(DigestMismatch) as info:
        proxied.read_blob("faults/blob", digest)
    assert info.value.expected == str(digest)
    assert info.value.actual == str(Digest.of(tampered))


# --------------------------------------------------------------------------- manifests


def test_non_json_manifest(proxied: RegistryClient, faults: FaultProxy, sample: Sample) -> None:
    faults.add(
        Fault(r"manifests/v1$", "body", body=b"<html>gateway says hi</html>", headers={"Content-Type": "text/html"})
    )
    with pytest.raises(InvalidManifest) as info:
        proxied.get_manifest("sample/base", "v1")
    assert str(info.value) == (
        f"registry {faults.host} sent a manifest for sample/base:v1 that is not JSON ('<html>gateway says hi</html>')"
    )


def test_manifest_by_digest_is_verified(proxied: RegistryClient, faults: FaultProxy, sample: Sample) -> None:
    manifest = sample.base.manifest()
    faults.add(Fault(r"manifests/sha256:", "body", body=manifest.raw + b"\n"))
    with pytest.raises(DigestMismatch) as info:
        proxied.get_manifest("sample/base", manifest.digest)
    assert info.value.expected == str(manifest.digest)
    assert info.value.actual == str(Digest.of(manifest.raw + b"\n"))
    # By tag the bytes are what they are: the digest returned is theirs.
    faults.add(Fault(r"manifests/v1$", "body", body=manifest.raw + b"\n"))
    assert proxied.get_manifest("sample/base", "v1").digest == Digest.of(manifest.raw + b"\n")


# --------------------------------------------------------------------------- redirects


@pytest.fixture
def storage_server() -> Iterator[RecordingServer]:
    server = RecordingServer()
    server.start()
    yield server
    server.stop()


def test_redirected_blob_gets_no_credentials(
    token_faults: FaultProxy, storage_server: RecordingServer, fast_retry: RetryPolicy
) -> None:
    data = os.urandom(100_000)
    digest = Digest.of(data)
    repo = "redirect/me"
    with RegistryClient(token_faults.host, credentials=Credentials(*ALICE), retry=fast_retry) as client:
        client.upload_blob(repo, digest, data)
        storage_server.files[f"/v2/{repo}/blobs/{digest}"] = data
        token_faults.add(Fault(rf"^GET /v2/{repo}/blobs/", "redirect", location=storage_server.url))
        assert client.read_blob(repo, digest) == data
    first = token_faults.requests(rf"^GET /v2/{repo}/blobs/")[0]
    assert first.status == 307
    assert first.headers["authorization"].startswith("Bearer ")
    assert [s.path for s in storage_server.seen] == [f"/v2/{repo}/blobs/{digest}"]
    assert "authorization" not in storage_server.seen[0].headers


def test_redirected_blob_with_wrong_bytes_is_caught(
    token_faults: FaultProxy, storage_server: RecordingServer, fast_retry: RetryPolicy
) -> None:
    data = os.urandom(10_000)
    digest = Digest.of(data)
    repo = "redirect/bad"
    with RegistryClient(token_faults.host, credentials=Credentials(*ALICE), retry=fast_retry) as client:
        client.upload_blob(repo, digest, data)
        storage_server.files[f"/v2/{repo}/blobs/{digest}"] = data[::-1]
        token_faults.add(Fault(rf"^GET /v2/{repo}/blobs/", "redirect", location=storage_server.url))
        with pytest.raises(DigestMismatch):
            client.read_blob(repo, digest)


def test_registry_error_is_a_dockyard_error(proxied: RegistryClient, faults: FaultProxy) -> None:
    faults.add(Fault(r"tags/list", "status", status=400, body=b'{"errors":[{"code":"PAGINATION_NUMBER_INVALID"}]}'))
    with pytest.raises(RegistryError) as info:
        proxied.tags("sample/base")
    assert info.value.codes == ("PAGINATION_NUMBER_INVALID",)
    assert str(info.value) == f"registry {faults.host} said PAGINATION_NUMBER_INVALID (400) for sample/base"
