"""The fetch guard without a network: address classes, URL checks at submit, and the Fetcher's
decisions with a stub resolver and transports that fail the test if a connection is attempted."""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.media_fixtures import NoConnectTransport, loopback_only_sockets, make_png
from vidgate.config import load_settings
from vidgate.errors import InvalidMediaUrl, MediaError
from vidgate.media.addresses import host_address, refusal_reason
from vidgate.media.fetch import MB, Fetcher, FetchPolicy, check_url

PUBLIC_IP = "93.184.216.34"


@pytest.fixture(autouse=True)
def _sockets_stay_on_loopback() -> Iterator[None]:
    with loopback_only_sockets():
        yield


# --- the address classifier -----------------------------------------------------------------

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("0.0.0.0", "unspecified"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "cloud metadata"),
    ("169.254.10.20", "link-local"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.255", "carrier-grade NAT"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("192.0.2.10", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fc00::1", "unique-local"),
    ("fd12:3456:789a::1", "unique-local"),
    ("fe80::1", "link-local"),
    ("febf::1", "link-local"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("fec0::1", "site-local"),
    ("2001:db8::1", "documentation"),
    ("::ffff:127.0.0.1", "IPv4-mapped form of 127.0.0.1, a loopback"),
    ("::ffff:169.254.169.254", "IPv4-mapped form of 169.254.169.254, the cloud metadata"),
    ("::ffff:8.8.8.8", "IPv4-mapped form of 8.8.8.8, a form that is refused"),
    ("::127.0.0.1", "IPv4-compatible form of 127.0.0.1, a loopback"),
    ("::10.0.0.1", "IPv4-compatible form of 10.0.0.1, a private"),
    ("64:ff9b::7f00:1", "NAT64 form of 127.0.0.1, a loopback"),
    ("64:ff9b::a9fe:a9fe", "NAT64 form of 169.254.169.254"),
    ("64:ff9b:1::1", "local-use NAT64"),
    ("2002:7f00:1::", "6to4 form of 127.0.0.1, a loopback"),
    ("2002:c0a8:101::", "6to4 form of 192.168.1.1, a private"),
    ("2001::1", "non-public"),  # Teredo
    # IPv4-translated (RFC 2765 / 6052 SIIT), whatever it embeds
    ("::ffff:0:7f00:1", "IPv4-translated form of 127.0.0.1, a loopback"),
    ("::ffff:0:a9fe:a9fe", "IPv4-translated form of 169.254.169.254, the cloud metadata"),
    ("::ffff:0:a00:1", "IPv4-translated form of 10.0.0.1, a private"),
    ("::ffff:0:808:808", "IPv4-translated form of 8.8.8.8, a form that is refused"),
    ("::ffff:0:0", "IPv4-mapped form of 0.0.0.0, an unspecified"),
    ("::ffff:0:0:0", "IPv4-translated form of 0.0.0.0, an unspecified"),
    ("::808:808", "IPv4-compatible form of 8.8.8.8, a form that is refused"),
    # NAT64: the well-known prefix embeds an address (RFC 6052); the local-use one is refused whole (RFC 8215)
    ("64:ff9b::a00:1", "NAT64 form of 10.0.0.1, a private"),
    ("64:ff9b::6440:1", "NAT64 form of 100.64.0.1, a carrier-grade NAT"),
    ("64:ff9b:1::808:808", "local-use NAT64"),
    ("64:ff9b:1:ffff::7f00:1", "local-use NAT64"),
    ("64:ff9b:2::7f00:1", "outside 2000::/3"),
    # 6to4, ISATAP and Teredo
    ("2002:a9fe:a9fe::1", "6to4 form of 169.254.169.254, the cloud metadata"),
    ("2002:6440:1::", "6to4 form of 100.64.0.1, a carrier-grade NAT"),
    ("2606:4700::5efe:7f00:1", "ISATAP form of 127.0.0.1, a loopback"),
    ("2606:4700::200:5efe:a00:1", "ISATAP form of 10.0.0.1, a private"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo tunnel address, client 127.0.0.1 (a loopback"),
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "non-public Teredo tunnel address, client 8.8.8.8"),
    # other reserved space, whatever Python's is_global says of it
    ("::1:7f00:1", "outside 2000::/3"),
    ("5f00::1", "outside 2000::/3"),
    ("3fff::1", "documentation"),
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_refused_addresses_are_classified(address: str, reason: str) -> None:
    found = refusal_reason(ipaddress.ip_address(address))
    assert found is not None and reason in found.english


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "93.184.216.34", "1.1.1.1", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::"],
)
def test_public_addresses_pass(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("example.com", None),
        ("1.2.3.4.5", None),
        ("256.0.0.1", None),
    ],
)
def test_odd_address_spellings_are_read_as_a_resolver_would(host: str, address: str | None) -> None:
    found = host_address(host)
    assert (str(found) if found else None) == address


