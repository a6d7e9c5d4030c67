"""Fixtures for the registry client tests: real CNCF Distribution registries on 127.0.0.1.

Session-scoped (one set per pytest-xdist worker), stopped at the end of the session:

* ``registry``          anonymous Distribution 2.8
* ``basic_registry``    Basic auth (htpasswd): user ``alice`` / ``wonderland``
* ``token_server``      the token service (see ``registry_util.TokenServer``); users ``alice``
                        (pull, push, delete, catalog), ``reader`` (pull); refresh token ``refresh-alice``
* ``token_registry``    Distribution that trusts ``token_server``'s tokens
* ``fault_proxy``       a ``FaultProxy`` in front of ``registry``;  ``token_proxy``: in front of ``token_registry``
* ``sample``            the sample base and app images (``dockyard.image.sample``), pushed with skopeo
                        from an OCI layout dockyard wrote, to ``sample/base:v1`` and ``sample/app:v1``

Per test: ``faults`` / ``token_faults`` (the proxies with their faults and records cleared),
``fast_retry`` (a RetryPolicy with millisecond waits). The ``docker-registry`` binary missing is
a skip, or a failure under ``CI``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fixtures_util import require_tool
from registry_util import (
    ALICE,
    BASIC_ALICE,
    READER,
    REFRESH_TOKEN,
    FaultProxy,
    Registry,
    Sample,
    TokenServer,
    skopeo_copy,
    start_registry,
)

from dockyard.image.sample import app_image, base_image
from dockyard.transport import oci_layout
from dockyard.transport.registry.retry import RetryPolicy


@pytest.fixture(scope="session")
def registry_binary() -> str:
    return require_tool("docker-registry")


@pytest.fixture(scope="session")
def registry(registry_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_registry(tmp_path_factory.mktemp("registry-anon"), binary=registry_binary)
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def basic_registry(registry_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_registry(
        tmp_path_factory.mktemp("registry-basic"), binary=registry_binary, htpasswd=dict([BASIC_ALICE])
    )
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def token_server_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServer]:
    server = TokenServer(
        tmp_path_factory.mktemp("token-server"),
        users=dict([ALICE, READER]),
        full_users={ALICE[0]},
        refresh_tokens={REFRESH_TOKEN: ALICE[0]},
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def token_server(token_server_session: TokenServer) -> TokenServer:
    token_server_session.reset()
    return token_server_session


@pytest.fixture(scope="session")
def token_registry(
    registry_binary: str, tmp_path_factory: pytest.TempPathFactory, token_server_session: TokenServer
) -> Iterator[Registry]:
    reg = start_registry(tmp_path_factory.mktemp("registry-token"), binary=registry_binary, token=token_server_session)
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def fault_proxy(registry: Registry) -> Iterator[FaultProxy]:
    proxy = FaultProxy(registry.host)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def token_proxy(token_registry: Registry) -> Iterator[FaultProxy]:
    proxy = FaultProxy(token_registry.host)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def faults(fault_proxy: FaultProxy) -> Iterator[FaultProxy]:
    fault_proxy.reset()
    yield fault_proxy
    fault_proxy.reset()


@pytest.fixture
def token_faults(token_proxy: FaultProxy, token_server: TokenServer) -> Iterator[FaultProxy]:
    token_proxy.reset()
    yield token_proxy
    token_proxy.reset()


@pytest.fixture
def fast_retry() -> RetryPolicy:
    return RetryPolicy(attempts=4, base=0.01, cap=0.05, max_retry_after=2.0, jitter=0.0)


@pytest.fixture(scope="session")
def sample_layout(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    """The sample images in an OCI layout written by dockyard (tags ``base`` and ``app``)."""
    base, app = base_image(), app_image()
    layout = tmp_path_factory.mktemp("sample") / "layout"
    oci_layout.write([(base, ["sample:base"]), (app, ["sample:app"])], layout, as_tar=False)
    return Sample(base, app, layout)


@pytest.fixture(scope="session")
def sample(registry: Registry, sample_layout: Sample) -> Sample:
    """``sample/base:v1`` and ``sample/app:v1`` in ``registry``, copied there by skopeo."""
    require_tool("skopeo")
    for name in ("base", "app"):
        skopeo_copy(f"oci:{sample_layout.layout}:{name}", f"docker://{registry.host}/sample/{name}:v1")
    return sample_layout


@pytest.fixture(scope="session")
def token_sample(token_registry: Registry, sample_layout: Sample) -> Sample:
    """The same images in ``token_registry``, pushed by skopeo as ``alice``."""
    require_tool("skopeo")
    for name in ("base", "app"):
        skopeo_copy(
            f"oci:{sample_layout.layout}:{name}",
            f"docker://{token_registry.host}/sample/{name}:v1",
            "--dest-creds",
            ":".join(ALICE),
        )
    return sample_layout
