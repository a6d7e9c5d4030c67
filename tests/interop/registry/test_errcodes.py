"""The registry error-code table (:mod:`dockyard.oci.errcodes`) against what a real Distribution 2.8 sends.

Each request below makes the reference registry answer one error code (plain urllib, no dockyard code);
the table must give the same default status and the same message, byte for byte, and the client must raise
the class the table names.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from registry_util import Registry

from dockyard.errors import RegistryError, RegistryNotFound, RegistryRejected
from dockyard.oci import errcodes, mediatype
from dockyard.oci.digest import Digest
from dockyard.transport.registry.client import RegistryClient
from dockyard.transport.registry.retry import RetryPolicy

pytestmark = pytest.mark.interop

REPO = "errcodes/repo"


def _call(
    base: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    url = path if path.startswith("http") else base + path
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _answers(registry: Registry) -> Iterator[tuple[str, int, bytes]]:
    """``(what was asked, status, body)`` of requests that each make Distribution answer an error code."""
    base = registry.url
    data = b"errcodes blob"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    octets = {"Content-Type": "application/octet-stream"}
    _, headers, _ = _call(base, "POST", f"/v2/{REPO}/blobs/uploads/")
    assert _call(base, "PUT", f"{headers['Location']}&digest={digest}", data, octets)[0] == 201
    yield "unknown tag", *_call(base, "GET", f"/v2/{REPO}/manifests/nope")[::2]
    yield "unknown repository", *_call(base, "GET", "/v2/errcodes/none/tags/list")[::2]
    yield "unknown blob", *_call(base, "GET", f"/v2/{REPO}/blobs/sha256:{'0' * 64}")[::2]
    yield "upload without state", *_call(base, "GET", f"/v2/{REPO}/blobs/uploads/abc")[::2]
    manifest = {"Content-Type": mediatype.OCI_MANIFEST}
    yield "manifest not JSON", *_call(base, "PUT", f"/v2/{REPO}/manifests/t", b"{not json", manifest)[::2]
    missing = {
        "schemaVersion": 2,
        "mediaType": mediatype.OCI_MANIFEST,
        "config": {"mediaType": mediatype.OCI_CONFIG, "digest": "sha256:" + "1" * 64, "size": 3},
        "layers": [],
    }
    yield (
        "manifest of a missing blob",
        *_call(base, "PUT", f"/v2/{REPO}/manifests/t", json.dumps(missing).encode(), manifest)[::2],
    )
    _, headers, _ = _call(base, "POST", f"/v2/{REPO}/blobs/uploads/")
    location = headers["Location"]
    yield "wrong digest", *_call(base, "PUT", f"{location}&digest=sha256:{'2' * 64}", b"xyz", octets)[::2]
    _, headers, _ = _call(base, "POST", f"/v2/{REPO}/blobs/uploads/")
    assert _call(base, "DELETE", headers["Location"])[0] == 204
    yield "cancelled upload", *_call(base, "GET", headers["Location"])[::2]


def test_distribution_sends_what_the_table_says(registry: Registry, token_registry: Registry) -> None:
    seen: dict[str, int] = {}
    answers = [*_answers(registry), ("anonymous on a token registry", *_call(token_registry.url, "GET", "/v2/")[::2])]
    for what, status, body in answers:
        errors = json.loads(body)["errors"]
        assert len(errors) == 1, what
        code, message = errors[0]["code"], errors[0]["message"]
        entry = errcodes.lookup(code)
        assert entry is not None, f"{what}: {code} is not in the table"
        assert (entry.status, entry.message) == (status, message), what
        seen[code] = status
    assert set(seen) == {
        "MANIFEST_UNKNOWN",
        "NAME_UNKNOWN",
        "BLOB_UNKNOWN",
        "BLOB_UPLOAD_INVALID",
        "MANIFEST_INVALID",
        "MANIFEST_BLOB_UNKNOWN",
        "DIGEST_INVALID",
        "BLOB_UPLOAD_UNKNOWN",
        "UNAUTHORIZED",
    }


@pytest.fixture
def client(registry: Registry, fast_retry: RetryPolicy) -> Iterator[RegistryClient]:
    with RegistryClient(registry.host, retry=fast_retry) as c:
        yield c


def test_client_raises_the_class_of_the_table(client: RegistryClient) -> None:
    data = b"class of the table"
    digest = Digest.of(data)
    with pytest.raises(RegistryRejected) as wrong:
        client.upload_blob(REPO, Digest.of(b"something else"), data)
    assert wrong.value.codes == ("DIGEST_INVALID",) and wrong.value.status == 400
    client.upload_blob(REPO, digest, data)
    manifest = {
        "schemaVersion": 2,
        "mediaType": mediatype.OCI_MANIFEST,
        "config": {"mediaType": mediatype.OCI_CONFIG, "digest": "sha256:" + "3" * 64, "size": 3},
        "layers": [{"mediaType": mediatype.OCI_LAYER_GZIP, "digest": str(digest), "size": len(data)}],
    }
    with pytest.raises(RegistryRejected) as missing:
        client.put_manifest(REPO, "t", json.dumps(manifest).encode(), mediatype.OCI_MANIFEST)
    assert missing.value.codes == ("MANIFEST_BLOB_UNKNOWN",)
    with pytest.raises(RegistryNotFound) as unknown:
        client.read_blob(REPO, Digest.of(b"never uploaded"))
    assert unknown.value.codes == ("BLOB_UNKNOWN",)
    assert isinstance(unknown.value, RegistryError)
