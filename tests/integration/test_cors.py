"""CORS over real HTTP: with VIDGATE_CORS_ORIGINS, preflights are answered on the hot-path
routes and FastAPI's alike and real answers (errors included) carry the headers, Retry-After
exposed; without it, no answer carries a CORS header and OPTIONS is a 405 as before."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.conftest import make_settings
from tests.server import Running, running_server
from vidgate.config import Settings

ORIGIN = "https://studio.example"
BODY = {"model": "kling-v2-6", "prompt": "a cat"}
PATHS = ["/v1/videos/generations", "/v1/tasks/task_01J9HA7JPQ9A0Z6JZ3V8M9W6PA", "/v1/account"]


@pytest.fixture(scope="module")
def cors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    settings = make_settings(
        tmp_path_factory.mktemp("cors"), workers=False, cors_origins=f"{ORIGIN}, http://localhost:5173"
    )
    with running_server(settings) as running:
        yield running


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with running_server(make_settings(tmp_path_factory.mktemp("plain"), workers=False)) as running:
        yield running


def preflight(
    origin: str, method: str = "POST", headers: str = "authorization, content-type, idempotency-key"
) -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}


@pytest.mark.parametrize("path", PATHS)
def test_preflights_are_answered_on_every_route(cors: Running, path: str) -> None:
    with cors.client(None) as client:
        answer = client.options(path, headers=preflight(ORIGIN))
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in answer.headers["access-control-allow-methods"]
    allowed = answer.headers["access-control-allow-headers"].lower()
    for header in ("authorization", "content-type", "idempotency-key", "accept-language"):
        assert header in allowed
    assert "access-control-allow-credentials" not in answer.headers


def test_real_answers_carry_the_headers_and_expose_retry_after(cors: Running) -> None:
    _, secret = cors.new_account(balance="10")
    with cors.client(secret) as client:
        submitted = client.post("/v1/videos/generations", json=BODY, headers={"Origin": ORIGIN})
        assert submitted.status_code == 200
        task_id = submitted.json()["data"][0]["task_id"]
        polled = client.get(f"/v1/tasks/{task_id}", headers={"Origin": ORIGIN})
        refused = client.get("/v1/tasks/task_nope", headers={"Origin": ORIGIN})
        routed = client.get("/v1/account", headers={"Origin": ORIGIN})
    for answer in (submitted, polled, refused, routed):
        assert answer.headers["access-control-allow-origin"] == ORIGIN
        assert "retry-after" in answer.headers["access-control-expose-headers"].lower()
        assert answer.headers["vary"].lower().count("origin") == 1
    assert refused.status_code == 404 and polled.status_code == routed.status_code == 200


def test_a_preflight_from_another_origin_is_refused_in_the_envelope(cors: Running) -> None:
    with cors.client(None) as client:
        answer = client.options("/v1/videos/generations", headers=preflight("https://evil.example"))
        odd_header = client.options("/v1/videos/generations", headers=preflight(ORIGIN, headers="x-secret"))
        stranger = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "cors_not_allowed" and "origin" in answer.json()["error"]["message"]
    assert odd_header.status_code == 400 and "headers" in odd_header.json()["error"]["message"]
    assert stranger.status_code == 200 and "access-control-allow-origin" not in stranger.headers


def test_without_origins_no_answer_carries_cors_headers(plain: Running) -> None:
    _, secret = plain.new_account()
    with plain.client(secret) as client:
        for path in PATHS:
            answer = client.options(path, headers=preflight(ORIGIN))
            assert answer.status_code == 405, answer.text
            assert answer.json()["error"]["code"] == "method_not_allowed"
            assert not any(h.startswith("access-control-") for h in answer.headers)
        submitted = client.post("/v1/videos/generations", json=BODY, headers={"Origin": ORIGIN})
    assert submitted.status_code == 200
    assert not any(h.startswith("access-control-") for h in submitted.headers)


def test_any_origin_with_a_star(tmp_path: Path) -> None:
    with running_server(make_settings(tmp_path, workers=False, cors_origins="*")) as running, running.client(None) as c:
        answer = c.options("/v1/tasks/task_x", headers=preflight("https://anywhere.example", method="GET"))
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    "bad", ["studio.example", "https://studio.example/", "https://studio.example/app", "https://a.example:99999x"]
)
def test_a_malformed_origin_stops_the_settings(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValidationError, match="VIDGATE_CORS_ORIGINS"):
        Settings(data_dir=tmp_path, cors_origins=f"{ORIGIN},{bad}")
    assert Settings(data_dir=tmp_path, cors_origins="http://[::1]:8080, *").cors_origin_list == [
        "http://[::1]:8080",
        "*",
    ]
