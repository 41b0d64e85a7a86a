"""The server's own limits on connections, over real loopback sockets: a client must send its request
headers within VIDGATE_HEADER_TIMEOUT_SECONDS and its body without pausing longer than
VIDGATE_BODY_TIMEOUT_SECONDS (and, after that, at VIDGATE_BODY_MIN_BYTES_PER_SECOND on average);
one server holds at most VIDGATE_MAX_CONNECTIONS; what the HTTP parser refuses is answered in the
error envelope."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.server import Running, free_port, running_server
from vidgate.config import load_settings
from vidgate.serving import ConnectionLimits

HEADER_S = 1.0
BODY_S = 1.0
SLACK_S = 1.5  # timers, a loaded machine
CAP = 30


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    settings = make_settings(
        tmp_path_factory.mktemp("conn"),
        workers=False,
        header_timeout_seconds=HEADER_S,
        body_timeout_seconds=BODY_S,
        body_min_bytes_per_second=100,
        max_connections=CAP,
        keep_alive_seconds=5,
    )
    with running_server(settings) as running:
        yield running


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def closed_after(sock: socket.socket, started: float, within: float) -> float:
    """Seconds (since ``started``) until the server closed ``sock``, reading whatever it sent;
    fails if it is still open after ``within`` seconds."""
    sock.settimeout(max(0.01, started + within - time.monotonic()))
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        pytest.fail(f"the connection was still open after {within} s")
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def response(sock: socket.socket) -> tuple[int, bytes]:
    """Status and body of the one response the server sends before closing ``sock``."""
    data = b""
    sock.settimeout(10)
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def request(method: str, path: str, *headers: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: test", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(server: Running) -> None:
    started = time.monotonic()
    with connect(server.url) as sock:
        took = closed_after(sock, started, HEADER_S + SLACK_S)
    assert took >= HEADER_S * 0.9


def test_many_silent_connections_are_all_closed(server: Running) -> None:
    with ExitStack() as stack:
        started = time.monotonic()
        socks = [stack.enter_context(connect(server.url)) for _ in range(CAP - 5)]
        for sock in socks:
            closed_after(sock, started, HEADER_S + SLACK_S + 1)


def test_half_sent_headers_are_closed_after_the_header_timeout(server: Running) -> None:
    with connect(server.url) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /v1/tasks/task_x HTTP/1.1\r\nHost: test\r\nAuthorization: Bear")
        time.sleep(HEADER_S / 2)
        sock.sendall(b"er x\r\n")  # still coming, but the headers never end
        took = closed_after(sock, started, HEADER_S + SLACK_S)
    assert took >= HEADER_S * 0.9


def test_a_body_that_stops_is_closed_after_the_body_timeout(server: Running) -> None:
    with connect(server.url) as sock:
        sock.sendall(request("POST", "/v1/videos/generations", "Content-Length: 1000", body=b'{"model": '))
        started = time.monotonic()
        took = closed_after(sock, started, BODY_S + SLACK_S)
    assert took >= BODY_S * 0.9


def test_a_body_trickled_below_the_minimum_rate_is_closed(server: Running) -> None:
    """No pause is longer than the body timeout, but 10 bytes a second is below the 100 required."""
    with connect(server.url) as sock:
        sock.sendall(request("POST", "/v1/videos/generations", "Content-Length: 100000"))
        started = time.monotonic()
        sock.settimeout(0.01)
        while time.monotonic() - started < BODY_S + SLACK_S + 2:
            try:
                sock.sendall(b"x")
                if sock.recv(65536) == b"":
                    break
            except TimeoutError:
                time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                break
        else:
            pytest.fail("a trickled body kept its connection open")
        assert time.monotonic() - started < BODY_S + SLACK_S + 1


def test_a_slow_body_above_the_minimum_rate_is_answered(server: Running) -> None:
    _, secret = server.new_account()
    body = json.dumps({"model": "kling-v2-6", "prompt": "a cat " * 300}).encode()
    with connect(server.url) as sock:
        sock.sendall(
            request(
                "POST",
                "/v1/videos/generations",
                f"Authorization: Bearer {secret}",
                "Content-Type: application/json",
                f"Content-Length: {len(body)}",
                "Connection: close",
            )
        )
        for start in range(0, len(body), 300):  # 300 bytes every 0.5 s: 600 B/s, 3 s in all
            time.sleep(0.5)
            sock.sendall(body[start : start + 300])
        status, answer = response(sock)
    assert status == 200 and json.loads(answer)["data"][0]["status"] == "submitted"


def test_a_kept_alive_connection_gets_a_fresh_header_timeout_per_request(server: Running) -> None:
    _, secret = server.new_account()
    with connect(server.url) as sock:
        sock.settimeout(10)
        for _ in range(3):  # 3 x 0.6 s: longer than one header timeout in all
            time.sleep(0.6)
            sock.sendall(request("GET", "/v1/tasks/task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ", f"Authorization: Bearer {secret}"))
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 404"), answer[:100]
        started = time.monotonic()
        sock.sendall(b"GET /v1/tasks/task_x HTTP/1.1\r\n")  # the next request, never finished
        closed_after(sock, started, HEADER_S + SLACK_S)


def test_connections_beyond_the_cap_are_answered_503_and_closed(server: Running) -> None:
    with ExitStack() as stack:
        held = [stack.enter_context(connect(server.url)) for _ in range(CAP)]
        time.sleep(0.2)
        started = time.monotonic()
        with connect(server.url) as extra:
            status, body = response(extra)
        assert time.monotonic() - started < 1.0
        error = json.loads(body)
        assert status == 503 and error["code"] == 503 and error["error"]["code"] == "too_many_connections"
        for sock in held:
            sock.close()
    time.sleep(0.2)
    with connect(server.url) as sock:  # room again
        sock.sendall(request("GET", "/v1/tasks/task_x", "Connection: close"))
        status, _ = response(sock)
    assert status == 401


@pytest.mark.parametrize(
    "raw",
    [
        request("POST", "/v1/videos/generations", "Content-Length: -1"),
        request("GET", "/" + "a" * 65536),
        b"GET /\xff\xfe HTTP/1.1\r\nHost: test\r\n\r\n",
        request("POST", "/v1/videos/generations", "Transfer-Encoding: chunked", body=b"zz\r\n"),
    ],
    ids=["negative content-length", "64 KB path", "0xFF in the path", "bad chunk"],
)
def test_requests_the_http_parser_refuses_get_the_error_envelope(server: Running, raw: bytes) -> None:
    with connect(server.url) as sock:
        sock.sendall(raw)
        status, body = response(sock)
    error = json.loads(body)
    assert status == 400 and error["code"] == 400
    assert error["error"]["code"] == "invalid_http_request" and error["error"]["type"] == "invalid_request_error"


def test_the_limits_and_their_defaults_come_from_the_settings() -> None:
    assert ConnectionLimits.from_settings(load_settings()) == ConnectionLimits(
        header_timeout=10.0, body_timeout=15.0, body_min_rate=16 * 1024, max_connections=1000, keep_alive=5
    )


def test_the_cap_is_lowered_to_what_the_process_may_open(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    monkeypatch.setattr(resource, "getrlimit", lambda _: (1024, 1024))
    monkeypatch.setattr(resource, "setrlimit", lambda *_: None)
    assert ConnectionLimits(max_connections=5000).within_open_files().max_connections == 1024 - 200
    assert ConnectionLimits(max_connections=500).within_open_files().max_connections == 500


def test_vidgate_serve_enforces_the_limits_it_is_given(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "VIDGATE_DATA_DIR": str(tmp_path),
        "VIDGATE_HEADER_TIMEOUT_SECONDS": "1",
        "VIDGATE_MAX_CONNECTIONS": "3",
    }
    env.pop("VIDGATE_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidgate", "serve", "--no-workers", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                connect(url).close()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "vidgate serve did not start"
                time.sleep(0.1)
        time.sleep(0.3)
        with ExitStack() as stack:
            started = time.monotonic()
            held = [stack.enter_context(connect(url)) for _ in range(3)]
            with connect(url) as extra:
                assert response(extra)[0] == 503
            for sock in held:
                closed_after(sock, started, 1 + SLACK_S)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
