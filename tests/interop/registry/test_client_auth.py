"""Authentication against real Distribution 2.8: htpasswd Basic, and bearer tokens from a JWT token service."""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from pathlib import Path

import pytest
from registry_util import ALICE, BASIC_ALICE, READER, REFRESH_TOKEN, Registry, Sample, TokenServer, http_get

from dockyard.errors import RegistryAuthError
from dockyard.oci.digest import Digest
from dockyard.transport.registry.auth import TokenCache
from dockyard.transport.registry.client import RegistryClient
from dockyard.transport.registry.credentials import Credentials, DockerConfig
from dockyard.transport.registry.retry import RetryPolicy

pytestmark = pytest.mark.interop


def _blob(label: str) -> tuple[bytes, Digest]:
    data = (label * 500).encode()
    return data, Digest.of(data)


# --------------------------------------------------------------------------- Basic (htpasswd)


def test_basic_registry_wants_credentials(basic_registry: Registry, fast_retry: RetryPolicy) -> None:
    status, _ = http_get(f"{basic_registry.url}/v2/")
    assert status == 401
    with RegistryClient(basic_registry.host, retry=fast_retry) as anonymous, pytest.raises(RegistryAuthError) as info:
        anonymous.ping()
    assert str(info.value) == (
        f"registry {basic_registry.host} requires a user name and password and none were found (401) for /v2/"
    )


def test_basic_registry_with_credentials(basic_registry: Registry, fast_retry: RetryPolicy) -> None:
    data, digest = _blob("basic")
    with RegistryClient(basic_registry.host, credentials=Credentials(*BASIC_ALICE), retry=fast_retry) as client:
        assert client.ping() == "registry/2.0"
        client.upload_blob("basic/repo", digest, data)
        assert client.read_blob("basic/repo", digest) == data
    auth = "Basic " + base64.b64encode(":".join(BASIC_ALICE).encode()).decode()
    status, body = http_get(f"{basic_registry.url}/v2/basic/repo/blobs/{digest}", {"Authorization": auth})
    assert (status, body) == (200, data)


def test_basic_registry_wrong_password_is_one_line(basic_registry: Registry, fast_retry: RetryPolicy) -> None:
    creds = Credentials("alice", "nope")
    with RegistryClient(basic_registry.host, credentials=creds, retry=fast_retry) as client:
        with pytest.raises(RegistryAuthError) as info:
            client.get_manifest("basic/repo", "v1")
        # A HEAD answer has no body: the client says what happened.
        with pytest.raises(RegistryAuthError) as head:
            client.blob_exists("basic/repo", Digest.of(b"x"))
    assert str(info.value) == (
        f"registry {basic_registry.host} said UNAUTHORIZED: authentication required (401) for basic/repo:v1"
    )
    assert info.value.status == 401
    assert str(head.value) == (
        f"registry {basic_registry.host} refused the credentials of alice (401)"
        f" for blob {Digest.of(b'x')} in basic/repo"
    )


# --------------------------------------------------------------------------- bearer tokens


def test_anonymous_pull_gets_a_token(
    token_registry: Registry, token_server: TokenServer, token_sample: Sample, fast_retry: RetryPolicy
) -> None:
    with RegistryClient(token_registry.host, retry=fast_retry) as client:
        got = client.get_manifest("sample/base", "v1")
        assert got.digest == token_sample.base.manifest().digest
        assert client.read_blob("sample/base", got_config(got.data)) == token_sample.base.config().raw
    assert [(t.user, t.requested, t.grant) for t in token_server.issued] == [
        (None, ["repository:sample/base:pull"], "anonymous")
    ]


def got_config(manifest: bytes) -> Digest:
    return Digest.parse(json.loads(manifest)["config"]["digest"])


