"""VIDGATE_FETCH_ALLOW_HOSTS: every form of entry, what each one exempts (a ``host:port`` entry
that port only), and malformed entries refused when the policy is built."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.media_fixtures import loopback_only_sockets, make_png
from vidgate.config import load_settings
from vidgate.errors import InvalidMediaUrl, MediaError
from vidgate.media.allowlist import AllowEntry, parse_entry
from vidgate.media.fetch import Fetcher, FetchPolicy, check_url


@pytest.fixture(autouse=True)
def _sockets_stay_on_loopback() -> Iterator[None]:
    with loopback_only_sockets():
        yield


def net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)


@pytest.mark.parametrize(
    ("entry", "parsed"),
    [
        ("media.local", AllowEntry("media.local", None, None)),
        ("Media.Local.", AllowEntry("media.local", None, None)),
        ("media.local:9000", AllowEntry("media.local", None, 9000)),
        ("localhost:8080", AllowEntry("localhost", None, 8080)),
        ("127.0.0.1", AllowEntry(None, net("127.0.0.1/32"), None)),
        ("127.1", AllowEntry(None, net("127.0.0.1/32"), None)),
        ("127.0.0.1:9000", AllowEntry(None, net("127.0.0.1/32"), 9000)),
        ("::1", AllowEntry(None, net("::1/128"), None)),
        ("[::1]", AllowEntry(None, net("::1/128"), None)),
        ("[::1]:9000", AllowEntry(None, net("::1/128"), 9000)),
        ("10.0.0.0/8", AllowEntry(None, net("10.0.0.0/8"), None)),
        ("10.1.2.3/8", AllowEntry(None, net("10.0.0.0/8"), None)),
        ("10.0.0.0/8:9000", AllowEntry(None, net("10.0.0.0/8"), 9000)),
        ("fd00::/8", AllowEntry(None, net("fd00::/8"), None)),
        ("[fd00::/8]:443", AllowEntry(None, net("fd00::/8"), 443)),
        (" 192.168.1.5:65535 ", AllowEntry(None, net("192.168.1.5/32"), 65535)),
    ],
)
def test_every_form_of_entry_is_read(entry: str, parsed: AllowEntry) -> None:
    assert parse_entry(entry) == parsed


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("10.0.0.0/33", "is not a valid CIDR"),
        ("media.local:0", "ports are 1-65535"),
        ("media.local:65536", "ports are 1-65535"),
        ("media.local:http", "has the port 'http'"),
        ("media.local:", "has the port ''"),
        ("[::1", "[address]:port"),
        ("[::1]9000", "[address]:port"),
        ("[::1]:x", "has the port 'x'"),
        ("http://media.local", "is a URL; give the host alone, or host:port"),
        ("media.local/x", "is not a valid CIDR"),
        ("a b", "neither a host name, an address nor a CIDR"),
        ("256.1.1.1", "neither a host name, an address nor a CIDR"),
    ],
)
def test_a_malformed_entry_is_refused_naming_it(entry: str, says: str) -> None:
    with pytest.raises(ValueError, match="fetch allow-list entry") as caught:
        FetchPolicy(allow_hosts=(entry,))
    assert repr(entry) in str(caught.value) and says in str(caught.value)


def refused(url: str, policy: FetchPolicy) -> str:
    with pytest.raises(InvalidMediaUrl) as caught:
        check_url(url, "image", policy, "image_url")
    return caught.value.message


def test_an_address_with_a_port_is_exempt_on_that_port_only() -> None:
    policy = FetchPolicy(allow_hosts=("127.0.0.1:9000",))
    check_url("http://127.0.0.1:9000/a.png", "image", policy, "image_url")
    check_url("http://127.1:9000/a.png", "image", policy, "image_url")  # however it is spelled
    for url in ("http://127.0.0.1/a.png", "http://127.0.0.1:9001/a.png", "https://127.0.0.1/a.png"):
        assert "loopback" in refused(url, policy)
    assert policy.allows_address(ipaddress.ip_address("127.0.0.1"), 9000)
    assert not policy.allows_address(ipaddress.ip_address("127.0.0.1"), 80)
    assert not policy.allows_address(ipaddress.ip_address("127.0.0.1"))  # port unknown


def test_a_url_without_a_port_is_on_its_schemes_port() -> None:
    policy = FetchPolicy(allow_hosts=("10.0.0.0/8:443", "[fd00::1]:80"))
    check_url("https://10.1.2.3/a.png", "image", policy, "image_url")
    check_url("http://10.1.2.3:443/a.png", "image", policy, "image_url")
    assert "private" in refused("http://10.1.2.3/a.png", policy)
    check_url("http://[fd00::1]/a.png", "image", policy, "image_url")
    assert "unique-local" in refused("https://[fd00::1]/a.png", policy)


def test_a_name_with_a_port_is_exempt_on_that_port_only() -> None:
    policy = FetchPolicy(allow_hosts=("localhost:8080",))
    check_url("http://localhost:8080/a.png", "image", policy, "image_url")
    check_url("http://LOCALHOST.:8080/a.png", "image", policy, "image_url")
    assert "always this machine" in refused("http://localhost/a.png", policy)
    assert "always this machine" in refused("http://localhost:8081/a.png", policy)


def test_entries_without_a_port_exempt_every_port() -> None:
    policy = FetchPolicy(allow_hosts=("localhost", "127.0.0.1", "[::1]", "10.0.0.0/8"))
    for port in ("", ":1", ":8080", ":65535"):
        for host in ("localhost", "127.0.0.1", "[::1]", "10.9.8.7"):
            check_url(f"http://{host}{port}/a.png", "image", policy, "image_url")


def test_the_settings_entries_are_read_with_their_ports() -> None:
    settings = load_settings(fetch_allow_hosts="media.test:9000, [::1]:8443 ,10.0.0.0/8")
    policy = FetchPolicy.from_settings(settings)
    assert policy.allow_hosts == ("media.test:9000", "[::1]:8443", "10.0.0.0/8")
    assert policy.allows_name("media.test", 9000) and not policy.allows_name("media.test", 80)
    assert policy.allows_address(ipaddress.ip_address("::1"), 8443)
    assert not policy.allows_address(ipaddress.ip_address("::1"), 443)


def test_a_name_with_a_port_exempts_what_it_resolves_to_on_that_port_only(tmp_path: Path) -> None:
    png = make_png(tmp_path / "a.png", 16, 16).read_bytes()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=png))
    fetcher = Fetcher(
        FetchPolicy(allow_hosts=("media.test:9000",)),
        resolver=lambda host, port: ["10.0.0.5"],
        transport=transport,
    )
    fetcher.fetch("http://media.test:9000/a.png", "image", tmp_path / "ok.png")
    with pytest.raises(MediaError, match="media.test resolves to 10.0.0.5, a private address") as caught:
        fetcher.fetch("http://media.test/a.png", "image", tmp_path / "no.png")
    assert caught.value.reason == "url_refused"
