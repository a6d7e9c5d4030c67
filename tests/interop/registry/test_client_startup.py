"""A plain-HTTP registry gets no TLS set-up (no CA certificates read), yet an ``https://`` redirect from it is
still verified: the certificate of a storage host that is not trusted is refused."""

from __future__ import annotations

import datetime
import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from registry_util import Fault, FaultProxy, Registry, Sample

from dockyard.errors import RegistryUnavailable
from dockyard.oci.digest import Digest
from dockyard.transport.registry.client import RegistryClient
from dockyard.transport.registry.retry import RetryPolicy

pytestmark = pytest.mark.interop


def test_plain_http_registry_reads_no_ca_certificates(
    registry: Registry, sample: Sample, fast_retry: RetryPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded: list[Any] = []
    original = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loaded.append(args or kwargs)
        original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    with RegistryClient(registry.host, retry=fast_retry) as client:
        got = client.get_manifest("sample/base", "v1")
        layer = sample.base.manifest().layers[0]
        assert client.read_blob("sample/base", layer.digest, layer.size)
    assert got.digest == sample.base.manifest().digest
    assert loaded == []  # httpx.Client() alone reads certifi's CA bundle (~20 ms)


class _Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"hi")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def untrusted_https(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate nobody trusts: (base URL, paths served)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    server.daemon_threads = True
    server.seen = []  # type: ignore[attr-defined]
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", server.seen  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_https_redirect_from_a_plain_registry_is_still_verified(
    faults: FaultProxy, untrusted_https: tuple[str, list[str]], fast_retry: RetryPolicy
) -> None:
    url, seen = untrusted_https
    data = b"redirected to an untrusted host"
    digest = Digest.of(data)
    with RegistryClient(faults.host, retry=fast_retry) as client:
        client.upload_blob("startup/blob", digest, data)
        faults.add(Fault(r"^GET /v2/startup/blob/blobs/", "redirect", location=url, times=100))
        with pytest.raises(RegistryUnavailable) as info:
            client.read_blob("startup/blob", digest)
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    assert seen == []  # nothing was asked of the untrusted host
