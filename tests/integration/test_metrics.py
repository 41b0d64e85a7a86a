"""GET /metrics over real HTTP: Prometheus' text format (read back with prometheus-client's own
parser), requests counted by route template and status, a task's life counted, the queue read
from the database, the token when one is set; and X-Request-ID on every answer, fast path or not."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import make_settings
from tests.server import Running, running_server

TOKEN = "metrics-token-0123456789"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(scrape: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(base: str, token: str | None = None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = httpx.get(base + "/metrics", headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return samples(r.text)


@pytest.fixture(scope="module")
def instant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    settings = make_settings(
        tmp_path_factory.mktemp("metrics"), provider="instant", poll_interval_seconds=0.1, metrics_cache_seconds=0
    )
    with running_server(settings) as running:
        yield running


def wait_done(client: httpx.Client, task_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while (task := client.get(f"/v1/tasks/{task_id}").json()["data"])["status"] not in ("completed", "failed"):
        assert time.monotonic() < deadline, task
        time.sleep(0.05)
    return task  # type: ignore[no-any-return]


def test_requests_and_a_task_life_are_counted_by_route_template_and_model(instant: Running) -> None:
    _, key = instant.new_account("100")
    before = scrape(instant.url)
    with instant.client(key) as client:
        task_id = client.post("/v1/videos/generations", json={"model": "kling-v2-6", "prompt": "a cat"}).json()["data"][
            0
        ]["task_id"]
        task = wait_done(client, task_id)
        assert task["status"] == "completed"
        polls = 1 + int(client.get(f"/v1/tasks/{task_id}").status_code == 200)  # at least the last two
        assert client.get("/v1/tasks/task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ").status_code == 404
        assert client.post("/v1/videos/generations", json={"model": "kling-v2-6"}).status_code == 400
        assert client.get("/v1/account").status_code == 200
        assert client.get("/no/such/path").status_code == 404
    after = scrape(instant.url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "vidgate_http_requests_total"
    assert delta(requests, method="POST", route="/v1/videos/generations", status="200") == 1
    assert delta(requests, method="POST", route="/v1/videos/generations", status="400") == 1
    assert delta(requests, method="GET", route="/v1/tasks/{task_id}", status="200") >= polls
    assert delta(requests, method="GET", route="/v1/tasks/{task_id}", status="404") == 1
    assert delta(requests, method="GET", route="/v1/account", status="200") == 1
    assert delta(requests, method="GET", route="unmatched", status="404") == 1
    assert delta("vidgate_http_request_duration_seconds_count", method="GET", route="/v1/account") == 1
    assert delta("vidgate_http_request_duration_seconds_sum", method="GET", route="/v1/account") > 0
    routes = {dict(labels).get("route", "") for (name, labels) in after if name == requests}
    assert not any(task_id in route or route.startswith("/no/") for route in routes), routes  # templates only

    assert delta("vidgate_tasks_submitted_total", model="kling-v2-6") == 1
    assert delta("vidgate_tasks_completed_total", model="kling-v2-6") == 1
    assert delta("vidgate_task_duration_seconds_count", model="kling-v2-6", provider="instant") == 1
    assert value(after, "vidgate_worker_slots") >= 2
    assert value(after, "vidgate_worker_slots_busy") >= 0
    # from the database: the queue is empty again, the task's price captured
    assert value(after, "vidgate_queue_depth", status="pending") == 0
    assert value(after, "vidgate_queue_oldest_pending_age_seconds") == 0
    assert value(after, "vidgate_money_captured_total") >= float(task["cost"])  # type: ignore[arg-type]


def test_a_request_id_is_echoed_or_made_on_every_route(instant: Running) -> None:
    _, key = instant.new_account("100")
    with instant.client(key) as client:
        submit = client.post(
            "/v1/videos/generations",
            json={"model": "kling-v2-6", "prompt": "a cat"},
            headers={"X-Request-ID": "client-id.1:a_b"},
        )
        assert submit.headers["x-request-id"] == "client-id.1:a_b"
        task_id = submit.json()["data"][0]["task_id"]
        answers = {
            "poll (fast path)": client.get(f"/v1/tasks/{task_id}"),
            "unknown task (fast path, 404)": client.get("/v1/tasks/task_nope"),
            "submit refused (fast path, 400)": client.post("/v1/videos/generations", json={}),
            "account": client.get("/v1/account"),
            "cancel": client.post(f"/v1/tasks/{task_id}/cancel"),
            "healthz": client.get("/healthz"),
            "unmatched": client.get("/nowhere"),
        }
        for what, answer in answers.items():
            made = answer.headers.get("x-request-id", "")
            assert len(made) == 32 and int(made, 16) >= 0, (what, answer.headers)
        assert len({a.headers["x-request-id"] for a in answers.values()}) == len(answers)  # one per request
        given = {"poll": ("GET", f"/v1/tasks/{task_id}"), "account": ("GET", "/v1/account"), "404": ("GET", "/x")}
        for what, (method, path) in given.items():
            r = client.request(method, path, headers={"X-Request-ID": f"rid-{what}"})
            assert r.headers["x-request-id"] == f"rid-{what}", what
        for insane in ("a" * 129, "two words", "semi;colon", ""):
            r = client.get(f"/v1/tasks/{task_id}", headers={"X-Request-ID": insane})
            assert r.headers["x-request-id"] != insane and len(r.headers["x-request-id"]) == 32, insane


def test_the_metrics_token_is_required_when_set(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, workers=False, metrics_token=TOKEN)
    with running_server(settings) as running:
        for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic abc"}):
            r = httpx.get(running.url + "/metrics", headers=headers)
            assert r.status_code == 401, headers
            assert r.json()["error"]["code"] == "invalid_metrics_token", r.json()
            assert r.json()["error"]["message"]
        assert scrape(running.url, TOKEN)
        _, key = running.new_account()
        r = httpx.get(running.url + "/metrics", headers={"Authorization": f"Bearer {key}"})  # an API key is not it
        assert r.status_code == 401
