"""Registry credentials from Docker's ``config.json``, as ``docker login`` writes them.

Read in Docker's order: a ``credHelpers`` entry for the registry, else the ``credsStore`` helper,
else the file's own ``auths`` entry (base64 ``auth`` of ``user:password``, or ``username`` and
``password``, plus an optional ``identitytoken``). A helper is the program
``docker-credential-<name>``: ``get`` reads the server URL on stdin and prints
``{"ServerURL", "Username", "Secret"}``; a ``Username`` of ``<token>`` means the secret is an
identity token. Docker Hub is filed under ``https://index.docker.io/v1/``.

:meth:`DockerConfig.store` and :meth:`DockerConfig.erase` write the same format back (through
the helper when one is configured for the registry), keeping every other key of the file.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

from dockyard.errors import CredentialsError
from dockyard.transport.registry.hosts import canonical_host, config_key, host_of_config_key

HELPER_PREFIX: Final = "docker-credential-"
IDENTITY_TOKEN_USER: Final = "<token>"
_HELPER_TIMEOUT: Final = 60.0
_NOT_FOUND_MARKER: Final = "credentials not found"


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user name and password, and/or an identity token (an OAuth2 refresh token)."""

    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str | None = field(default=None, repr=False)

    def __bool__(self) -> bool:
        return bool(self.username or self.password or self.identity_token)


@runtime_checkable
class CredentialSource(Protocol):
    """Anything that can find credentials for a registry host (``docker.io``, ``127.0.0.1:5000``)."""

    def get(self, host: str) -> Credentials | None: ...


@dataclass(frozen=True, slots=True)
class StaticCredentials:
    """The same credentials for every host (e.g. from ``--creds user:pass``)."""

    credentials: Credentials

    def get(self, host: str) -> Credentials | None:
        return self.credentials


