"""Fetch over real HTTP from a local fixture server: real files arrive and probe exactly; refused
targets, oversized and endless bodies, slow servers, bombs and impostors all fail the task.

Every Fetcher here uses LoopbackOnlyTransport and runs under loopback_only_sockets, so even a
broken guard cannot make a test connect anywhere but 127.0.0.1 / ::1.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.media_fixtures import (
    FixtureServer,
    LoopbackOnlyTransport,
    loopback_only_sockets,
    make_image,
    make_jpeg_with_exif_orientation,
    make_mp4,
    make_png,
    make_png_bomb,
    make_tls_certificate,
)
from vidgate.errors import InvalidMediaUrl, MediaError
from vidgate.media.fetch import MB, Fetcher, FetchPolicy, check_url
from vidgate.media.probe import ImageInfo, VideoInfo, probe_image, probe_video

LOCAL = ("127.0.0.1", "localhost")


@pytest.fixture(autouse=True)
def _sockets_stay_on_loopback() -> Iterator[None]:
    with loopback_only_sockets():
        yield


@pytest.fixture
def server() -> Iterator[FixtureServer]:
    with FixtureServer() as running:
        yield running


def fetcher(
    allow: tuple[str, ...] = LOCAL, resolver: Callable[[str, int], list[str]] | None = None, **limits: object
) -> Fetcher:
    policy = FetchPolicy(allow_hosts=allow, **limits)  # type: ignore[arg-type]
    return Fetcher(policy, resolver=resolver, transport=LoopbackOnlyTransport())


def resolving(table: dict[str, list[str]]) -> Callable[[str, int], list[str]]:
    return lambda host, port: table[host]


def failure(fetch: Fetcher, url: str, kind: str, dest: Path) -> MediaError:
    with pytest.raises(MediaError) as caught:
        fetch.fetch(url, kind, dest)  # type: ignore[arg-type]
    assert not dest.exists()
    assert [p.name for p in dest.parent.iterdir() if p.name.endswith(".part")] == []
    return caught.value


# --- what arrives is exactly what was served -------------------------------------------------


IMAGE_FILES = [("a.png", "png"), ("a.jpg", "jpeg"), ("a.webp", "webp"), ("a.gif", "gif"), ("a.bmp", "bmp")]


@pytest.mark.parametrize(("name", "fmt"), IMAGE_FILES)
def test_images_arrive_and_probe_exactly(name: str, fmt: str, server: FixtureServer, tmp_path: Path) -> None:
    source = make_image(tmp_path / name, 321, 123)
    url = server.serve_file(f"/media/{name}", source, headers={"Content-Type": "application/octet-stream"})
    check_url(url, "image", FetchPolicy(allow_hosts=LOCAL), "image_url")
    dest = fetcher().fetch(url, "image", tmp_path / "in" / "00-first_frame.bin").path
    assert dest.read_bytes() == source.read_bytes()
    assert probe_image(dest) == ImageInfo(format=fmt, width=321, height=123)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["00-first_frame.bin"]


def test_a_rotated_jpeg_probes_as_displayed(server: FixtureServer, tmp_path: Path) -> None:
    source = make_jpeg_with_exif_orientation(tmp_path / "photo.jpg", 400, 300, orientation=6)
    url = server.serve_file("/photo.jpg", source, headers={"Content-Type": "image/jpeg"})
    dest = fetcher().fetch(url, "image", tmp_path / "photo").path
    assert probe_image(dest) == ImageInfo(format="jpeg", width=300, height=400)


@pytest.mark.parametrize(
    ("name", "seconds", "audio", "container"),
    [("clip.mp4", 3.0, False, "mp4"), ("talk.mp4", 4.0, True, "mp4"), ("clip.mov", 2.5, True, "mov")],
)
def test_videos_arrive_and_probe_exactly(
    name: str, seconds: float, audio: bool, container: str, server: FixtureServer, tmp_path: Path
) -> None:
    source = make_mp4(tmp_path / name, seconds, 320, 240, audio=audio)
    url = server.serve_file(f"/{name}", source, headers={"Content-Type": "text/plain"})
    dest = fetcher().fetch(url, "video", tmp_path / "in" / "01-motion.video").path
    assert probe_video(dest) == VideoInfo(
        container=container,
        duration=seconds,
        width=320,
        height=240,
        has_audio=audio,
        size_bytes=source.stat().st_size,
    )


def test_a_host_name_on_the_allow_list_is_fetched(server: FixtureServer, tmp_path: Path) -> None:
    png = make_png(tmp_path / "a.png", 10, 20)
    server.serve_file("/a.png", png)
    resolver = resolving({"fixture.test": ["127.0.0.1"]})
    fetch = fetcher(allow=("fixture.test",), resolver=resolver)
    dest = fetch.fetch(server.url("/a.png", "fixture.test"), "image", tmp_path / "d").path
    assert dest.read_bytes() == png.read_bytes()
    assert server.requests[0][1]["Host"] == f"fixture.test:{server.port}"


def test_allowed_localhost_goes_through_the_system_resolver(server: FixtureServer, tmp_path: Path) -> None:
    png = make_png(tmp_path / "a.png", 10, 20)
    server.serve_file("/a.png", png)
    dest = fetcher(allow=("localhost",)).fetch(server.url("/a.png", "localhost"), "image", tmp_path / "d").path
    assert dest.read_bytes() == png.read_bytes()


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    return make_tls_certificate(tmp_path, "media.test")


def test_https_connects_to_the_checked_address_and_verifies_the_real_name(
    tls_files: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    png = make_png(tmp_path / "a.png", 12, 8)
    transport = LoopbackOnlyTransport(verify=ssl.create_default_context(cafile=tls_files[0]))
    resolver = resolving({"media.test": ["127.0.0.1"], "impostor.test": ["127.0.0.1"]})
    policy = FetchPolicy(allow_hosts=("media.test", "impostor.test"))
    fetch = Fetcher(policy, resolver=resolver, transport=transport)
    with FixtureServer(tls=tls_files[1:]) as server:
        server.serve_file("/a.png", png)
        dest = fetch.fetch(server.url("/a.png", "media.test"), "image", tmp_path / "d").path
        assert dest.read_bytes() == png.read_bytes()
        error = failure(fetch, server.url("/a.png", "impostor.test"), "image", tmp_path / "e")
    assert "certificate is not valid for 'impostor.test'" in error.message
    assert server.sni_names == ["media.test", "impostor.test"]
    assert server.requests == [("/a.png", server.requests[0][1])]
    assert server.requests[0][1]["Host"] == f"media.test:{server.port}"


def test_each_fetch_has_its_own_connection_but_the_ca_bundle_is_read_once(
    tls_files: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default transport: a new one (and TLS handshake) per fetch, so no connection made for
    one name serves another on the same address; the TLS settings, whose CA bundle costs ~30 ms
    of processor time to read, made once per Fetcher."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files[0]))
    made: list[ssl.SSLContext] = []
    real = httpx.create_ssl_context
    monkeypatch.setattr(httpx, "create_ssl_context", lambda *a, **k: made.append(real(*a, **k)) or made[-1])
    png = make_png(tmp_path / "a.png", 12, 8)
    fetch = Fetcher(FetchPolicy(allow_hosts=("media.test",)), resolver=resolving({"media.test": ["127.0.0.1"]}))
    with FixtureServer(tls=tls_files[1:]) as server:
        server.serve_file("/a.png", png)
        for n in range(3):
            assert fetch.fetch(server.url("/a.png", "media.test"), "image", tmp_path / f"d{n}").path.stat().st_size
    assert len(made) == 1
    assert server.sni_names == ["media.test"] * 3


def test_relative_redirects_are_followed(server: FixtureServer, tmp_path: Path) -> None:
    png = make_png(tmp_path / "a.png", 16, 9)
    server.serve_file("/files/a.png", png)
    server.redirect("/go", "/hop")
    url = server.redirect("/hop", "files/a.png", status=307)
    dest = fetcher().fetch(server.url("/go"), "image", tmp_path / "d").path
    assert dest.read_bytes() == png.read_bytes() and url.endswith("/hop")
    assert server.paths_requested == ["/go", "/hop", "/files/a.png"]


# --- loopback targets with an empty allow-list -----------------------------------------------

LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "[::1]",
    "0.0.0.0",
    "127.1",
    "2130706433",
    "0177.0.0.1",
    "0x7f.0.0.1",
    "[::ffff:127.0.0.1]",
    "localhost",
]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_loopback_spellings_are_refused_at_submit_and_in_the_worker(
    host: str, server: FixtureServer, tmp_path: Path
) -> None:
    png = make_png(tmp_path / "a.png", 10, 10)
    server.serve_file("/a.png", png)
    url = f"http://{host}:{server.port}/a.png"
    with pytest.raises(InvalidMediaUrl) as at_submit:
        check_url(url, "image", FetchPolicy(), "image_url")
    assert at_submit.value.code == "invalid_image_url"
    error = failure(fetcher(allow=()), url, "image", tmp_path / "d")
    assert error.reason == "url_refused"
    assert any(word in error.message for word in ("this machine", "loopback", "unspecified"))
    assert server.requests == []


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("::1", "::1"),
        ("0.0.0.0", "0.0.0.0"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("127.0.0.53", "127.0.0.53"),
    ],
)
def test_names_resolving_to_loopback_fail_the_task(
    address: str, shown: str, server: FixtureServer, tmp_path: Path
) -> None:
    server.serve_file("/a.png", make_png(tmp_path / "a.png", 10, 10))
    url = server.url("/a.png", "innocent.test")
    check_url(url, "image", FetchPolicy(), "image_url")  # a name: nothing to see at submit
    fetch = fetcher(allow=(), resolver=resolving({"innocent.test": [address]}))
    error = failure(fetch, url, "image", tmp_path / "d")
    assert f"innocent.test resolves to {shown}, " in error.message
    assert server.requests == []


def test_localhost_with_the_system_resolver_is_refused(server: FixtureServer, tmp_path: Path) -> None:
    server.serve_file("/a.png", make_png(tmp_path / "a.png", 10, 10))
    error = failure(fetcher(allow=()), server.url("/a.png", "localhost"), "image", tmp_path / "d")
    assert "always this machine (loopback)" in error.message
    assert server.requests == []


@pytest.mark.parametrize(
    ("location", "says"),
    [
        ("http://127.0.0.1:{port}/secret", "points to 127.0.0.1, a loopback address"),
        ("http://localhost:{port}/secret", "always this machine"),
        ("http://metadata.test/latest/", "resolves to 169.254.169.254, the cloud metadata address"),
        ("http://intranet.test/", "intranet.test resolves to 10.1.2.3, a private address"),
        ("http://[fd00::1]/", "unique-local"),
        ("file:///etc/passwd", "the scheme 'file'"),
    ],
)
def test_a_redirect_from_an_allowed_host_to_a_refused_one_is_not_followed(
    location: str, says: str, server: FixtureServer, tmp_path: Path
) -> None:
    server.serve("/secret", b"top secret")
    server.redirect("/start", location.format(port=server.port))
    resolver = resolving(
        {"fixture.test": ["127.0.0.1"], "metadata.test": ["169.254.169.254"], "intranet.test": ["10.1.2.3"]}
    )
    fetch = fetcher(allow=("fixture.test",), resolver=resolver)
    error = failure(fetch, server.url("/start", "fixture.test"), "image", tmp_path / "d")
    assert says in error.message and "reached by a redirect from" in error.message
    assert server.paths_requested == ["/start"]


def test_more_than_five_redirects_fail(server: FixtureServer, tmp_path: Path) -> None:
    for n in range(7):
        server.redirect(f"/r{n}", f"/r{n + 1}")
    error = failure(fetcher(), server.url("/r0"), "image", tmp_path / "d")
    assert "redirects more than 5 times" in error.message
    assert server.paths_requested == [f"/r{n}" for n in range(6)]


# --- sizes and time -------------------------------------------------------------------------


def test_a_declared_oversize_body_is_refused_before_reading(server: FixtureServer, tmp_path: Path) -> None:
    declared = {"Content-Length": str(12 * MB + 1)}
    url = server.serve("/big.png", b"\x89PNG\r\n\x1a\n", endless=True, headers=declared)
    error = failure(fetcher(), url, "image", tmp_path / "d")
    assert error.message == f"{url} is 12.1 MB (by its Content-Length), the limit for images is 10 MB"
    assert error.reason == "too_large" and not error.retryable


@pytest.mark.parametrize(
    ("kind", "limits", "limit"), [("image", {}, "10 MB"), ("video", {"max_video_bytes": 2 * MB}, "2 MB")]
)
def test_a_body_that_never_ends_is_cut_off_at_the_cap(
    kind: str, limits: dict[str, int], limit: str, server: FixtureServer, tmp_path: Path
) -> None:
    url = server.serve("/endless", b"\x00" * 65536, endless=True)
    error = failure(fetcher(**limits), url, kind, tmp_path / "d")
    assert error.message == f"{url} is larger than {limit}, the limit for {kind}s; the download was stopped"


def test_a_server_that_stops_sending_times_out(server: FixtureServer, tmp_path: Path) -> None:
    url = server.serve("/slow.png", make_png(tmp_path / "a.png", 50, 50).read_bytes(), delay=2.0)
    error = failure(fetcher(read_timeout=0.2), url, "image", tmp_path / "d")
    assert error.message == f"{url} sent nothing for 0.2 s; the download was abandoned"
    assert error.retryable


def test_a_trickling_server_hits_the_overall_deadline(server: FixtureServer, tmp_path: Path) -> None:
    url = server.serve("/trickle.png", b"\x89PNG", endless=True, delay=0.05, chunk_size=1)
    error = failure(fetcher(total_timeout=0.5, read_timeout=1.0), url, "image", tmp_path / "d")
    assert error.message == f"downloading {url} took longer than 0.5 s, the limit"


# --- content: checked by its bytes, never by name or Content-Type ---------------------------


@pytest.mark.parametrize(
    ("path", "body", "content_type", "kind", "says"),
    [
        ("/a.mp4", b"some text\n", "video/mp4", "video", "not an MP4 or MOV video (it starts like a text file)"),
        ("/a.png", b"<!DOCTYPE html><html>Hi</html>", "image/png", "image", "(it starts like an HTML page)"),
        ("/a.jpg", b'{"error": "gone"}', "image/jpeg", "image", "(it starts like a text file)"),
        ("/empty.png", b"", "image/png", "image", "is empty; it must be a PNG, JPEG, WebP, GIF or BMP image"),
        ("/a.mp4", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "video/mp4", "video", "(it starts like a PNG image)"),
    ],
)
def test_impostors_are_refused(
    path: str, body: bytes, content_type: str, kind: str, says: str, server: FixtureServer, tmp_path: Path
) -> None:
    url = server.serve(path, body, headers={"Content-Type": content_type})
    error = failure(fetcher(), url, kind, tmp_path / "d")
    assert error.message.startswith(url) and says in error.message
    assert error.reason == "invalid_media"


@pytest.mark.parametrize(
    ("width", "height", "says"),
    [(30000, 30000, "declares more than 179 megapixels"), (7000, 7000, "is 7000x7000 pixels (49.0 megapixels)")],
)
def test_png_bombs_are_refused(width: int, height: int, says: str, server: FixtureServer, tmp_path: Path) -> None:
    bomb = make_png_bomb(tmp_path / "bomb.png", width, height)
    assert bomb.stat().st_size < 20_000
    url = server.serve_file("/bomb.png", bomb)
    error = failure(fetcher(), url, "image", tmp_path / "d")
    assert error.message.startswith(url) and says in error.message
    assert error.message.endswith("the limit is 40 megapixels")


@pytest.mark.parametrize(
    ("status", "retryable"), [(404, False), (403, False), (410, False), (429, True), (500, True), (503, True)]
)
def test_non_2xx_statuses_fail_naming_the_status(
    status: int, retryable: bool, server: FixtureServer, tmp_path: Path
) -> None:
    url = server.serve("/a.png", b"nope", status=status)
    error = failure(fetcher(), url, "image", tmp_path / "d")
    assert f"{url} answered HTTP {status} " in error.message
    assert error.retryable is retryable and error.reason == "fetch_failed"


def test_a_redirect_without_location_is_a_failure(server: FixtureServer, tmp_path: Path) -> None:
    url = server.serve("/a.png", b"", status=302)
    assert "answered HTTP 302 Found" in failure(fetcher(), url, "image", tmp_path / "d").message


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/a.mp4", "gopher://127.0.0.1:70/_x"])
def test_other_schemes_fail(url: str, tmp_path: Path) -> None:
    error = failure(fetcher(), url, "video", tmp_path / "d")
    assert "only http and https URLs are accepted" in error.message


def test_a_connection_refused_is_a_retryable_failure(tmp_path: Path) -> None:
    with FixtureServer() as closed:
        url = closed.url("/a.png")
    error = failure(fetcher(), url, "image", tmp_path / "d")
    assert error.message.startswith(f"could not connect to {url}") and error.retryable


def test_data_uris_need_no_network(tmp_path: Path) -> None:
    png = make_png(tmp_path / "a.png", 3, 4).read_bytes()
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    dest = fetcher(allow=()).fetch(url, "image", tmp_path / "d").path
    assert probe_image(dest) == ImageInfo("png", 3, 4)
