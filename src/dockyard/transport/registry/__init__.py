"""The registry transport: a client of the OCI Distribution API with Docker's authentication.

Modules, each one concept:

    hosts        which host and scheme serve a registry name; config.json keys
    credentials  Docker's config.json: auths, credsStore, credHelpers; store/erase
    auth         WWW-Authenticate challenges, scopes, bearer tokens and their cache
    retry        backoff policy, Retry-After
    blobstream   a resuming, verifying blob download
    upload       blob upload sessions (monolithic and chunked)
    client       RegistryClient: manifests, blobs, mounts, tags, catalog

Importing this package is cheap: the names below load their module (and httpx) on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.transport.registry.auth import Scope, TokenCache
    from dockyard.transport.registry.blobstream import BlobStream
    from dockyard.transport.registry.client import DEFAULT_ACCEPT, ManifestResponse, RegistryClient
    from dockyard.transport.registry.credentials import Credentials, CredentialSource, DockerConfig
    from dockyard.transport.registry.hosts import Endpoint, endpoint
    from dockyard.transport.registry.retry import RetryPolicy

_EXPORTS = {
    "BlobStream": "blobstream",
    "CredentialSource": "credentials",
    "Credentials": "credentials",
    "DEFAULT_ACCEPT": "client",
    "DockerConfig": "credentials",
    "Endpoint": "hosts",
    "ManifestResponse": "client",
    "RegistryClient": "client",
    "RetryPolicy": "retry",
    "Scope": "auth",
    "TokenCache": "auth",
    "endpoint": "hosts",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_ACCEPT",
    "BlobStream",
    "CredentialSource",
    "Credentials",
    "DockerConfig",
    "Endpoint",
    "ManifestResponse",
    "RegistryClient",
    "RetryPolicy",
    "Scope",
    "TokenCache",
    "endpoint",
]