# --- check_url at submit --------------------------------------------------------------------

POLICY = FetchPolicy()


def png_data_uri(tmp_path: Path, width: int = 8, height: int = 8) -> str:
    data = make_png(tmp_path / "d.png", width, height).read_bytes()
    return "data:image/png;base64," + base64.b64encode(data).decode()


def refusal(url: str, kind: str = "image", policy: FetchPolicy = POLICY) -> InvalidMediaUrl:
    param = "image_urls[0]" if kind == "image" else "video_url"
    with pytest.raises(InvalidMediaUrl) as caught:
        check_url(url, kind, policy, param)  # type: ignore[arg-type]
    return caught.value


@pytest.mark.parametrize(
    "url",
    ["https://cdn.example.com/a.png", "http://example.com:8080/x?y=1", "https://bücher.de/", "HTTPS://EX.COM/"],
)
def test_public_http_urls_are_accepted(url: str) -> None:
    check_url(url, "image", POLICY, "image_url")
    check_url(url, "video", POLICY, "video_url")


def test_image_data_uris_are_accepted(tmp_path: Path) -> None:
    check_url(png_data_uri(tmp_path), "image", POLICY, "image_url")


@pytest.mark.parametrize(
    ("url", "written", "reason"),
    [
        ("http://127.0.0.1/a.png", "127.0.0.1", "loopback"),
        ("http://[::1]/a.png", "::1", "loopback"),
        ("http://0.0.0.0:8000/a.png", "0.0.0.0", "unspecified"),
        ("http://127.1/a.png", "127.0.0.1 (written '127.1')", "loopback"),
        ("http://2130706433/a.png", "127.0.0.1 (written '2130706433')", "loopback"),
        ("http://0177.0.0.1/a.png", "127.0.0.1 (written '0177.0.0.1')", "loopback"),
        ("http://0x7f.0.0.1/a.png", "127.0.0.1 (written '0x7f.0.0.1')", "loopback"),
        ("http://[::ffff:127.0.0.1]/a.png", "::ffff:7f00:1", "IPv4-mapped form of 127.0.0.1"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "cloud metadata"),
        ("http://10.0.0.5/a.png", "10.0.0.5", "private"),
        ("http://[fd00::5]/a.png", "fd00::5", "unique-local"),
        ("http://[fe80::1%25eth0]/a.png", "fe80::1", "link-local"),
        ("http://100.64.1.1/a.png", "100.64.1.1", "carrier-grade NAT"),
        ("http://127.0.0.1./a.png", "127.0.0.1", "loopback"),
        ("http://[::ffff:0:7f00:1]/", "::ffff:0:7f00:1", "IPv4-translated form of 127.0.0.1, a loopback"),
        ("http://[0:0:0:0:ffff:0:7f00:1]/a", "::ffff:0:7f00:1 (written '0:0:0:0:ffff:0:7f00:1')", "IPv4-translated"),
        ("http://[::ffff:0:127.0.0.1]/a", "::ffff:0:7f00:1 (written '::ffff:0:127.0.0.1')", "IPv4-translated"),
        ("http://[64:ff9b::127.0.0.1]/a", "64:ff9b::7f00:1 (written '64:ff9b::127.0.0.1')", "NAT64 form of 127.0.0.1"),
        ("http://[2002:7f00:1::1]/a", "2002:7f00:1::1", "6to4 form of 127.0.0.1"),
        ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo"),
    ],
)
def test_literal_refused_addresses_are_refused_at_submit(url: str, written: str, reason: str) -> None:
    for kind in ("image", "video"):
        error = refusal(url, kind)
        assert error.status == 400 and error.code == f"invalid_{kind}_url"
        assert f"points to {written}" in error.message and reason in error.message
        assert "only public internet addresses can be fetched" in error.message


