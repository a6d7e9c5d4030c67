"""Registry hosts: API host, scheme and config.json key."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidReference
from dockyard.oci.reference import Reference
from dockyard.transport.registry.hosts import (
    DOCKER_HUB_CONFIG_KEY,
    config_key,
    endpoint,
    host_of_config_key,
    is_loopback,
    split_port,
)


@pytest.mark.parametrize(
    ("host", "insecure", "base_url"),
    [
        ("docker.io", False, "https://registry-1.docker.io"),
        ("index.docker.io", False, "https://registry-1.docker.io"),
        ("ghcr.io", False, "https://ghcr.io"),
        ("reg.example.com:5000", False, "https://reg.example.com:5000"),
        ("reg.example.com:5000", True, "http://reg.example.com:5000"),
        ("localhost", False, "http://localhost"),
        ("localhost:5000", False, "http://localhost:5000"),
        ("127.0.0.1:5000", False, "http://127.0.0.1:5000"),
        ("127.8.9.10", False, "http://127.8.9.10"),
        ("[::1]:5000", False, "http://[::1]:5000"),
        ("10.0.0.1:5000", False, "https://10.0.0.1:5000"),
    ],
)
def test_endpoint(host: str, insecure: bool, base_url: str) -> None:
    assert endpoint(host, insecure=insecure).base_url == base_url


def test_endpoint_from_a_reference() -> None:
    ref = Reference.parse("alpine:3")
    ep = endpoint(ref.domain)
    assert (ep.host, ep.api_host) == ("docker.io", ref.registry_host())


def test_loopback_and_ports() -> None:
    assert split_port("[::1]:5000") == ("::1", "5000")
    assert split_port("host:1") == ("host", "1")
    assert split_port("host") == ("host", None)
    assert is_loopback("::1") and is_loopback("LOCALHOST:1") and not is_loopback("localhost.example.com")
    with pytest.raises(InvalidReference):
        split_port("[::1")
    with pytest.raises(InvalidReference):
        endpoint("a/b")


@pytest.mark.parametrize(
    ("key", "host"),
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("index.docker.io", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("http://reg.example:5000/v2/", "reg.example:5000"),
        ("reg.example", "reg.example"),
        ("https://127.0.0.1:5000", "127.0.0.1:5000"),
    ],
)
def test_host_of_config_key(key: str, host: str) -> None:
    assert host_of_config_key(key) == host


def test_config_key() -> None:
    assert config_key("docker.io") == config_key("index.docker.io") == DOCKER_HUB_CONFIG_KEY
    assert config_key("127.0.0.1:5000") == "127.0.0.1:5000"


def test_package_import_is_lazy() -> None:
    """Importing the package (or hosts/credentials/auth) does not load httpx; a name loads its module."""
    import subprocess
    import sys

    code = (
        "import sys, dockyard.transport.registry as r\n"
        "import dockyard.transport.registry.credentials, dockyard.transport.registry.auth\n"
        "assert 'httpx' not in sys.modules, 'httpx imported eagerly'\n"
        "assert r.RegistryClient.__name__ == 'RegistryClient' and 'httpx' in sys.modules\n"
        "assert sorted(r.__all__) == sorted(set(r.__all__)) and all(getattr(r, n) for n in r.__all__)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
