"""Test helpers for media: make real images and videos, serve them over local HTTP, and make
sure no test ever opens a connection outside loopback.

Makers write a file and return its path. :class:`FixtureServer` is a threaded HTTP server on
127.0.0.1 (random port) serving chosen bytes, statuses, headers and redirects, optionally slowly
or endlessly. :class:`NoConnectTransport` and :class:`LoopbackOnlyTransport` are httpx
transports for a Fetcher; :func:`loopback_only_sockets` guards the whole process.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from unittest import mock

import av
import httpx
import numpy as np
import pytest
import trustme
from PIL import Image

RGB = tuple[int, int, int]

# --- images and videos ----------------------------------------------------------------------


def make_image(path: Path, width: int, height: int, color: RGB = (200, 40, 40), *, fmt: str | None = None) -> Path:
    """A plain image in Pillow format ``fmt``, or the one the suffix names (.png, .jpg, .webp, .gif, .bmp)."""
    Image.new("RGB", (width, height), color).save(path, fmt)
    return path


def make_png(path: Path, width: int, height: int, color: RGB = (200, 40, 40)) -> Path:
    """A PNG, whatever the suffix says."""
    return make_image(path, width, height, color, fmt="PNG")


def make_jpeg_with_exif_orientation(
    path: Path, width: int, height: int, orientation: int, color: RGB = (40, 120, 200)
) -> Path:
    """A JPEG stored as ``width`` x ``height`` whose EXIF asks viewers to apply ``orientation`` (1-8)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.new("RGB", (width, height), color).save(path, "JPEG", exif=exif)
    return path


def make_png_bomb(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header declares ``width`` x ``height`` (its pixel data is not there)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    body = zlib.compress(b"\x00" * (width + 1))  # one row; a decoder would want `height` of them
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunks)
    return path


def make_mp4(
    path: Path,
    seconds: float,
    width: int,
    height: int,
    fps: int = 24,
    audio: bool = False,
    *,
    rotation: int = 0,
) -> Path:
    """An H.264 video of exactly ``seconds * fps`` frames, with a silent AAC track if ``audio``.

    The suffix picks the container (.mp4 or .mov); ``rotation`` stores a display rotation
    (degrees counter-clockwise) as phones do for portrait recordings.
    """
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast"}
        if rotation:
            video.set_display_rotation(rotation)
        sound = container.add_stream("aac", rate=_AUDIO_RATE, layout="mono") if audio else None
        for index in range(round(seconds * fps)):
            pixels = np.full((height, width, 3), (index * 7) % 256, np.uint8)
            container.mux(video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(video.encode())
        if sound is not None:
            _write_silence(container, sound, seconds)
    return path


_AUDIO_RATE = 48000


def _write_silence(container: av.container.OutputContainer, stream: av.AudioStream, seconds: float) -> None:
    total, done = round(seconds * _AUDIO_RATE), 0
    while done < total:
        samples = min(1024, total - done)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, samples), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = _AUDIO_RATE, done
        container.mux(stream.encode(frame))
        done += samples
    container.mux(stream.encode())


def make_tls_certificate(directory: Path, host: str) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate chain, server key) for ``host``: the server uses the
    last two, clients trust the first. Made in-process by trustme, no openssl command needed."""
    authority = trustme.CA()
    leaf = authority.issue_cert(host)
    ca_file, chain, key = directory / "ca.pem", directory / f"{host}.pem", directory / f"{host}.key"
    authority.cert_pem.write_to_path(str(ca_file))
    for blob in leaf.cert_chain_pems:
        blob.write_to_path(str(chain), append=True)
    leaf.private_key_pem.write_to_path(str(key))
    return ca_file, chain, key


# --- a local HTTP server --------------------------------------------------------------------


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before each chunk
    chunk_size: int = 64 * 1024
    endless: bool = False  # repeat the body until the client hangs up (no Content-Length)
    unavailable_first: int = 0  # answer this many requests 503 first (a server having a bad moment)


class FixtureServer:
    """A threaded HTTP/1.0 server on 127.0.0.1 for tests; use as a context manager.

    >>> with FixtureServer() as server:
    ...     url = server.serve("/a.png", png_bytes, headers={"Content-Type": "image/png"})

    With ``tls`` (a certificate and key file, see :func:`make_tls_certificate`) it speaks HTTPS
    and records the name each client asked for by SNI in ``sni_names``.
    """

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []  # (path, headers) in arrival order
        self.sni_names: list[str | None] = []
        self.scheme = "https" if tls else "http"
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        if tls:
            self._httpd.socket = self._tls_context(*tls).wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    def _tls_context(self, certificate: Path, key: Path) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        context.sni_callback = lambda connection, name, context: self.sni_names.append(name)
        return context

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def serve(self, path: str, body: bytes = b"", **route: object) -> str:
        """Serve ``body`` at ``path`` (see :class:`Route` for the options); returns its URL."""
        self.routes[path] = Route(body=body, **route)  # type: ignore[arg-type]
        return self.url(path)

    def serve_file(self, path: str, file: Path, **route: object) -> str:
        return self.serve(path, file.read_bytes(), **route)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        return self.serve(path, status=status, headers={"Location": location})

    @property
    def paths_requested(self) -> list[str]:
        return [path for path, _ in self.requests]

    def __enter__(self) -> FixtureServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append((self.path, dict(self.headers)))
                route = server.routes.get(self.path, Route(b"not found", status=404))
                if route.unavailable_first > 0:
                    route.unavailable_first -= 1
                    route = Route(b"try again later", status=503)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client hung up, as
                    self._respond(route)  # fetch does when it refuses a body

            def _respond(self, route: Route) -> None:
                self.send_response(route.status)
                headers = dict(route.headers)
                if not route.endless:
                    headers.setdefault("Content-Length", str(len(route.body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                for chunk in self._chunks(route):
                    if server._stopping.is_set():
                        return
                    time.sleep(route.delay)
                    self.wfile.write(chunk)
                    self.wfile.flush()

            @staticmethod
            def _chunks(route: Route) -> Iterator[bytes]:
                size = route.chunk_size
                pieces = [route.body[start : start + size] for start in range(0, len(route.body), size)]
                if not route.endless:
                    yield from pieces
                    return
                while True:
                    yield from pieces or [b"x"]

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


# --- no connection outside loopback ---------------------------------------------------------


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class NoConnectTransport(httpx.BaseTransport):
    """Fails the test if the code under test tries to send any request at all."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        pytest.fail(f"a connection was attempted: GET {request.url} (Host: {request.headers.get('host')})")


class LoopbackOnlyTransport(httpx.HTTPTransport):
    """The real network transport, but it fails the test before connecting anywhere but loopback."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not _is_loopback(request.url.host):
            pytest.fail(f"a connection outside loopback was attempted: {request.url}")
        return super().handle_request(request)


@contextmanager
def loopback_only_sockets() -> Iterator[None]:
    """Within the block, connecting a socket anywhere but loopback, or resolving any name but
    ``localhost``, fails the test, whatever code tries it."""
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo
    violations: list[str] = []

    def connect(sock: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else ""
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(host):
            violations.append(f"connect to {address}")
            pytest.fail(f"a connection outside loopback was attempted: {address}")
        real_connect(sock, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:  # type: ignore[type-arg]
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name != "localhost" and not _is_loopback(name):
            violations.append(f"resolve {name}")
            pytest.fail(f"a name lookup was attempted: {name}")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    with (
        mock.patch.object(socket.socket, "connect", connect),
        mock.patch.object(socket, "getaddrinfo", getaddrinfo),
    ):
        yield
    assert not violations, violations
