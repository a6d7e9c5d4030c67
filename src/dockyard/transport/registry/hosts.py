"""Registry host names: which host serves the API, over which scheme, and under which config key.

Docker's rules, kept here once::

    docker.io, index.docker.io    -> API host registry-1.docker.io, over https;
                                     credentials under "https://index.docker.io/v1/"
    localhost[:port], 127.0.0.0/8,
    ::1 ([::1]:port)              -> plain http (as Docker treats them as insecure registries)
    anything marked insecure      -> plain http
    anything else                 -> https
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

from dockyard.errors import InvalidReference
from dockyard.oci.reference import DEFAULT_DOMAIN, DOCKER_HUB_REGISTRY, LEGACY_DEFAULT_DOMAIN

DOCKER_HUB_CONFIG_KEY: Final = "https://index.docker.io/v1/"
"""The key Docker's ``config.json`` files Docker Hub credentials under (and the helpers' server URL)."""

_HUB_NAMES: Final = frozenset({DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN, DOCKER_HUB_REGISTRY})


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where to reach the registry that a reference names."""

    host: str
    """The registry as references name it: ``docker.io``, ``127.0.0.1:5000``."""
    api_host: str
    """The host[:port] that serves ``/v2/``: ``registry-1.docker.io`` for Docker Hub."""
    scheme: str
    """``https``, or ``http`` for loopback and insecure registries."""

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.api_host}"


def split_port(host: str) -> tuple[str, str | None]:
    """``("127.0.0.1", "5000")`` for ``127.0.0.1:5000``; ``("::1", "5000")`` for ``[::1]:5000``."""
    if host.startswith("["):
        name, bracket, rest = host[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise InvalidReference(f"invalid registry host {host!r}")
        return name, rest[1:] or None
    if host.count(":") == 1:
        name, _, port = host.partition(":")
        return name, port
    return host, None


def canonical_host(host: str) -> str:
    """The registry name as references use it: Docker Hub's aliases become ``docker.io``."""
    if not host or "/" in host:
        raise InvalidReference(f"invalid registry host {host!r}: want host[:port]")
    return DEFAULT_DOMAIN if host.lower() in _HUB_NAMES else host


def is_loopback(host: str) -> bool:
    """True for ``localhost``, ``127.0.0.0/8`` and ``::1``, with or without a port."""
    name, _ = split_port(host)
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def endpoint(host: str, *, insecure: bool = False) -> Endpoint:
    """The endpoint of registry ``host``: plain http when loopback or ``insecure``, else https."""
    canonical = canonical_host(host)
    api_host = DOCKER_HUB_REGISTRY if canonical == DEFAULT_DOMAIN else canonical
    scheme = "http" if insecure or is_loopback(api_host) else "https"
    return Endpoint(canonical, api_host, scheme)


def config_key(host: str) -> str:
    """The key under which Docker's ``config.json`` (and credential helpers) store ``host``'s credentials."""
    canonical = canonical_host(host)
    return DOCKER_HUB_CONFIG_KEY if canonical == DEFAULT_DOMAIN else canonical


def host_of_config_key(key: str) -> str:
    """The registry a ``config.json`` ``auths`` key names (Docker's ``ConvertToHostname``, hub aliases folded).

    ``https://index.docker.io/v1/`` -> ``docker.io``; ``http://reg.example:5000/v2/`` -> ``reg.example:5000``.
    """
    stripped = key.strip()
    for prefix in ("http://", "https://"):
        if stripped.lower().startswith(prefix):
            stripped = stripped[len(prefix) :]
            break
    name = stripped.split("/", 1)[0]
    return DEFAULT_DOMAIN if name.lower() in _HUB_NAMES else name


__all__ = [
    "DOCKER_HUB_CONFIG_KEY",
    "Endpoint",
    "canonical_host",
    "config_key",
    "endpoint",
    "host_of_config_key",
    "is_loopback",
    "split_port",
]
