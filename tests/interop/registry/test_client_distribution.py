"""RegistryClient against a real CNCF Distribution 2.8 (anonymous): manifests, blobs, uploads, mounts, listings.

What the client pushes is checked with skopeo or plain urllib; what skopeo pushed is read by the client.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from registry_util import Fault, FaultProxy, Registry, Sample, http_get, skopeo_copy, skopeo_inspect

from dockyard.errors import InvalidReference, RegistryError, RegistryNotFound
from dockyard.oci import mediatype
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Manifest
from dockyard.transport.registry.client import RegistryClient
from dockyard.transport.registry.retry import RetryPolicy

pytestmark = pytest.mark.interop


@pytest.fixture
def client(registry: Registry, fast_retry: RetryPolicy) -> Iterator[RegistryClient]:
    with RegistryClient(registry.host, retry=fast_retry) as c:
        yield c


def _blob(label: str, size: int = 4096) -> tuple[bytes, Digest]:
    data = (label.encode() * (size // max(1, len(label)) + 1))[:size]
    return data, Digest.of(data)


def _index(*children: tuple[str, Digest, int, str], media_type: str = mediatype.OCI_INDEX) -> bytes:
    manifests = [
        {"mediaType": mt, "digest": str(d), "size": s, "platform": {"os": "linux", "architecture": arch}}
        for mt, d, s, arch in children
    ]
    return json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": manifests}).encode()


# --------------------------------------------------------------------------- manifests


def test_ping_reports_the_api_version(client: RegistryClient) -> None:
    assert client.ping() == "registry/2.0"
    assert client.endpoint.base_url.startswith("http://127.0.0.1:")


def test_get_manifest_returns_the_bytes_skopeo_pushed(client: RegistryClient, sample: Sample) -> None:
    got = client.get_manifest("sample/base", "v1")
    expected = sample.base.manifest()
    assert got.media_type == mediatype.OCI_MANIFEST
    assert got.data == expected.raw  # skopeo copies an OCI manifest byte for byte
    assert got.digest == expected.digest == Digest.of(got.data)
    assert Manifest.parse(got.data, got.media_type).layers == expected.layers
    by_digest = client.get_manifest("sample/base", got.digest)
    assert by_digest == got
    raw = skopeo_inspect(f"docker://{client.host}/sample/base:v1", raw=True)
    assert raw == json.loads(got.data)


def test_head_manifest_matches_get(client: RegistryClient, sample: Sample) -> None:
    desc = client.head_manifest("sample/app", "v1")
    assert desc is not None
    assert desc.digest == sample.app.manifest().digest
    assert desc.size == len(sample.app.manifest().raw)
    assert desc.media_type == mediatype.OCI_MANIFEST
    assert client.head_manifest("sample/app", "no-such-tag") is None


def test_missing_manifest_is_one_clear_line(client: RegistryClient, sample: Sample) -> None:
    with pytest.raises(RegistryNotFound) as info:
        client.get_manifest("sample/base", "nope")
    err = info.value
    assert err.codes == ("MANIFEST_UNKNOWN",)
    assert err.status == 404
    assert str(err) == f"registry {client.host} said MANIFEST_UNKNOWN: manifest unknown (404) for sample/base:nope"
    assert isinstance(err, LookupError)
    with pytest.raises(RegistryNotFound) as unknown_repo:
        client.tags("never/pushed")
    assert unknown_repo.value.codes == ("NAME_UNKNOWN",)


def test_push_image_with_client_then_skopeo_reads_it(client: RegistryClient, sample: Sample) -> None:
    image = sample.app
    manifest = image.manifest()
    repo = "pushed/by-dockyard"
    for layer in image.layers():
        desc = layer.descriptor()
        with layer.open() as stream:
            client.upload_blob(repo, desc.digest, stream, desc.size)
    config = image.config()
    client.upload_blob(repo, config.digest, config.raw)
    digest = client.put_manifest(repo, "v1", manifest.raw, manifest.media_type)
    assert digest == manifest.digest
    inspected = skopeo_inspect(f"docker://{client.host}/{repo}:v1")
    assert inspected["Digest"] == str(manifest.digest)
    assert inspected["Layers"] == [str(d.digest) for d in manifest.layers]
    assert client.tags(repo) == ["v1"]


def test_put_manifest_by_digest_and_delete(client: RegistryClient, sample: Sample) -> None:
    manifest = sample.base.manifest()
    repo = "sample/base"  # blobs are there already
    assert client.put_manifest(repo, manifest.digest, manifest.raw, manifest.media_type) == manifest.digest
    client.put_manifest(repo, "to-delete", manifest.raw, manifest.media_type)
    # Delete a copy in its own repository so the shared sample stays.
    other = "sample/deletable"
    for desc in (*manifest.layers, manifest.config):
        assert client.mount_blob(other, desc.digest, repo)
    client.put_manifest(other, "t", manifest.raw, manifest.media_type)
    client.delete_manifest(other, manifest.digest)
    with pytest.raises(RegistryNotFound):
        client.get_manifest(other, manifest.digest)
    assert client.head_manifest(other, "t") is None
    assert client.get_manifest(repo, manifest.digest).digest == manifest.digest


def test_oci_index_negotiation(client: RegistryClient, sample: Sample) -> None:
    base, app = sample.base.manifest(), sample.app.manifest()
    repo = "sample/app"
    client.mount_blob(repo, base.config.digest, "sample/base")
    client.put_manifest(repo, base.digest, base.raw, base.media_type)
    index = _index((base.media_type, base.digest, base.size, "amd64"), (app.media_type, app.digest, app.size, "arm64"))
    index_digest = client.put_manifest(repo, "multi", index, mediatype.OCI_INDEX)
    got = client.get_manifest(repo, "multi")
    assert (got.data, got.media_type, got.digest) == (index, mediatype.OCI_INDEX, index_digest)
    # Distribution 2.8: an OCI index is not served unless its type is accepted.
    with pytest.raises(RegistryNotFound):
        client.get_manifest(repo, "multi", accept=[mediatype.OCI_MANIFEST])
    head = client.head_manifest(repo, "multi")
    assert head is not None and head.media_type == mediatype.OCI_INDEX and head.digest == index_digest


def test_docker_manifest_list_quirk(client: RegistryClient, sample: Sample) -> None:
    """A Docker list asked for with only the Docker manifest type comes back as its amd64 child."""
    repo = "sample/docker"
    skopeo_copy(f"oci:{sample.layout}:base", f"docker://{client.host}/{repo}:v2s2", "--format", "v2s2")
    child = client.get_manifest(repo, "v2s2")
    assert child.media_type == mediatype.DOCKER_MANIFEST
    listing = _index(
        (child.media_type, child.digest, len(child.data), "amd64"), media_type=mediatype.DOCKER_MANIFEST_LIST
    )
    list_digest = client.put_manifest(repo, "list", listing, mediatype.DOCKER_MANIFEST_LIST)
    assert client.get_manifest(repo, "list").digest == list_digest
    only_manifest = client.get_manifest(repo, "list", accept=[mediatype.DOCKER_MANIFEST])
    assert only_manifest.digest == child.digest
    assert only_manifest.media_type == mediatype.DOCKER_MANIFEST


def test_bad_names_are_refused_before_any_request(client: RegistryClient) -> None:
    with pytest.raises(InvalidReference):
        client.get_manifest("Upper/Case", "v1")
    with pytest.raises(InvalidReference):
        client.get_manifest("ok/name", "bad tag")
    with pytest.raises(InvalidReference):
        client.blob_exists("ok/name", "sha256:short")


# --------------------------------------------------------------------------- blobs


def test_blob_exists_and_read_with_offsets(client: RegistryClient, sample: Sample) -> None:
    layer = sample.base.layers()[0]
    desc = layer.descriptor()
    with layer.open() as f:
        content = f.read()
    assert client.blob_exists("sample/base", desc.digest) == desc.size == len(content)
    assert client.blob_exists("sample/base", Digest.of(b"absent")) is None
    assert client.read_blob("sample/base", desc.digest) == content
    with client.open_blob("sample/base", desc.digest, offset=100) as stream:
        assert stream.read() == content[100:]
        assert stream.size == len(content)
    config = sample.base.config()
    assert client.read_blob("sample/base", config.digest) == config.raw


def test_upload_monolithic_stream_and_chunked(client: RegistryClient) -> None:
    repo = "uploads/test"
    small, small_digest = _blob("small")
    assert client.upload_blob(repo, small_digest, small) == small_digest
    big = os.urandom(3 * 1024 * 1024 + 17)
    big_digest = Digest.of(big)
    client.upload_blob(repo, big_digest, io.BytesIO(big), len(big))
    chunked, chunked_digest = _blob("chunky", 250_001)
    client.upload_blob(repo, chunked_digest, io.BytesIO(chunked), len(chunked), chunk_size=64 * 1024)
    for data, digest in ((small, small_digest), (big, big_digest), (chunked, chunked_digest)):
        status, body = http_get(f"http://{client.host}/v2/{repo}/blobs/{digest}")
        assert status == 200
        assert hashlib.sha256(body).hexdigest() == digest.hex
        assert client.blob_exists(repo, digest) == len(data)


def test_upload_with_wrong_digest_is_refused(client: RegistryClient) -> None:
    data, _ = _blob("mismatch")
    wrong = Digest.of(b"something else")
    with pytest.raises(RegistryError) as info:
        client.upload_blob("uploads/test", wrong, data)
    assert "DIGEST_INVALID" in info.value.codes
    assert info.value.status == 400
    assert client.blob_exists("uploads/test", wrong) is None


def test_upload_follows_relative_and_absolute_locations(client: RegistryClient, faults: FaultProxy) -> None:
    """Distribution sends absolute Locations; the proxy makes them relative (path and query only)."""
    faults.add(Fault(r"^(POST|PATCH) /v2/uploads/relative/", "relative", times=10))
    data, digest = _blob("relative", 70_000)
    with RegistryClient(faults.host, retry=client.session.retry) as proxied:
        proxied.upload_blob("uploads/relative", digest, data, chunk_size=30_000)
    posts = faults.requests(r"^(POST|PATCH|PUT) /v2/uploads/relative/")
    assert [s.method for s in posts] == ["POST", "PATCH", "PATCH", "PATCH", "PUT"]
    assert client.blob_exists("uploads/relative", digest) == len(data)


def test_mount_blob(client: RegistryClient, sample: Sample) -> None:
    layer = sample.app.manifest().layers[-1]
    assert client.blob_exists("mounts/target", layer.digest) is None
    assert client.mount_blob("mounts/target", layer.digest, "sample/app") is True
    assert client.blob_exists("mounts/target", layer.digest) == layer.size
    # Not in the source repository: Distribution opens an upload instead (202); the client cancels it.
    assert client.mount_blob("mounts/target", Digest.of(b"never uploaded"), "sample/app") is False


def test_three_threads_download_through_one_client(client: RegistryClient) -> None:
    repo = "concurrent/blobs"
    blobs = [os.urandom(512 * 1024 + i) for i in range(6)]
    for data in blobs:
        client.upload_blob(repo, Digest.of(data), data)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def fetch(data: bytes) -> bool:
        try:
            with client.open_blob(repo, Digest.of(data)) as stream:
                return stream.read() == data
        except BaseException as exc:  # pragma: no cover - reported below
            with lock:
                errors.append(exc)
            raise

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(fetch, blobs * 2))
    assert not errors
    assert results == [True] * len(blobs) * 2


# --------------------------------------------------------------------------- listings


def test_tags_and_catalog_pagination(client: RegistryClient, sample: Sample, faults: FaultProxy) -> None:
    manifest = sample.base.manifest()
    tags = [f"t{i}" for i in range(7)]
    for tag in tags:
        client.put_manifest("sample/base", tag, manifest.raw, manifest.media_type)
    listed = client.tags("sample/base")
    assert set(tags) | {"v1"} <= set(listed)
    assert len(listed) == len(set(listed))
    with RegistryClient(faults.host, retry=client.session.retry) as proxied:
        full = proxied.catalog()
        paged = proxied.catalog(page_size=2)
    assert paged == full
    assert {"sample/base", "sample/app"} <= set(full)
    pages = faults.requests(r"^GET /v2/_catalog\?")
    assert len(pages) >= len(full) // 2  # every page fetched, each via Link: rel="next"
    assert any("last=" in s.path for s in pages)
