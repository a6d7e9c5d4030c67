"""What a registry (or a token service) cannot make dockyard do: leak credentials, hold endless answers,
pull the wrong platform."""

from __future__ import annotations

import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from registry_util import ALICE, Fault, FaultProxy, RecordingServer, Registry, Sample, push_image, unique_image

from dockyard.errors import RegistryAuthError, RegistryError, SizeMismatch
from dockyard.oci.digest import Digest
from dockyard.transport.registry.auth import Authenticator, Challenge
from dockyard.transport.registry.client import RegistryClient
from dockyard.transport.registry.credentials import Credentials, StaticCredentials
from dockyard.transport.registry.retry import RetryPolicy

pytestmark = pytest.mark.interop


@pytest.fixture
def recorder() -> Iterator[RecordingServer]:
    server = RecordingServer()
    server.start()
    yield server
    server.stop()


def test_next_page_on_another_host_gets_no_credentials(
    token_faults: FaultProxy, token_sample: Sample, recorder: RecordingServer, fast_retry: RetryPolicy
) -> None:
    recorder.files["/elsewhere/tags"] = json.dumps({"name": "sample/app", "tags": ["stolen"]}).encode()
    with RegistryClient(token_faults.host, credentials=Credentials(*ALICE), retry=fast_retry) as client:
        assert "v1" in client.tags("sample/app")  # authenticated: the client holds a token now
        token_faults.add(
            Fault(
                r"^GET /v2/sample/app/tags/list",
                "status",
                status=200,
                body=json.dumps({"name": "sample/app", "tags": ["v1"]}).encode(),
                headers={"Link": f'<{recorder.url}/elsewhere/tags>; rel="next"'},
            )
        )
        assert client.tags("sample/app") == ["v1", "stolen"]
    faulted = token_faults.requests(r"^GET /v2/sample/app/tags/list")[-1]
    assert faulted.headers["authorization"].startswith("Bearer ")  # the registry itself gets the token
    assert [s.path for s in recorder.seen] == ["/elsewhere/tags"]
    assert "authorization" not in recorder.seen[0].headers  # the other host never does


class _HostileRegistry(http.server.ThreadingHTTPServer):
    """A registry whose token service redirects the credentials request to another host."""

    def __init__(self, steal_to: str) -> None:
        super().__init__(("127.0.0.1", 0), _HostileHandler)
        self.steal_to = steal_to
        self.daemon_threads = True

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class _HostileHandler(http.server.BaseHTTPRequestHandler):
    server: _HostileRegistry

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/token"):
            self.send_response(302)
            self.send_header("Location", f"{self.server.steal_to}/steal")
        else:
            self.send_response(401)
            self.send_header("WWW-Authenticate", f'Bearer realm="http://{self.server.host}/token",service="evil"')
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_token_service_redirect_does_not_carry_the_password(recorder: RecordingServer, fast_retry: RetryPolicy) -> None:
    hostile = _HostileRegistry(recorder.url)
    thread = threading.Thread(target=hostile.serve_forever, daemon=True)
    thread.start()
    try:
        client = RegistryClient(hostile.host, credentials=Credentials("user", "secret"), retry=fast_retry)
        with client, pytest.raises(RegistryError):
            client.ping()
    finally:
        hostile.shutdown()
    assert [s.path for s in recorder.seen] == ["/steal"]  # the redirect was followed...
    assert "authorization" not in recorder.seen[0].headers  # ...without the Basic credentials


def test_plain_http_token_service_is_refused_for_an_https_registry() -> None:
    auth = Authenticator(
        "registry.example",
        StaticCredentials(Credentials("u", "p")),
        lambda *a: None,
        plain_http=False,  # type: ignore[arg-type, return-value]
    )
    with pytest.raises(RegistryAuthError, match="token service that is not HTTPS"):
        auth._check_realm("http://auth.example/token")
    auth._check_realm("https://auth.example/token")
    auth._check_realm("http://127.0.0.1:5001/token")  # on this machine
    insecure = Authenticator("reg.lan:5000", None, lambda *a: None, plain_http=True)  # type: ignore[arg-type, return-value]
    insecure._check_realm("http://auth.lan/token")  # the user chose plain HTTP for this registry
    assert Challenge  # the challenge type the realm comes from


def test_blob_bigger_than_its_descriptor_is_cut_off(
    faults: FaultProxy, fast_retry: RetryPolicy, registry: Registry
) -> None:
    data = os.urandom(50_000)
    digest = Digest.of(data)
    with RegistryClient(faults.host, retry=fast_retry) as client:
        client.upload_blob("cap/blob", digest, data)
        faults.add(Fault(r"^GET /v2/cap/blob/blobs/", "body", body=data + os.urandom(10_000_000)))
        with pytest.raises(SizeMismatch), client.open_blob("cap/blob", digest, size=len(data)) as stream:
            stream.read()
        huge = b"{" + b" " * (5 << 20) + b"}"  # a 5 MiB "manifest": more than anyone holds in memory
        faults.add(Fault(r"^GET /v2/cap/blob/manifests/", "status", status=200, body=huge))
        with pytest.raises(RegistryError, match="sent more than"):
            client.get_manifest("cap/blob", "v1")


def test_pull_of_a_single_platform_image_checks_the_platform(cli: Any, registry: Registry, dockyard_root: Path) -> None:
    image = unique_image("amd64-only", "linux/amd64")
    with RegistryClient(registry.host) as client:
        push_image(client, "one/amd", image, "v1")
    name = f"{registry.host}/one/amd:v1"
    res = cli("pull", "--platform", "linux/arm64", name, check=False)
    assert res.returncode == 1
    assert "does not match the specified platform: wanted linux/arm64, actual: linux/amd64" in res.stderr
    assert cli("images", "-q").stdout == ""
    cli("pull", "--platform", "linux/amd64", name)
    cli("pull", name)  # no platform asked: the image is taken as it is, as Docker does


def test_copy_from_a_registry_into_the_store_records_the_digest(cli: Any, registry: Registry, sample: Sample) -> None:
    cli("copy", f"docker://{registry.host}/sample/base:v1", "copied/base:1")
    doc = json.loads(cli("inspect", "copied/base:1").stdout)[0]
    assert doc["RepoDigests"] == [f"{registry.host}/sample/base@{sample.base.manifest().digest}"]