@pytest.mark.parametrize("url", ["http://localhost/a", "http://LOCALHOST.:8080/a", "http://api.localhost/a"])
def test_localhost_names_are_refused_at_submit(url: str) -> None:
    assert "always this machine" in refusal(url).message


@pytest.mark.parametrize(
    ("url", "kind", "says"),
    [
        ("file:///etc/passwd", "image", "the scheme 'file'; only http and https URLs and data:image"),
        ("ftp://example.com/a.mp4", "video", "the scheme 'ftp'; only http and https URLs are accepted"),
        ("gopher://example.com:70/_x", "image", "the scheme 'gopher'"),
        ("javascript:alert(1)", "image", "the scheme 'javascript'"),
        ("/relative/a.png", "image", "has no scheme"),
        ("http:///a.png", "image", "has no host name"),
        ("http://user@example.com/a.png", "image", "user name or password"),
        ("http://user:pw@example.com/a.png", "video", "user name or password"),
        ("http://example.com\\@127.0.0.1/a.png", "image", "user name or password"),
        ("http://example.com:99999/a.png", "image", "the port 99999"),
        ("http://1.2.3.4.5/a.png", "image", "neither a valid IPv4 address nor a name"),
        ("http://256.1.1.1/a.png", "image", "is not a valid URL"),
        ("http://xn--127-0-0-1/a.png", "image", "is not a valid URL (Invalid A-label)"),
        ("http://xn--/", "video", "is not a valid URL"),
        ("http://xn--a.com/", "image", "is not a valid URL"),
        ("data:video/mp4;base64,AAAA", "video", "data: URIs are accepted for images only"),
        ("data:image/png;base64,AAAA", "video", "data: URIs are accepted for images only"),
        ("data:text/html;base64,PGgxPg==", "image", "the media type 'text/html'"),
        ("data:image/png,rawbytes", "image", "data:image/<type>;base64,<data>"),
        ("data:image/png;base64", "image", "data:image/<type>;base64,<data>"),
        ("data:image/png;base64,@@@@", "image", "not valid base64"),
    ],
)
def test_unfetchable_urls_are_refused_at_submit(url: str, kind: str, says: str) -> None:
    error = refusal(url, kind)
    assert error.code == f"invalid_{kind}_url" and error.param in ("image_urls[0]", "video_url")
    assert says in error.message


def test_data_uri_size_is_checked_before_decoding() -> None:
    url = "data:image/png;base64," + "A" * (16 * MB)  # 12 MB decoded
    assert refusal(url).message == "the data URI image is 12 MB, the limit is 10 MB"


def test_allow_list_exempts_named_hosts_addresses_and_networks() -> None:
    policy = FetchPolicy(allow_hosts=("localhost", "127.0.0.1", "10.0.0.0/8", "fd00::/8"))
    allowed = ["http://localhost:80/", "http://127.0.0.1/", "http://127.1/", "http://10.9.8.7/", "http://[fd00::1]/"]
    for url in allowed:
        check_url(url, "image", policy, "image_url")
    assert "loopback" in refusal("http://127.0.0.2/a", policy=policy).message
    assert "private" in refusal("http://192.168.0.1/a", policy=policy).message


def test_policy_reads_settings() -> None:
    settings = load_settings(
        fetch_allow_hosts=" fixture.test, 127.0.0.0/8 ,,[::1]",
        fetch_connect_timeout=1.5,
        fetch_read_timeout=7,
    )
    policy = FetchPolicy.from_settings(settings)
    assert policy.allow_hosts == ("fixture.test", "127.0.0.0/8", "[::1]")
    assert (policy.connect_timeout, policy.read_timeout) == (1.5, 7)
    assert (policy.max_image_bytes, policy.max_video_bytes, policy.max_redirects) == (10 * MB, 100 * MB, 5)
    assert policy.allows_name("FIXTURE.test.") and policy.allows_address(ipaddress.ip_address("::1"))
    assert FetchPolicy.from_settings(load_settings()).allow_hosts == ()


def test_policy_refuses_a_malformed_cidr() -> None:
    with pytest.raises(ValueError, match="10.0.0.0/33"):
        FetchPolicy(allow_hosts=("10.0.0.0/33",))


# --- the Fetcher, with no network at all ----------------------------------------------------


