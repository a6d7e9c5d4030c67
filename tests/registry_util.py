"""A real CNCF Distribution registry for tests, with the servers around it.

* :class:`Registry` runs ``docker-registry serve`` (Distribution 2.8) on a free 127.0.0.1 port,
  with a temporary config: anonymous, Basic (htpasswd, bcrypt) or bearer tokens.
* :class:`TokenServer` is a token service in the test process (stdlib ``http.server`` in a
  thread) that issues JWTs signed ES256 or RS256 with ``cryptography``; its certificates go in
  ``auth.token.rootcertbundle`` and travel in each token's ``x5c`` header. Distribution checks
  ``iss``, ``aud`` (its ``auth.token.service``), ``exp``, ``nbf`` and the ``access`` claim.
* :class:`FaultProxy` sits in front of a real registry and forwards every request, except
  those a :class:`Fault` picks: answer 429/5xx, reset the connection, cut a body short,
  replace a body, redirect. It records what it saw.
* :class:`RecordingServer` serves fixed bodies and records the headers it receives (the far
  end of a redirect).

Everything listens on 127.0.0.1 only and is stopped by the fixture that started it.
"""

from __future__ import annotations

import base64
import datetime
import http.client
import http.server
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

REGISTRY_BINARY = "docker-registry"
SERVICE = "dockyard-test-registry"
ISSUER = "dockyard-test-token-issuer"

#: The users of the test registries.
ALICE = ("alice", "s3cret")  # token service: pull, push, delete, catalog
READER = ("reader", "r3ad")  # token service: pull only
BASIC_ALICE = ("alice", "wonderland")  # htpasswd
REFRESH_TOKEN = "refresh-alice"  # an identity token (OAuth2 refresh token) of alice


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --------------------------------------------------------------------------- the registry


class _OnLoopback:
    port: int

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"


@dataclass
class Registry(_OnLoopback):
    """A running ``docker-registry``: ``host`` is ``127.0.0.1:PORT``."""

    root: Path
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    auth: str  # "none", "htpasswd" or "token"
    users: dict[str, str] = field(default_factory=dict)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_registry(
    workdir: Path,
    *,
    binary: str,
    htpasswd: dict[str, str] | None = None,
    token: TokenServer | None = None,
) -> Registry:
    """Start Distribution in ``workdir`` (storage, config and log live there)."""
    workdir.mkdir(parents=True, exist_ok=True)
    storage = workdir / "storage"
    storage.mkdir(exist_ok=True)
    config: dict[str, Any] = {
        "version": "0.1",
        "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": os.fspath(storage)},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {"addr": "", "secret": secrets.token_hex(16)},
        "health": {"storagedriver": {"enabled": False}},
    }
    auth = "none"
    if htpasswd is not None:
        path = workdir / "htpasswd"
        path.write_text(
            "".join(
                f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=5)).decode()}\n" for u, p in htpasswd.items()
            )
        )
        config["auth"] = {"htpasswd": {"realm": "dockyard-test", "path": os.fspath(path)}}
        auth = "htpasswd"
    elif token is not None:
        config["auth"] = {
            "token": {
                "realm": token.realm,
                "service": token.service,
                "issuer": token.issuer,
                "rootcertbundle": os.fspath(token.bundle),
            }
        }
        auth = "token"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    last_log = ""
    for _ in range(5):  # the free port may be taken between probing and binding: try another
        port = free_port()
        config["http"]["addr"] = f"127.0.0.1:{port}"
        config_path = workdir / "config.yml"
        config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        log = workdir / f"registry-{port}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [binary, "serve", os.fspath(config_path)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        registry = Registry(storage, port, proc, log, auth, dict(htpasswd or {}))
        if _wait_ready(registry):
            return registry
        registry.stop()
        last_log = registry.log_text()
    raise RuntimeError(f"docker-registry did not start; its log:\n{last_log[-3000:]}")