def test_anonymous_push_is_refused(
    token_registry: Registry, token_server: TokenServer, fast_retry: RetryPolicy
) -> None:
    data, digest = _blob("anon-push")
    with RegistryClient(token_registry.host, retry=fast_retry) as client, pytest.raises(RegistryAuthError) as info:
        client.upload_blob("anon/push", digest, data)
    assert info.value.codes == ("UNAUTHORIZED",)
    assert token_server.issued[-1].access == [{"type": "repository", "name": "anon/push", "actions": ["pull"]}]


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
@pytest.mark.parametrize("field", ["token", "access_token"])
def test_push_with_tokens_of_each_kind(
    token_registry: Registry, token_server: TokenServer, fast_retry: RetryPolicy, alg: str, field: str
) -> None:
    token_server.alg = alg
    token_server.token_field = field
    data, digest = _blob(f"push-{alg}-{field}")
    with RegistryClient(token_registry.host, credentials=Credentials(*ALICE), retry=fast_retry) as client:
        client.upload_blob("alice/repo", digest, data)
        assert client.blob_exists("alice/repo", digest) == len(data)
    assert {t.alg for t in token_server.issued} == {alg}
    assert all(t.user == "alice" for t in token_server.issued)


def test_tokens_are_cached_per_scope(
    token_registry: Registry, token_server: TokenServer, token_sample: Sample, fast_retry: RetryPolicy
) -> None:
    with RegistryClient(token_registry.host, credentials=Credentials(*ALICE), retry=fast_retry) as client:
        for _ in range(5):
            client.get_manifest("sample/app", "v1")
            client.head_manifest("sample/app", "v1")
        client.get_manifest("sample/base", "v1")
        client.tags("sample/base")
    requested = [t.requested for t in token_server.issued]
    assert requested == [["repository:sample/app:pull"], ["repository:sample/base:pull"]]


def test_expired_token_is_replaced(
    token_registry: Registry, token_server: TokenServer, token_sample: Sample, fast_retry: RetryPolicy
) -> None:
    token_server.expires_in = 2
    with RegistryClient(token_registry.host, retry=fast_retry) as client:
        client.head_manifest("sample/app", "v1")
        client.head_manifest("sample/app", "v1")
        assert len(token_server.issued) == 1
        time.sleep(2.2)
        assert client.head_manifest("sample/app", "v1") is not None
    assert len(token_server.issued) == 2


def test_shared_token_cache_between_clients(
    token_registry: Registry, token_server: TokenServer, token_sample: Sample, fast_retry: RetryPolicy
) -> None:
    cache = TokenCache()
    for _ in range(3):
        with RegistryClient(token_registry.host, token_cache=cache, retry=fast_retry) as client:
            client.get_manifest("sample/base", "v1")
    assert len(token_server.issued) == 1
    assert len(cache) == 1


def test_wrong_password_at_the_token_service(
    token_registry: Registry, token_server: TokenServer, fast_retry: RetryPolicy
) -> None:
    client = RegistryClient(token_registry.host, credentials=Credentials("alice", "wrong"), retry=fast_retry)
    with client, pytest.raises(RegistryAuthError) as info:
        client.get_manifest("sample/base", "v1")
    assert str(info.value) == (
        f"registry {token_registry.host} token service {token_server.realm} refused the credentials of alice (401)"
        " for repository:sample/base:pull"
    )


def test_reader_cannot_push(token_registry: Registry, token_server: TokenServer, fast_retry: RetryPolicy) -> None:
    data, digest = _blob("reader")
    client = RegistryClient(token_registry.host, credentials=Credentials(*READER), retry=fast_retry)
    with client, pytest.raises(RegistryAuthError):
        client.upload_blob("reader/repo", digest, data)