class StubResolver:
    """Answers name lookups from a table, host -> answers given in turn (the last one repeats),
    and records every lookup."""

    def __init__(self, table: dict[str, list[list[str]]]) -> None:
        self.table = table
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        turn = self.calls.count(host)
        self.calls.append(host)
        answers = self.table[host]
        return answers[min(turn, len(answers) - 1)]


def fetcher(resolver: Callable[[str, int], list[str]], transport: httpx.BaseTransport, **policy: object) -> Fetcher:
    return Fetcher(FetchPolicy(**policy), resolver=resolver, transport=transport)  # type: ignore[arg-type]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_names_resolving_to_refused_addresses_fail_without_a_connection(
    address: str, reason: str, tmp_path: Path
) -> None:
    resolver = StubResolver({"media.test": [[address]]})
    dest = tmp_path / "in.png"
    with pytest.raises(MediaError) as caught:
        fetcher(resolver, NoConnectTransport()).fetch("https://media.test/a.png", "image", dest)
    assert resolver.calls == ["media.test"]
    assert f"media.test resolves to {ipaddress.ip_address(address)}" in caught.value.message
    assert reason in caught.value.message and caught.value.reason == "url_refused"
    assert not caught.value.retryable
    assert list(tmp_path.iterdir()) == []


def test_one_refused_address_among_public_ones_refuses_the_name(tmp_path: Path) -> None:
    resolver = StubResolver({"media.test": [[PUBLIC_IP, "10.0.0.7"]]})
    with pytest.raises(MediaError, match="resolves to 10.0.0.7, a private address"):
        fetcher(resolver, NoConnectTransport()).fetch("http://media.test/a.png", "image", tmp_path / "a")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.png",
        "http://127.1/a.png",
        "http://0x7f.0.0.1/a.png",
        "http://[::ffff:127.0.0.1]/a.png",
        "http://[::ffff:0:7f00:1]/a.png",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost/a.png",
        "file:///etc/passwd",
        "gopher://127.0.0.1:25/_HELO",
    ],
)
def test_fetcher_repeats_the_submit_checks(url: str, tmp_path: Path) -> None:
    resolver = StubResolver({})
    with pytest.raises(MediaError) as caught:
        fetcher(resolver, NoConnectTransport()).fetch(url, "image", tmp_path / "a")
    assert caught.value.reason == "url_refused" and resolver.calls == []


def test_unresolvable_names_fail_retryably(tmp_path: Path) -> None:
    def no_such_host(host: str, port: int) -> list[str]:
        raise OSError(f"unknown host {host}")

    fetch = fetcher(no_such_host, NoConnectTransport())
    with pytest.raises(MediaError, match="could not be resolved") as caught:
        fetch.fetch("https://nowhere.test/a.png", "image", tmp_path / "a")
    assert caught.value.retryable


def test_names_the_resolver_cannot_encode_fail_without_a_retry(tmp_path: Path) -> None:
    """The system resolver encodes a name with Python's idna codec, which raises UnicodeError
    (not OSError) for a label longer than 63 characters: the task fails with a media error."""

    def like_the_system_resolver(host: str, port: int) -> list[str]:
        host.encode("idna")  # what socket.getaddrinfo does first with a str host
        raise AssertionError("the name was encoded")

    fetch = fetcher(like_the_system_resolver, NoConnectTransport())
    with pytest.raises(MediaError, match="is not a valid host name") as caught:
        fetch.fetch("https://" + "a" * 64 + ".example.com/a.png", "image", tmp_path / "a")
    assert not caught.value.retryable and caught.value.reason == "url_refused"