def _wait_ready(registry: Registry, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if registry.process.poll() is not None:
            return False
        try:
            conn = http.client.HTTPConnection("127.0.0.1", registry.port, timeout=2)
            conn.request("GET", "/v2/")
            status = conn.getresponse().status
            conn.close()
            if status in (200, 401):
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


# --------------------------------------------------------------------------- small HTTP servers


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _ThreadedServer(_OnLoopback):
    """An ``http.server`` on a free 127.0.0.1 port, served from a daemon thread."""

    handler: type[http.server.BaseHTTPRequestHandler]

    def __init__(self) -> None:
        self.server = _Server(("127.0.0.1", 0), self.handler)
        self.server.owner = self  # type: ignore[attr-defined]
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def owner(self) -> Any:
        return self.server.owner  # type: ignore[attr-defined]

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        sent = {k.lower() for k in (headers or {})}
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if "content-length" not in sent:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


# --------------------------------------------------------------------------- token server


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _self_signed(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, name: str) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


@dataclass(frozen=True)
class Sample:
    """The sample images (``dockyard.image.sample``) and the OCI layout dockyard wrote them to."""

    base: Any
    app: Any
    layout: Path


@dataclass
class IssuedToken:
    user: str | None
    requested: list[str]
    access: list[dict[str, Any]]
    alg: str
    grant: str  # "basic", "anonymous" or "refresh_token"


class TokenServer(_ThreadedServer):
    """Docker's token service: ``GET /token?service=&scope=`` (Basic or anonymous) and ``POST /token``
    (OAuth2 ``refresh_token``).

    Policy: ``users`` get ``full_users`` rights (pull, push, delete, the catalog) when listed
    there, else pull only; anonymous callers get pull. ``alg`` (``ES256``/``RS256``),
    ``expires_in`` and ``token_field`` (``token``, ``access_token`` or ``both``) may be changed
    by a test. ``issued`` records every token given out.
    """

    def __init__(self, workdir: Path, users: dict[str, str], full_users: set[str], refresh_tokens: dict[str, str]):
        self.handler = _TokenHandler
        super().__init__()
        self.service = SERVICE
        self.issuer = ISSUER
        self.users = users
        self.full_users = full_users
        self.refresh_tokens = refresh_tokens
        self.alg = "ES256"
        self.expires_in: int | None = 300
        self.token_field = "token"
        self.issued: list[IssuedToken] = []
        self.lock = threading.Lock()
        self.ec_key = ec.generate_private_key(ec.SECP256R1())
        self.rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec_cert = _self_signed(self.ec_key, "dockyard test token signer (EC)")
        self.rsa_cert = _self_signed(self.rsa_key, "dockyard test token signer (RSA)")
        workdir.mkdir(parents=True, exist_ok=True)
        self.bundle = workdir / "token-certs.pem"
        self.bundle.write_bytes(
            self.ec_cert.public_bytes(serialization.Encoding.PEM)
            + self.rsa_cert.public_bytes(serialization.Encoding.PEM)
        )

    @property
    def realm(self) -> str:
        return f"{self.url}/token"

    def reset(self) -> None:
        with self.lock:
            self.issued.clear()
        self.alg = "ES256"
        self.expires_in = 300
        self.token_field = "token"

    def grants(self, user: str | None, scope: str) -> dict[str, Any] | None:
        kind, _, rest = scope.partition(":")
        name, _, actions_text = rest.rpartition(":")
        requested = [a for a in actions_text.split(",") if a]
        if user in self.full_users:
            allowed = {"pull", "push", "delete", "*"}
        elif kind == "repository":
            allowed = {"pull"}
        else:
            allowed = set()
        actions = [a for a in requested if a in allowed]
        return {"type": kind, "name": name, "actions": actions} if kind and name else None

    def make_jwt(self, user: str | None, access: list[dict[str, Any]]) -> str:
        now = int(time.time())
        cert = self.ec_cert if self.alg == "ES256" else self.rsa_cert
        header = {
            "typ": "JWT",
            "alg": self.alg,
            "x5c": [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")],
        }
        claims = {
            "iss": self.issuer,
            "sub": user or "",
            "aud": self.service,
            "exp": now + (self.expires_in or 60),
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}".encode()
        if self.alg == "ES256":
            der = self.ec_key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
            r, s = decode_dss_signature(der)
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        else:
            signature = self.rsa_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return signing_input.decode("ascii") + "." + _b64url(signature)

    def answer(self, user: str | None, scopes: list[str], grant: str) -> dict[str, Any]:
        access = [g for g in (self.grants(user, s) for s in scopes) if g is not None]
        jwt = self.make_jwt(user, access)
        with self.lock:
            self.issued.append(IssuedToken(user, scopes, access, self.alg, grant))
        body: dict[str, Any] = {"issued_at": datetime.datetime.now(datetime.UTC).isoformat()}
        if self.token_field in ("token", "both"):
            body["token"] = jwt
        if self.token_field in ("access_token", "both"):
            body["access_token"] = jwt
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return body


class _TokenHandler(_Handler):
    def do_GET(self) -> None:
        owner: TokenServer = self.owner
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        if query.get("service") != [owner.service]:
            self.reply(400, b'{"details":"wrong service"}')
            return
        user: str | None = None
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            name, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if owner.users.get(name) != password:
                self.reply(401, b'{"details":"incorrect username or password"}', {"Content-Type": "application/json"})
                return
            user = name
        scopes = [s for value in query.get("scope", []) for s in value.split(" ") if s]
        body = owner.answer(user, scopes, "basic" if user else "anonymous")
        self.reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

    def do_POST(self) -> None:
        owner: TokenServer = self.owner
        form = urllib.parse.parse_qs(self.read_body().decode())
        if form.get("grant_type") != ["refresh_token"] or form.get("service") != [owner.service]:
            self.reply(400, b'{"error":"unsupported_grant_type"}')
            return
        user = owner.refresh_tokens.get((form.get("refresh_token") or [""])[0])
        if user is None:
            self.reply(401, b'{"error":"invalid_grant"}', {"Content-Type": "application/json"})
            return
        scopes = [s for value in form.get("scope", []) for s in value.split(" ") if s]
        body = owner.answer(user, scopes, "refresh_token")
        body.setdefault("access_token", body.get("token"))
        body.pop("token", None)
        self.reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"})


# --------------------------------------------------------------------------- fault proxy


@dataclass
class Fault:
    """What to do to the requests whose ``"METHOD /path?query"`` matches ``match`` (a regex), ``times`` times.

    ``kind``: ``status`` answers ``status``/``headers``/``body`` itself; ``reset`` closes the
    connection without an answer; ``drop`` forwards, then sends the answer's headers and only
    ``drop_after`` bytes of its body before closing; ``body`` forwards and replaces the body;
    ``redirect`` answers 307 to ``location`` + the original path and query; ``relative`` forwards
    and makes the answer's ``Location`` relative (path and query only).
    """

    match: str
    kind: str
    times: int = 1
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    drop_after: int = 0
    location: str = ""
    hits: int = 0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    status: int = 0


class FaultProxy(_ThreadedServer):
    """A forwarding HTTP proxy in front of ``upstream`` (``host:port``) that injects :class:`Fault` s."""

    def __init__(self, upstream: str) -> None:
        self.handler = _ProxyHandler
        super().__init__()
        self.upstream = upstream
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self.lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.seen.clear()

    def take(self, method: str, path: str) -> Fault | None:
        line = f"{method} {path}"
        with self.lock:
            for fault in self.faults:
                if fault.hits < fault.times and re.search(fault.match, line):
                    fault.hits += 1
                    return fault
        return None

    def requests(self, pattern: str = "") -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if re.search(pattern, f"{s.method} {s.path}")]


_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"})


class _ProxyHandler(_Handler):
    def handle_any(self) -> None:
        owner: FaultProxy = self.owner
        body = self.read_body()
        seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
        with owner.lock:
            owner.seen.append(seen)
        fault = owner.take(self.command, self.path)
        if fault is not None and fault.kind == "status":
            seen.status = fault.status
            self.reply(fault.status, fault.body, {"Content-Type": "application/json", **fault.headers})
            return
        if fault is not None and fault.kind == "reset":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is not None and fault.kind == "redirect":
            seen.status = 307
            self.reply(307, b"", {"Location": fault.location + self.path})
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        conn = http.client.HTTPConnection(owner.upstream, timeout=60)
        try:
            sent = body if body or self.command in ("PUT", "POST", "PATCH") else None
            conn.request(self.command, self.path, body=sent, headers=headers)
            upstream = conn.getresponse()
            data = upstream.read()
            out_headers = [(k, v) for k, v in upstream.getheaders() if k.lower() not in _HOP_BY_HOP]
            status = upstream.status
        finally:
            conn.close()
        seen.status = status
        if fault is not None and fault.kind == "relative":
            out_headers = [
                (k, urllib.parse.urlsplit(v)._replace(scheme="", netloc="").geturl() if k.lower() == "location" else v)
                for k, v in out_headers
            ]
        if fault is not None and fault.kind == "body":
            data = fault.body
            out_headers = [(k, v) for k, v in out_headers if k.lower() != "content-length"]
            out_headers += [("Content-Length", str(len(data))), *fault.headers.items()]
        self.send_response(status)
        for k, v in out_headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        if fault is not None and fault.kind == "drop":
            self.wfile.write(data[: fault.drop_after])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


# --------------------------------------------------------------------------- recording server


class RecordingServer(_ThreadedServer):
    """Serves ``files`` (path without query -> bytes) and records each request's headers."""

    def __init__(self) -> None:
        self.handler = _RecordingHandler
        super().__init__()
        self.files: dict[str, bytes] = {}
        self.seen: list[Seen] = []

    def headers_seen(self) -> Iterator[dict[str, str]]:
        return (s.headers for s in self.seen)


class _RecordingHandler(_Handler):
    def do_GET(self) -> None:
        owner: RecordingServer = self.owner
        owner.seen.append(Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        data = owner.files.get(urllib.parse.urlsplit(self.path).path)
        if data is None:
            self.reply(404, b"not here")
        else:
            self.reply(200, data, {"Content-Type": "application/octet-stream"})

    do_HEAD = do_GET


# --------------------------------------------------------------------------- populating


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """A plain urllib GET (no dockyard code): status and body."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def skopeo_copy(source: str, dest: str, *extra: str) -> None:
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        raise RuntimeError("skopeo is not installed")
    proc = subprocess.run(
        [
            skopeo,
            "--insecure-policy",
            "copy",
            "--dest-tls-verify=false",
            "--src-tls-verify=false",
            *extra,
            source,
            dest,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"skopeo copy {source} {dest} failed: {proc.stderr.strip()}")


def skopeo_inspect(ref: str, *extra: str, raw: bool = False) -> Any:
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        raise RuntimeError("skopeo is not installed")
    argv = [skopeo, "--insecure-policy", "inspect", "--tls-verify=false", *extra]
    if raw:
        argv.append("--raw")
    proc = subprocess.run([*argv, ref], capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"skopeo inspect {ref} failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


# --------------------------------------------------------------------------- test images in a registry


def push_image(client: Any, repo: str, image: Any, tag: str | None = None) -> Any:
    """Put an image's blobs and manifest into a registry with the client (test set-up, not the code under
    test: ``dockyard push`` has its own tests); the manifest's descriptor."""
    for layer in image.layers():
        desc = layer.descriptor()
        if client.blob_exists(repo, desc.digest) is None:
            with layer.open() as f:
                client.upload_blob(repo, desc.digest, f.read())
    client.upload_blob(repo, image.manifest().config.digest, image.config().raw)
    manifest = image.manifest()
    client.put_manifest(repo, tag or manifest.digest, manifest.raw, manifest.media_type)
    return manifest.descriptor()


def unique_image(seed: str, platform: str = "linux/amd64", size: int = 200_000, **kw: Any) -> Any:
    """A small image nobody else pushes (random content), for tests that change the registry."""
    from dockyard.image.build import build_image, directory, file
    from dockyard.oci.platform import Platform

    return build_image(
        [[directory("data"), file(f"data/{seed}.bin", os.urandom(size))], [file(f"etc/{seed}", seed)]],
        platform=Platform.parse(platform),
        **kw,
    )


def push_index(client: Any, repo: str, tag: str, platforms: Any, seed: str) -> tuple[Any, dict[str, Any]]:
    """An OCI index of one :func:`unique_image` per platform, pushed as ``repo:tag``: (index, images by platform)."""
    from dockyard.oci import mediatype
    from dockyard.oci.descriptor import Descriptor
    from dockyard.oci.index import Index
    from dockyard.oci.platform import Platform

    images = {p: unique_image(f"{seed}-" + p.replace("/", "-"), p) for p in platforms}
    descs = []
    for p, image in images.items():
        d = push_image(client, repo, image)
        descs.append(Descriptor(d.media_type, d.digest, d.size, platform=Platform.parse(p)))
    index = Index.build(descs, mediatype.OCI_INDEX)
    client.put_manifest(repo, tag, index.raw, index.media_type)
    return index, images