def default_config_path() -> Path:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``."""
    env = os.environ.get("DOCKER_CONFIG")
    base = Path(env).expanduser() if env else Path.home() / ".docker"
    return base / "config.json"


class DockerConfig:
    """Docker's ``config.json``: read afresh on each lookup, so a ``docker login`` elsewhere is seen."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else default_config_path()

    # --- reading ------------------------------------------------------------------------------------------

    def load(self) -> dict[str, Any]:
        """The whole file as a dict (``{}`` when it does not exist)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise CredentialsError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        if not text.strip():
            return {}
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise CredentialsError(f"{self.path} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise CredentialsError(f"{self.path}: want a JSON object at the top")
        return data

    def helper_for(self, host: str, data: Mapping[str, Any] | None = None) -> str | None:
        """The credential helper name for ``host`` (``credHelpers``, else ``credsStore``), if any."""
        data = self.load() if data is None else data
        canonical = canonical_host(host)
        helpers = data.get("credHelpers")
        if isinstance(helpers, dict):
            for key, name in helpers.items():
                if isinstance(name, str) and name and host_of_config_key(key) == canonical:
                    return name
        store = data.get("credsStore")
        return store if isinstance(store, str) and store else None

    def get(self, host: str) -> Credentials | None:
        """The credentials for registry ``host``, or ``None`` when there are none."""
        data = self.load()
        helper = self.helper_for(host, data)
        if helper is not None:
            return helper_get(helper, config_key(host))
        return _from_auths(data, host, self.path)

    # --- writing ------------------------------------------------------------------------------------------

    def store(self, host: str, username: str, password: str) -> None:
        """Save credentials for ``host`` as ``docker login`` does (through its helper, if configured)."""
        data = self.load()
        key = config_key(host)
        helper = self.helper_for(host, data)
        if helper is not None:
            payload = {"ServerURL": key, "Username": username, "Secret": password}
            _run_helper(helper, "store", json.dumps(payload))
            # Docker keeps an empty entry so `docker logout` and listings know of the registry.
            auths = _auths(data, self.path)
            _drop_keys(auths, host)
            auths[key] = {}
        else:
            auths = _auths(data, self.path)
            _drop_keys(auths, host)
            token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            auths[key] = {"auth": token}
        data["auths"] = auths
        self._write(data)

    def erase(self, host: str) -> bool:
        """Forget ``host``'s credentials as ``docker logout`` does; True when there were some."""
        data = self.load()
        helper = self.helper_for(host, data)
        found = False
        if helper is not None:
            found = _run_helper(helper, "erase", config_key(host), missing_ok=True) is not None
        auths = data.get("auths")
        if isinstance(auths, dict) and _drop_keys(auths, host):
            found = True
            self._write(data)
        return found

    def _write(self, data: Mapping[str, Any]) -> None:
        """Atomically replace the file, tab-indented as Docker writes it, mode 0600 (it holds credentials); a
        symlinked config.json is written through (the link stays)."""
        target = self.path.resolve() if self.path.is_symlink() else self.path
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        mode = 0o600
        text = json.dumps(data, indent="\t") + "\n"
        fd, tmp = tempfile.mkstemp(prefix=".config.json.", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


# --- the auths section ------------------------------------------------------------------------------------------


def _auths(data: dict[str, Any], path: Path) -> dict[str, Any]:
    auths = data.get("auths", {})
    if not isinstance(auths, dict):
        raise CredentialsError(f"{path}: 'auths' is not an object")
    return auths


def _drop_keys(auths: dict[str, Any], host: str) -> bool:
    """Remove every ``auths`` key naming ``host`` (``https://x/v1/``, ``x``, ...); True if any was."""
    canonical = canonical_host(host)
    keys = [key for key in auths if host_of_config_key(key) == canonical]
    for key in keys:
        del auths[key]
    return bool(keys)


def _from_auths(data: dict[str, Any], host: str, path: Path) -> Credentials | None:
    auths = data.get("auths")
    if not isinstance(auths, dict):
        return None
    canonical = canonical_host(host)
    exact = config_key(host)
    # The exact key first, then any key that names the same registry (with scheme, /v1/, ...).
    candidates = [exact, *sorted(k for k in auths if k != exact and host_of_config_key(k) == canonical)]
    for key in candidates:
        entry = auths.get(key)
        if isinstance(entry, dict):
            creds = parse_auth_entry(entry, f"{path}: auths[{key!r}]")
            if creds:
                return creds
    return None


def parse_auth_entry(entry: Mapping[str, Any], where: str = "auth entry") -> Credentials:
    """One ``auths`` entry: ``auth`` (base64 ``user:password``) or ``username``/``password``, ``identitytoken``."""
    username = entry.get("username") or ""
    password = entry.get("password") or ""
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise CredentialsError(f"{where}: 'auth' is not base64 of user:password") from None
        user, colon, secret = decoded.partition(":")
        if not colon:
            raise CredentialsError(f"{where}: 'auth' does not hold user:password")
        username, password = user, secret
    token = entry.get("identitytoken") or None
    if not isinstance(username, str) or not isinstance(password, str) or not isinstance(token, str | None):
        raise CredentialsError(f"{where}: username, password and identitytoken must be strings")
    return Credentials(username, password, token)


# --- credential helpers -----------------------------------------------------------------------------------------


def helper_get(helper: str, server_url: str) -> Credentials | None:
    """Ask ``docker-credential-<helper> get`` for ``server_url``'s credentials (``None`` if it has none)."""
    out = _run_helper(helper, "get", server_url, missing_ok=True)
    if out is None:
        return None
    try:
        reply = json.loads(out)
    except ValueError:
        raise CredentialsError(f"{HELPER_PREFIX}{helper} get printed something that is not JSON") from None
    if not isinstance(reply, dict):
        raise CredentialsError(f"{HELPER_PREFIX}{helper} get: want a JSON object")
    username = reply.get("Username") or ""
    secret = reply.get("Secret") or ""
    if not isinstance(username, str) or not isinstance(secret, str):
        raise CredentialsError(f"{HELPER_PREFIX}{helper} get: Username and Secret must be strings")
    if username == IDENTITY_TOKEN_USER:
        return Credentials(identity_token=secret)
    creds = Credentials(username, secret)
    return creds if creds else None


def _run_helper(helper: str, action: str, stdin: str, *, missing_ok: bool = False) -> str | None:
    """Run ``docker-credential-<helper> <action>``; its stdout, or ``None`` for "not found" when ``missing_ok``."""
    import subprocess  # only a credential helper needs it: not imported by every pull

    program = HELPER_PREFIX + helper
    try:
        proc = subprocess.run(
            [program, action],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=_HELPER_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise CredentialsError(f"credential helper {program} is not installed (named in the Docker config)") from None
    except subprocess.TimeoutExpired:
        raise CredentialsError(f"{program} {action} did not answer within {_HELPER_TIMEOUT:.0f} s") from None
    if proc.returncode != 0:
        message = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
        first = message[0] if message else f"exit status {proc.returncode}"
        if missing_ok and _NOT_FOUND_MARKER in first.lower():
            return None
        raise CredentialsError(f"{program} {action} failed: {first}")
    return proc.stdout


__all__ = [
    "CredentialSource",
    "Credentials",
    "DockerConfig",
    "StaticCredentials",
    "default_config_path",
    "helper_get",
    "parse_auth_entry",
]
