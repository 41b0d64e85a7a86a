"""The SDK's transport (``vidgate.sdk._transport``): an ``http://`` server is talked to without
reading any trust store, ``https://`` is verified as httpx verifies it (a redirect to it too),
the trust store is read once, and the environment's proxies are used as httpx uses them.

Servers are local: a plain one, and an HTTPS one whose certificate a throwaway CA (trustme)
signed, so that it fails verification unless the client is told that CA (``SSL_CERT_FILE``,
which httpx reads for a client that trusts the environment, the default)."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.media_fixtures import FixtureServer, make_tls_certificate
from tests.server import free_port
from vidgate.sdk import APIConnectionError, AsyncClient, Client, TaskStatus

TASK_ID = "task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ"
TASK_PATH = f"/v1/tasks/{TASK_ID}"
ENVELOPE = json.dumps({"code": 200, "data": {"id": TASK_ID, "status": "completed", "progress": 100}}).encode()
JSON = {"Content-Type": "application/json"}
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy and no CA file from the machine running the tests."""
    for name in (*PROXY_VARIABLES, "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def trust_store_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every read of CA certificates into any SSLContext in this process, as it happens."""
    reads: list[str] = []
    real_locations, real_defaults = ssl.SSLContext.load_verify_locations, ssl.SSLContext.load_default_certs

    def load_verify_locations(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        reads.append("load_verify_locations")
        real_locations(self, *args, **kwargs)

    def load_default_certs(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        reads.append("load_default_certs")
        real_defaults(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", load_verify_locations)
    monkeypatch.setattr(ssl.SSLContext, "load_default_certs", load_default_certs)
    return reads


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(CA certificate, server chain, server key) for 127.0.0.1."""
    return make_tls_certificate(tmp_path_factory.mktemp("tls"), "127.0.0.1")


@pytest.fixture
def plain() -> Iterator[FixtureServer]:
    with FixtureServer() as server:
        server.serve(TASK_PATH, ENVELOPE, headers=JSON)
        yield server


@pytest.fixture
def secure(tls_files: tuple[Path, Path, Path]) -> Iterator[FixtureServer]:
    _, chain, key = tls_files
    with FixtureServer(tls=(chain, key)) as server:
        server.serve(TASK_PATH, ENVELOPE, headers=JSON)
        yield server


def client(base_url: str) -> Client:
    return Client(api_key="sk-test", base_url=base_url, max_retries=0)


def test_an_http_server_is_talked_to_without_reading_any_trust_store(
    plain: FixtureServer, trust_store_reads: list[str]
) -> None:
    with client(plain.url("")) as sdk:
        assert sdk.tasks.get(TASK_ID).status is TaskStatus.COMPLETED
        assert sdk.tasks.get(TASK_ID).status is TaskStatus.COMPLETED
    assert trust_store_reads == []
    assert plain.paths_requested == [TASK_PATH, TASK_PATH]


def test_the_http_transport_verifies_and_trusts_no_one(secure: FixtureServer) -> None:
    """Its TLS context is never meant to be used; were it ever, it would refuse, not accept."""
    from vidgate.sdk._transport import LazyTLSTransport

    transport = LazyTLSTransport()
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        transport._plain.handle_request(httpx.Request("GET", secure.url(TASK_PATH)))
    transport.close()


def test_https_is_verified_against_the_trust_store(
    secure: FixtureServer,
    tls_files: tuple[Path, Path, Path],
    trust_store_reads: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with client(secure.url("")) as sdk, pytest.raises(APIConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        sdk.tasks.get(TASK_ID)
    assert trust_store_reads == ["load_verify_locations"]  # certifi's bundle, which lacks the test CA

    trust_store_reads.clear()
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files[0]))
    with client(secure.url("")) as sdk:
        assert sdk.tasks.get(TASK_ID).status is TaskStatus.COMPLETED
        assert sdk.tasks.get(TASK_ID).status is TaskStatus.COMPLETED
    assert trust_store_reads == ["load_verify_locations"]  # once for the client, not per request
    assert secure.paths_requested == [TASK_PATH, TASK_PATH]  # the refused handshake sent nothing


def test_a_redirect_to_https_is_verified(
    plain: FixtureServer,
    secure: FixtureServer,
    tls_files: tuple[Path, Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain.redirect(TASK_PATH, secure.url(TASK_PATH), status=307)
    with client(plain.url("")) as sdk, pytest.raises(APIConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        sdk.tasks.get(TASK_ID)
    assert secure.paths_requested == []

    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files[0]))
    with client(plain.url("")) as sdk:
        assert sdk.tasks.get(TASK_ID).status is TaskStatus.COMPLETED
    assert plain.paths_requested == [TASK_PATH, TASK_PATH] and secure.paths_requested == [TASK_PATH]


def test_the_async_client_reads_the_trust_store_only_for_https(
    plain: FixtureServer,
    secure: FixtureServer,
    tls_files: tuple[Path, Path, Path],
    trust_store_reads: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def get(base_url: str) -> TaskStatus:
        async with AsyncClient(api_key="sk-test", base_url=base_url, max_retries=0) as sdk:
            return (await sdk.tasks.get(TASK_ID)).status

    assert asyncio.run(get(plain.url(""))) is TaskStatus.COMPLETED
    assert trust_store_reads == []
    with pytest.raises(APIConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        asyncio.run(get(secure.url("")))
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files[0]))
    assert asyncio.run(get(secure.url(""))) is TaskStatus.COMPLETED
    assert trust_store_reads == ["load_verify_locations", "load_verify_locations"]


def mounted(http: httpx.Client | httpx.AsyncClient) -> dict[str, str | None]:
    """A client's mounts: URL pattern -> the proxy URL its transport goes through (None: the
    client's own transport)."""
    mounts: dict[Any, Any] = http._mounts
    found: dict[str, str | None] = {}
    for pattern, transport in mounts.items():
        proxy = None if transport is None else transport._pool._proxy_url
        found[pattern.pattern] = (
            None if proxy is None else f"{proxy.scheme.decode()}://{proxy.host.decode()}:{proxy.port}"
        )
    return found


@pytest.mark.parametrize(
    "environment",
    [
        {},
        {"HTTP_PROXY": "http://127.0.0.1:3128"},
        {"HTTPS_PROXY": "http://10.1.2.3:8080", "NO_PROXY": "localhost,127.0.0.1,.example.com,::1"},
        {"ALL_PROXY": "http://proxy.internal:3128", "NO_PROXY": "*"},
        {"HTTP_PROXY": "127.0.0.1:3128", "HTTPS_PROXY": "http://127.0.0.1:3129", "NO_PROXY": "http://api.local"},
    ],
)
def test_the_environments_proxies_are_mounted_as_httpx_mounts_them(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with httpx.Client() as reference, Client(api_key="sk-test") as sdk:
        assert mounted(sdk._http) == mounted(reference)
        assert list(sdk._http._mounts) == list(reference._mounts)  # the same order of matching

    async def both() -> None:
        async with httpx.AsyncClient() as reference, AsyncClient(api_key="sk-test") as sdk:
            assert mounted(sdk._http) == mounted(reference)

    asyncio.run(both())


def test_requests_go_through_the_proxy_the_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY for an http:// server: the request reaches the proxy (in absolute form), not
    the server, which is not even listening."""
    target = f"http://127.0.0.1:{free_port()}"
    with FixtureServer() as proxy:
        proxy.serve(target + TASK_PATH, ENVELOPE, headers=JSON)
        monkeypatch.setenv("HTTP_PROXY", proxy.url(""))
        with client(target) as sdk:
            assert sdk.tasks.get(TASK_ID).status is TaskStatus.COMPLETED
        assert proxy.paths_requested == [target + TASK_PATH]

        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        with client(target) as sdk, pytest.raises(APIConnectionError, match="could not talk"):
            sdk.tasks.get(TASK_ID)
        assert proxy.paths_requested == [target + TASK_PATH]


def test_closing_leaves_no_verifying_transport_made_for_nothing(plain: FixtureServer) -> None:
    sdk = client(plain.url(""))
    sdk.tasks.get(TASK_ID)
    sdk.close()
    transport = sdk._http._transport
    assert transport._verifying is None  # type: ignore[attr-defined]
    assert sdk._http.is_closed