def test_mount_asks_for_pull_on_the_source(
    token_registry: Registry, token_server: TokenServer, token_sample: Sample, fast_retry: RetryPolicy
) -> None:
    layer = token_sample.app.manifest().layers[-1]
    with RegistryClient(token_registry.host, credentials=Credentials(*ALICE), retry=fast_retry) as client:
        assert client.mount_blob("alice/mounted", layer.digest, "sample/app") is True
        assert client.blob_exists("alice/mounted", layer.digest) == layer.size
    mount_tokens = [t for t in token_server.issued if "repository:sample/app:pull" in t.requested]
    assert mount_tokens and "repository:alice/mounted:pull,push" in mount_tokens[0].requested


def test_reader_mount_falls_back(
    token_registry: Registry, token_server: TokenServer, token_sample: Sample, fast_retry: RetryPolicy
) -> None:
    """A user without push on the target cannot mount: the registry refuses (not a silent 202)."""
    layer = token_sample.app.manifest().layers[-1]
    client = RegistryClient(token_registry.host, credentials=Credentials(*READER), retry=fast_retry)
    with client, pytest.raises(RegistryAuthError):
        client.mount_blob("reader/mounted", layer.digest, "sample/app")


def test_catalog_needs_the_catalog_scope(
    token_registry: Registry, token_server: TokenServer, token_sample: Sample, fast_retry: RetryPolicy
) -> None:
    with RegistryClient(token_registry.host, credentials=Credentials(*ALICE), retry=fast_retry) as client:
        assert {"sample/base", "sample/app"} <= set(client.catalog(page_size=1))
    assert ["registry:catalog:*"] in [t.requested for t in token_server.issued]
    with RegistryClient(token_registry.host, retry=fast_retry) as anonymous, pytest.raises(RegistryAuthError):
        anonymous.catalog()


# --------------------------------------------------------------------------- credentials from config.json


def _config(tmp_path: Path, data: dict[str, object]) -> DockerConfig:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    return DockerConfig(path)


def test_docker_config_auths(
    token_registry: Registry, token_server: TokenServer, tmp_path: Path, fast_retry: RetryPolicy
) -> None:
    auth = base64.b64encode(":".join(ALICE).encode()).decode()
    config = _config(tmp_path, {"auths": {f"http://{token_registry.host}": {"auth": auth}}})
    data, digest = _blob("config-auths")
    with RegistryClient(token_registry.host, credentials=config, retry=fast_retry) as client:
        client.upload_blob("cfg/repo", digest, data)
    assert {t.user for t in token_server.issued} == {"alice"}


def test_identity_token_uses_the_oauth2_refresh_grant(
    token_registry: Registry, token_server: TokenServer, tmp_path: Path, fast_retry: RetryPolicy
) -> None:
    config = _config(tmp_path, {"auths": {token_registry.host: {"identitytoken": REFRESH_TOKEN}}})
    data, digest = _blob("identity-token")
    with RegistryClient(token_registry.host, credentials=config, retry=fast_retry) as client:
        client.upload_blob("idtoken/repo", digest, data)
    assert {(t.user, t.grant) for t in token_server.issued} == {("alice", "refresh_token")}


def test_credential_helper(
    token_registry: Registry,
    token_server: TokenServer,
    tmp_path: Path,
    fast_retry: RetryPolicy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "helper.log"
    helper = bindir / "docker-credential-dockyardtest"
    helper.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "url = sys.stdin.read().strip()\n"
        f"open({os.fspath(log)!r}, 'a').write(sys.argv[1] + ' ' + url + '\\n')\n"
        f"print(json.dumps({{'ServerURL': url, 'Username': {ALICE[0]!r}, 'Secret': {ALICE[1]!r}}}))\n"
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    config = _config(tmp_path, {"credHelpers": {token_registry.host: "dockyardtest"}})
    data, digest = _blob("helper")
    with RegistryClient(token_registry.host, credentials=config, retry=fast_retry) as client:
        client.upload_blob("helper/repo", digest, data)
        client.blob_exists("helper/other", digest)
    assert log.read_text() == f"get {token_registry.host}\n"  # asked once per client
    assert {t.user for t in token_server.issued} == {"alice"}
