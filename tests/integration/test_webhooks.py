"""Webhooks through the real API, real workers and a real receiver on loopback: every delivery
is verified with the ``standardwebhooks`` package, as a receiver would."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from tests.integration.test_task_lifecycle import wait_for
from tests.receiver import Answer, Receiver, receiver
from tests.server import Running, free_port, running_server

PUBLIC = "http://vidgate.test"
GOOD = {"model": "kling-v2-6", "prompt": "a cat"}


def webhook_settings(tmp_path: Path, **overrides: object) -> dict[str, object]:
    return {
        "provider": "instant",
        "poll_interval_seconds": 0.1,
        "webhook_retry_scale": 0.01,  # 5 s, 5 min, ... become 0.05 s, 3 s, ...
        "public_url": PUBLIC,
        **overrides,
    }


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    path = tmp_path_factory.mktemp("webhooks")
    with running_server(make_settings(path, **webhook_settings(path))) as running:
        yield running


@pytest.fixture()
def rec() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def submit(client: httpx.Client, **extra: object) -> str:
    r = client.post("/v1/videos/generations", json={**GOOD, **extra})
    assert r.status_code == 200, r.text
    return str(r.json()["data"][0]["task_id"])


def create_endpoint(client: httpx.Client, url: str, events: list[str] | None = None) -> dict:
    body: dict[str, object] = {"url": url}
    if events is not None:
        body["events"] = events
    r = client.post("/v1/webhooks", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json()["data"])


def default_secret(client: httpx.Client) -> str:
    r = client.get("/v1/webhooks/default/secret")
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["secret"])


def settle(seconds: float = 0.5) -> None:
    """Let anything more that was going to arrive arrive."""
    time.sleep(seconds)


def test_callback_url_gets_processing_and_completed_signed_with_the_default_secret(
    live: Running, rec: Receiver
) -> None:
    _, key = live.new_account()
    with live.client(key) as client:
        task_id = submit(client, callback_url=rec.url)
        got = rec.wait_for(2)
        settle()
        payloads = rec.verified(default_secret(client))
        assert sorted(p["type"] for p in payloads) == ["task.completed", "task.processing"]
        completed = next(p for p in payloads if p["type"] == "task.completed")
        assert completed["data"] == client.get(f"/v1/tasks/{task_id}").json()["data"]
        assert completed["data"]["result"]["videos"][0]["url"][0].startswith(f"{PUBLIC}/files/")
        processing = next(p for p in payloads if p["type"] == "task.processing")
        assert processing["data"]["id"] == task_id and processing["data"]["status"] == "processing"
        assert len({r.headers["webhook-id"] for r in got}) == 2
        for r in got:
            assert r.headers["webhook-signature"].startswith("v1,")
            assert abs(int(r.headers["webhook-timestamp"]) - time.time()) < 60
            assert json.loads(r.body)["timestamp"].endswith("Z")


def test_a_wrong_secret_does_not_verify(live: Running, rec: Receiver) -> None:
    _, key = live.new_account()
    _, other_key = live.new_account()
    with live.client(key) as client, live.client(other_key) as other:
        submit(client, callback_url=rec.url)
        rec.wait_for(2)
        with pytest.raises(Exception, match="(?i)signature"):
            rec.verified(default_secret(other))


def test_account_endpoints_get_the_types_they_subscribe_to(live: Running) -> None:
    _, key = live.new_account()
    with receiver() as everything, receiver() as failures, live.client(key) as client:
        every = create_endpoint(client, everything.url)
        assert every["events"] == ["task.processing", "task.completed", "task.failed", "task.cancelled"]
        assert every["id"].startswith("wh_") and every["secret"].startswith("whsec_")
        only_failed = create_endpoint(client, failures.url, ["task.failed"])
        ok = submit(client)
        bad = submit(client, image_urls=[failures.url.replace("/hook", "/missing.png")])  # answers 404
        wait_for(client, ok, {"completed"})
        assert wait_for(client, bad, {"failed"})["status"] == "failed"
        everything.wait_for(4)
        failures.wait_for(1)
        settle()
        every_payloads = everything.verified(every["secret"])
        assert sorted((p["data"]["id"], p["type"]) for p in every_payloads) == sorted(
            [(ok, "task.processing"), (ok, "task.completed"), (bad, "task.processing"), (bad, "task.failed")]
        )
        failed = failures.verified(only_failed["secret"])
        assert [(p["data"]["id"], p["type"]) for p in failed] == [(bad, "task.failed")]
        assert failed[0]["data"] == client.get(f"/v1/tasks/{bad}").json()["data"]
        assert failed[0]["data"]["error"]["code"] == "task_failed"


def test_a_pending_task_cancelled_is_told(tmp_path: Path, rec: Receiver) -> None:
    with running_server(make_settings(tmp_path, **webhook_settings(tmp_path), workers=False)) as api:
        _, key = api.new_account()
        with api.client(key) as client:
            task_id = submit(client, callback_url=rec.url)
            assert client.post(f"/v1/tasks/{task_id}/cancel").status_code == 200
            rec.wait_for(1)
            settle()
            (payload,) = rec.verified(default_secret(client))
            assert payload["type"] == "task.cancelled"
            assert payload["data"] == client.get(f"/v1/tasks/{task_id}").json()["data"]
            assert payload["data"]["error"]["code"] == "task_cancelled"


def test_a_failing_receiver_is_retried_with_the_same_id_and_body(live: Running, rec: Receiver) -> None:
    rec.answer = lambda n, r: Answer(500 if n < 2 else 200)
    _, key = live.new_account()
    with live.client(key) as client:
        endpoint = create_endpoint(client, rec.url, ["task.completed"])
        submit(client)
        got = rec.wait_for(3)
        settle()
        assert len(rec.received) == 3
        assert len({r.headers["webhook-id"] for r in got}) == 1
        assert len({r.body for r in got}) == 1
        rec.verified(endpoint["secret"])
        (delivery,) = client.get(f"/v1/webhooks/{endpoint['id']}/deliveries").json()["data"]
        assert delivery["state"] == "delivered"
        assert [a["status"] for a in delivery["attempts"]] == [500, 500, 200]
        assert all(a["error"] is None and a["duration_ms"] >= 0 and a["time"] > 0 for a in delivery["attempts"])


def test_retry_after_is_honoured(live: Running, rec: Receiver) -> None:
    rec.answer = lambda n, r: Answer(503, {"Retry-After": "2"}) if n == 0 else Answer(200)
    _, key = live.new_account()
    with live.client(key) as client:
        create_endpoint(client, rec.url, ["task.completed"])
        submit(client)
        first, second = rec.wait_for(2, timeout=30)
        assert second.at - first.at >= 1.9  # the schedule alone (scaled) would wait 0.05 s


def test_410_gone_disables_the_endpoint(live: Running, rec: Receiver) -> None:
    rec.answer = lambda n, r: Answer(410)
    _, key = live.new_account()
    with live.client(key) as client:
        endpoint = create_endpoint(client, rec.url, ["task.completed"])
        task_id = submit(client)
        wait_for(client, task_id, {"completed"})
        rec.wait_for(1)
        settle(1.0)
        assert len(rec.received) == 1  # not retried after the 410
        shown = client.get(f"/v1/webhooks/{endpoint['id']}").json()["data"]
        assert shown["enabled"] is False and "410" in shown["disabled_reason"]
        (delivery,) = client.get(f"/v1/webhooks/{endpoint['id']}/deliveries").json()["data"]
        assert delivery["state"] == "failed" and [a["status"] for a in delivery["attempts"]] == [410]
        wait_for(client, submit(client), {"completed"})
        settle(1.0)
        assert len(rec.received) == 1  # a disabled endpoint is sent nothing


def test_redirects_are_not_followed(live: Running) -> None:
    with receiver() as redirecting, receiver() as elsewhere:
        redirecting.answer = lambda n, r: Answer(307, {"Location": elsewhere.url}) if n == 0 else Answer(200)
        _, key = live.new_account()
        with live.client(key) as client:
            endpoint = create_endpoint(client, redirecting.url, ["task.completed"])
            submit(client)
            redirecting.wait_for(2)
            settle()
            assert elsewhere.received == []
            (delivery,) = client.get(f"/v1/webhooks/{endpoint['id']}/deliveries").json()["data"]
            assert [a["status"] for a in delivery["attempts"]] == [307, 200]


def test_a_receiver_down_for_a_while_gets_every_event_once_back(live: Running) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    _, key = live.new_account()
    with live.client(key) as client:
        endpoint = create_endpoint(client, url)
        ids = [submit(client) for _ in range(3)]
        for task_id in ids:
            wait_for(client, task_id, {"completed"})
        settle(0.5)
        deliveries = client.get(f"/v1/webhooks/{endpoint['id']}/deliveries").json()["data"]
        assert len(deliveries) == 6 and all(d["state"] == "pending" for d in deliveries)
        assert all(a["status"] is None and a["error"] for d in deliveries for a in d["attempts"])
        with receiver(port) as back:  # the second retry is 3 s after the first (scaled)
            back.wait_for(6, timeout=30)
            settle()
            payloads = back.verified(endpoint["secret"])
        assert sorted((p["data"]["id"], p["type"]) for p in payloads) == sorted(
            (task_id, kind) for task_id in ids for kind in ("task.processing", "task.completed")
        )


def test_a_slow_receiver_delays_neither_another_receiver_nor_tasks(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, **webhook_settings(tmp_path), webhook_timeout_seconds=5.0, worker_concurrency=4)
    with running_server(settings) as server, receiver() as slow, receiver() as fast:
        slow.answer = lambda n, r: Answer(200, delay=4.0)
        _, key = server.new_account()
        with server.client(key) as client:
            create_endpoint(client, slow.url)
            create_endpoint(client, fast.url)
            started = time.monotonic()
            ids = [submit(client) for _ in range(6)]
            for task_id in ids:
                wait_for(client, task_id, {"completed"})
            assert time.monotonic() - started < 3.0
            fast.wait_for(12, timeout=3.0)
            assert time.monotonic() - started < 3.0


def test_accounts_see_and_manage_only_their_own(live: Running, rec: Receiver) -> None:
    _, mine = live.new_account()
    _, theirs = live.new_account()
    with live.client(mine) as me, live.client(theirs) as them:
        endpoint = create_endpoint(me, rec.url)
        assert [e["id"] for e in them.get("/v1/webhooks").json()["data"]] == []
        assert [e["id"] for e in me.get("/v1/webhooks").json()["data"]] == [endpoint["id"]]
        assert "secret" not in me.get("/v1/webhooks").json()["data"][0]
        path = f"/v1/webhooks/{endpoint['id']}"
        for method, url in [
            ("GET", path),
            ("PATCH", path),
            ("DELETE", path),
            ("POST", f"{path}/rotate-secret"),
            ("GET", f"{path}/deliveries"),
            ("POST", f"{path}/deliveries/whd_x/redeliver"),
        ]:
            r = them.request(method, url, json={"enabled": False} if method == "PATCH" else None)
            assert r.status_code == 404, (method, url, r.text)
            assert r.json()["error"]["code"] == "webhook_not_found"
        assert me.get(path).json()["data"]["enabled"] is True


def test_manage_an_endpoint(live: Running, rec: Receiver) -> None:
    _, key = live.new_account()
    with live.client(key) as client, receiver() as other:
        endpoint = create_endpoint(client, rec.url, ["task.completed"])
        path = f"/v1/webhooks/{endpoint['id']}"
        changed = client.patch(path, json={"url": other.url, "events": ["task.processing"], "description": "d"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["data"]["url"] == other.url and changed.json()["data"]["events"] == ["task.processing"]
        kept = client.patch(path, json={"url": None, "events": None, "enabled": None, "description": None})
        assert kept.status_code == 200, kept.text
        assert kept.json()["data"]["url"] == other.url and kept.json()["data"]["description"] is None
        rotated = client.post(f"{path}/rotate-secret").json()["data"]
        assert rotated["secret"] != endpoint["secret"] and rotated["secret"].startswith("whsec_")
        submit(client)
        other.wait_for(1)
        settle()
        (payload,) = other.verified(rotated["secret"])
        assert payload["type"] == "task.processing" and rec.received == []
        (delivery,) = client.get(f"{path}/deliveries").json()["data"]
        again = client.post(f"{path}/deliveries/{delivery['id']}/redeliver")
        assert again.status_code == 200, again.text
        other.wait_for(2)
        first, second = other.received
        assert first.headers["webhook-id"] == second.headers["webhook-id"] and first.body == second.body
        assert client.post(f"{path}/deliveries/whd_nope/redeliver").json()["error"]["code"] == "delivery_not_found"
        assert client.patch(path, json={"enabled": False}).json()["data"]["enabled"] is False
        assert client.delete(path).json()["data"] == {"id": endpoint["id"], "deleted": True}
        assert client.get(path).status_code == 404


def test_default_deliveries_list_the_callback_ones(live: Running, rec: Receiver) -> None:
    _, key = live.new_account()
    with live.client(key) as client:
        task_id = submit(client, callback_url=rec.url)
        rec.wait_for(2)
        settle()
        deliveries = client.get("/v1/webhooks/default/deliveries").json()["data"]
        assert {(d["task_id"], d["type"], d["state"]) for d in deliveries} == {
            (task_id, "task.processing", "delivered"),
            (task_id, "task.completed", "delivered"),
        }
        assert default_secret(client) == default_secret(client)


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"url": "ftp://example.com/h"}, "url", "invalid_callback_url"),
        ({"url": "http://10.0.0.1/h"}, "url", "invalid_callback_url"),
        ({"url": "http://example.com/h", "events": ["task.done"]}, "events", "invalid_parameter"),
        ({"url": "http://example.com/h", "events": []}, "events", "invalid_parameter"),
        ({}, "url", "invalid_parameter"),
    ],
)
def test_bad_endpoints_are_refused(live: Running, body: dict, param: str, code: str) -> None:
    _, key = live.new_account()
    with live.client(key) as client:
        r = client.post("/v1/webhooks", json=body)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["param"].startswith(param) and r.json()["error"]["code"] == code, r.text


def test_private_targets_are_refused_without_the_exemption(tmp_path: Path, rec: Receiver) -> None:
    """At submit (the callback_url, an endpoint's url) and at delivery: an endpoint made while
    the exemption was in force is refused once it is gone, each attempt recorded, nothing sent."""
    with running_server(make_settings(tmp_path, **webhook_settings(tmp_path), workers=False)) as before:
        _, key = before.new_account()
        with before.client(key) as client:
            endpoint = create_endpoint(client, rec.url, ["task.completed"])
    strict = make_settings(tmp_path, **webhook_settings(tmp_path), fetch_allow_hosts="")
    with running_server(strict) as after, after.client(key) as client:
        r = client.post("/v1/videos/generations", json={**GOOD, "callback_url": rec.url})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_callback_url", r.text
        assert r.json()["error"]["param"] == "callback_url" and "127.0.0.1" in r.json()["error"]["message"]
        for url in ("http://169.254.169.254/latest", "http://localhost:9/h", "file:///etc/passwd"):
            r = client.post("/v1/webhooks", json={"url": url})
            assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_callback_url", r.text
        task_id = submit(client)
        wait_for(client, task_id, {"completed"})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            (delivery,) = client.get(f"/v1/webhooks/{endpoint['id']}/deliveries").json()["data"]
            if delivery["attempts"]:
                break
            time.sleep(0.05)
        attempt = delivery["attempts"][0]
        assert (
            attempt["status"] is None and attempt["error"].startswith("not sent:") and "127.0.0.1" in attempt["error"]
        )
        assert rec.received == []


def test_a_receiver_that_does_not_answer_in_time_is_retried(tmp_path: Path, rec: Receiver) -> None:
    rec.answer = lambda n, r: Answer(200, delay=3.0) if n == 0 else Answer(200)
    settings = make_settings(tmp_path, **webhook_settings(tmp_path), webhook_timeout_seconds=1.0)
    with running_server(settings) as server:
        _, key = server.new_account()
        with server.client(key) as client:
            endpoint = create_endpoint(client, rec.url, ["task.completed"])
            submit(client)
            first, second = rec.wait_for(2)
            assert first.headers["webhook-id"] == second.headers["webhook-id"]
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                (delivery,) = client.get(f"/v1/webhooks/{endpoint['id']}/deliveries").json()["data"]
                if delivery["state"] == "delivered":
                    break
                time.sleep(0.05)
            timed_out, answered = delivery["attempts"]
            assert timed_out["status"] is None and timed_out["error"] == "no answer within 1 s"
            assert 900 <= timed_out["duration_ms"] < 2500 and answered["status"] == 200


def test_openapi_documents_every_webhook_operation_and_the_delivery(live: Running) -> None:
    doc = httpx.get(f"{live.url}/openapi.json").json()
    operations = {(path, method) for path, ops in doc["paths"].items() if "webhooks" in path for method in ops}
    assert operations == {
        ("/v1/webhooks", "get"),
        ("/v1/webhooks", "post"),
        ("/v1/webhooks/default/secret", "get"),
        ("/v1/webhooks/{webhook_id}", "get"),
        ("/v1/webhooks/{webhook_id}", "patch"),
        ("/v1/webhooks/{webhook_id}", "delete"),
        ("/v1/webhooks/{webhook_id}/rotate-secret", "post"),
        ("/v1/webhooks/{webhook_id}/deliveries", "get"),
        ("/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", "post"),
    }
    delivery = doc["webhooks"]["task"]["post"]
    assert {p["name"] for p in delivery["parameters"]} == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert "callback_url" in json.dumps(doc["components"]["schemas"])


def test_without_a_public_url_the_body_links_as_a_poll_does(tmp_path: Path, rec: Receiver) -> None:
    settings = make_settings(tmp_path, **{**webhook_settings(tmp_path), "public_url": None})
    with running_server(settings) as server:
        _, key = server.new_account()
        with server.client(key) as client:
            task_id = submit(client, callback_url=rec.url)
            wait_for(client, task_id, {"completed"})
            rec.wait_for(2)
            settle()
            completed = next(p for p in rec.verified(default_secret(client)) if p["type"] == "task.completed")
            assert completed["data"] == client.get(f"/v1/tasks/{task_id}").json()["data"]
            assert completed["data"]["result"]["videos"][0]["url"][0].startswith(f"{server.url}/files/")