class Recorder(httpx.MockTransport):
    """Answers from ``respond(request)`` without any network, and keeps every request."""

    def __init__(self, respond: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []

        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return respond(request)

        super().__init__(handle)


def test_the_request_goes_to_the_checked_address_under_the_real_name(tmp_path: Path) -> None:
    png = make_png(tmp_path / "src.png", 64, 48).read_bytes()
    transport = Recorder(lambda request: httpx.Response(200, content=png))
    resolver = StubResolver({"cdn.test": [[PUBLIC_IP], ["10.0.0.1"]]})  # rebinding DNS: public, then private
    dest = fetcher(resolver, transport).fetch("https://cdn.test:8443/p/a.png?x=1", "image", tmp_path / "a").path
    assert dest.read_bytes() == png
    (request,) = transport.requests
    assert str(request.url) == f"https://{PUBLIC_IP}:8443/p/a.png?x=1"
    assert request.headers["host"] == "cdn.test:8443"
    assert request.extensions["sni_hostname"] == "cdn.test"
    assert request.headers["accept-encoding"] == "identity"
    assert resolver.calls == ["cdn.test"]  # resolved once; the second, private answer was never asked for


def test_every_redirect_is_checked_again(tmp_path: Path) -> None:
    png = make_png(tmp_path / "src.png", 8, 8).read_bytes()

    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/x/start":
            return httpx.Response(302, headers={"Location": "../img/a.png"})
        if request.url.path == "/img/a.png":
            return httpx.Response(301, headers={"Location": "http://other.test/b.png"})
        return httpx.Response(200, content=png)

    transport = Recorder(respond)
    resolver = StubResolver({"cdn.test": [[PUBLIC_IP]], "other.test": [["1.1.1.1"]]})
    fetcher(resolver, transport).fetch("https://cdn.test/x/start", "image", tmp_path / "a.png")
    assert [str(r.url) for r in transport.requests] == [
        f"https://{PUBLIC_IP}/x/start",
        f"https://{PUBLIC_IP}/img/a.png",
        "http://1.1.1.1/b.png",
    ]
    assert transport.requests[-1].headers["host"] == "other.test"
    assert resolver.calls == ["cdn.test", "cdn.test", "other.test"]


@pytest.mark.parametrize(
    ("location", "answer", "says"),
    [
        ("http://169.254.169.254/latest/meta-data/", None, "the cloud metadata address"),
        ("http://inside.test/", "192.168.0.10", "inside.test resolves to 192.168.0.10, a private address"),
        ("http://cdn.test/again", "127.0.0.1", "cdn.test resolves to 127.0.0.1, a loopback address"),
        ("file:///etc/passwd", None, "the scheme 'file'"),
        ("data:image/png;base64,AAAA", None, "the scheme 'data'"),
        ("http://localhost:8080/", None, "always this machine"),
        ("http://xn--a.com/", None, "http://xn--a.com/ is not a valid URL"),
        ("https://xn--127-0-0-1/a.png", None, "is not a valid URL (Invalid A-label)"),
        ("//xn--/a.png", None, "https://xn--/a.png is not a valid URL"),
    ],
)
def test_redirects_to_refused_targets_are_not_followed(
    location: str, answer: str | None, says: str, tmp_path: Path
) -> None:
    transport = Recorder(lambda request: httpx.Response(302, headers={"Location": location}))
    later = [answer or PUBLIC_IP]
    resolver = StubResolver({"cdn.test": [[PUBLIC_IP], later], "inside.test": [later]})
    with pytest.raises(MediaError) as caught:
        fetcher(resolver, transport).fetch("https://cdn.test/start", "image", tmp_path / "a.png")
    assert says in caught.value.message
    assert "reached by a redirect from https://cdn.test/start" in caught.value.message
    assert len(transport.requests) == 1


def test_redirects_are_limited(tmp_path: Path) -> None:
    transport = Recorder(lambda request: httpx.Response(302, headers={"Location": "/loop"}))
    resolver = StubResolver({"cdn.test": [[PUBLIC_IP]]})
    with pytest.raises(MediaError, match="redirects more than 2 times"):
        fetcher(resolver, transport, max_redirects=2).fetch("https://cdn.test/loop", "image", tmp_path / "a")
    assert len(transport.requests) == 3


def test_data_uri_images_are_decoded_and_checked(tmp_path: Path) -> None:
    fetch = fetcher(StubResolver({}), NoConnectTransport())
    dest = fetch.fetch(png_data_uri(tmp_path, 5, 7), "image", tmp_path / "d").path
    assert dest.read_bytes().startswith(b"\x89PNG")
    not_an_image = "data:image/png;base64," + base64.b64encode(b"<html>hello</html>").decode()
    with pytest.raises(MediaError) as caught:
        fetch.fetch(not_an_image, "image", tmp_path / "e")
    assert caught.value.message == (
        "the data URI is not a PNG, JPEG, WebP, GIF or BMP image (it starts like an HTML page)"
    )
    assert not (tmp_path / "e").exists()
