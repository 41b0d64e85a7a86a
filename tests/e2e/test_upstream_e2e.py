"""vidgate in front of real-protocol upstreams (the fake Kling API and a fake apimart-compatible
endpoint, over loopback HTTP): every model's seed example completes through each; a channel
answering 5xx or 429 fails over to the next; a content rejection fails the task with a full
refund; results are re-hosted, so they outlive the upstream's copy."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import make_settings
from tests.e2e.test_end_to_end import localise, wait_until_ended
from tests.media_fixtures import FixtureServer
from tests.object_store import S3Server
from tests.seeds import SEED_EXAMPLES
from tests.server import Running, running_server
from tests.video_checks import decode
from vidgate.billing.money import to_micros
from vidgate.providers.upstream.fakes.apimart import create_fake_apimart_app
from vidgate.providers.upstream.fakes.common import FakeConfig
from vidgate.providers.upstream.fakes.kling import create_fake_kling_app
from vidgate.providers.upstream.fakes.server import serving
from vidgate.store.tables import tasks

KLING_MODELS = ["kling-v2-6", "kling-v3", "kling-v2-6-motion-control", "kling-v3-motion-control"]
ALL_MODELS = [*KLING_MODELS, "Omni-Flash-Ext"]
FAST = {"delay_s": (0.2, 0.6)}


class Fake:
    def __init__(self, kind: str, url: str, app: Any) -> None:
        self.kind, self.url, self.app = kind, url, app

    @property
    def state(self) -> Any:
        return self.app.state.fake


def start_fake(stack: ExitStack, kind: str, **config: Any) -> Fake:
    app = (create_fake_kling_app if kind == "kling" else create_fake_apimart_app)(FakeConfig(**{**FAST, **config}))
    return Fake(kind, stack.enter_context(serving(app)), app)


def channel_toml(name: str, fake: Fake, models: list[str], priority: int = 0, max_concurrent: int = 100) -> str:
    cfg = fake.state.config
    creds = (
        f'access_key = "{cfg.access_key}"\nsecret_key = "{cfg.secret_key}"'
        if fake.kind == "kling"
        else f'api_key = "{cfg.api_key}"'
    )
    listed = ", ".join(f'"{m}"' for m in models)
    return (
        f'[[channels]]\nname = "{name}"\nprovider = "{fake.kind}"\nbase_url = "{fake.url}"\n'
        f"models = [{listed}]\npriority = {priority}\nmax_concurrent = {max_concurrent}\n{creds}\n\n"
    )


def vidgate_with(stack: ExitStack, folder: Path, channels: str, **overrides: Any) -> Running:
    (folder / "channels.toml").write_text(channels)
    settings = make_settings(
        folder,
        channels_file=folder / "channels.toml",
        upstream_poll_interval=0.2,
        upstream_first_poll=0.1,
        **overrides,
    )
    return stack.enter_context(running_server(settings))


def upstream_of(running: Running, task_id: str) -> tuple[str, str]:
    with running.store.db.read() as conn:
        row = conn.execute(sa.select(tasks.c.channel_id, tasks.c.upstream_id).where(tasks.c.id == task_id)).one()
    return row.channel_id, row.upstream_id


def run_seeds(running: Running, media: FixtureServer, models: list[str]) -> dict[str, dict[str, Any]]:
    _, key = running.new_account("100")
    with running.client(key) as client:
        ids = {
            name: client.post("/v1/videos/generations", json=localise(body, media)).json()["data"][0]["task_id"]
            for name, body in SEED_EXAMPLES.items()
            if body["model"] in models
        }
        return {name: wait_until_ended(client, task_id, timeout=60)[0] for name, task_id in ids.items()}


@pytest.mark.parametrize("kind", ["kling", "apimart"])
def test_every_seed_example_completes_through_the_upstream(kind: str, media: FixtureServer, tmp_path: Path) -> None:
    models = KLING_MODELS if kind == "kling" else ALL_MODELS
    with ExitStack() as stack:
        fake = start_fake(stack, kind)
        running = vidgate_with(stack, tmp_path, channel_toml(f"{kind}-main", fake, models))
        results = run_seeds(running, media, models)
        submitted = fake.state.counters
    assert results and all(t["status"] == "completed" for t in results.values()), results
    assert len(fake.state.tasks) >= len(results)  # really made upstream, not by the preview renderer
    for name, task in results.items():
        url = task["result"]["videos"][0]["url"][0]
        assert url.startswith(running.url + "/files/"), url  # served by vidgate, not the upstream
        assert "upstream" not in str(task)  # the upstream's task id is private
        upstream_id = upstream_of(running, task["id"])[1]
        assert upstream_id and upstream_id.split(":")[-1] not in str(task)
        assert task["cost"] > 0, name
    assert submitted  # the fake counted its requests


def test_motion_control_is_settled_from_the_duration_the_upstream_reports(media: FixtureServer, tmp_path: Path) -> None:
    with ExitStack() as stack:
        fake = start_fake(stack, "kling", motion_seconds=9.5)
        running = vidgate_with(stack, tmp_path, channel_toml("kling", fake, KLING_MODELS))
        results = run_seeds(running, media, ["kling-v2-6-motion-control"])
    # held for the longest reference the orientation allows; charged per reported second, rounded up
    assert results["mc-curl-zh"]["cost"] == pytest.approx(10 * 0.05)
    assert results["mc-video"]["cost"] == pytest.approx(10 * 0.08)


@pytest.mark.parametrize("fault", ["server_error", "rate_limit"])
def test_a_failing_channel_fails_over_to_the_next(fault: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        primary = start_fake(stack, "apimart")
        backup = start_fake(stack, "apimart")
        primary.state.inject(*[fault] * 20)  # every submit to the primary fails
        channels = channel_toml("primary", primary, ALL_MODELS, priority=10) + channel_toml(
            "backup", backup, ALL_MODELS, priority=1
        )
        # a task no channel took waits a minute in the queue: only trying the next at once is in time
        running = vidgate_with(stack, tmp_path, channels, upstream_retry_submit=60.0)
        account, key = running.new_account("10")
        with running.client(key) as client:
            r = client.post(
                "/v1/videos/generations", json={"model": "Omni-Flash-Ext", "prompt": "failover", "duration": 4}
            )
            task, _ = wait_until_ended(client, r.json()["data"][0]["task_id"], timeout=30)
        channel_id, _ = upstream_of(running, task["id"])
        chosen = running.store.channels.get(channel_id)
    assert task["status"] == "completed", task
    assert chosen is not None and chosen.name == "backup"
    assert len(backup.state.tasks) == 1 and len(primary.state.tasks) == 0
    assert running.balance(account) == to_micros("10") - to_micros("0.12")


@pytest.mark.parametrize("kind", ["kling", "apimart"])
def test_a_channel_never_has_more_tasks_running_than_its_max_concurrent(kind: str, tmp_path: Path) -> None:
    """Eight workers send six tasks at once to a channel that takes two (the upstream account's
    own limit, which refuses a third): never more than two run upstream, none is refused, and
    the others wait their turn and complete."""
    with ExitStack() as stack:
        fake = start_fake(stack, kind, delay_s=(0.3, 0.5), max_running=2)
        (tmp_path / "channels.toml").write_text(channel_toml("small", fake, ["kling-v3"], max_concurrent=2))
        settings = make_settings(
            tmp_path,
            channels_file=tmp_path / "channels.toml",
            worker_concurrency=8,
            upstream_poll_interval=0.2,
            upstream_first_poll=0.1,
            upstream_retry_submit=0.2,
        )
        running = stack.enter_context(running_server(settings))
        _, key = running.new_account("10")
        with running.client(key) as client:
            body = {"model": "kling-v3", "prompt": "one of six", "duration": 3}
            ids = [client.post("/v1/videos/generations", json=body).json()["data"][0]["task_id"] for _ in range(6)]
            ended = [wait_until_ended(client, task_id, timeout=60)[0] for task_id in ids]
        in_flight = running.store.channels.in_flight()
    assert [t["status"] for t in ended] == ["completed"] * 6, ended
    assert fake.state.counters["fault_concurrency"] == 0  # never sent a third
    assert fake.state.counters["most_running"] == 2 and len(fake.state.tasks) == 6
    assert in_flight == {}


def test_a_channel_whose_polls_keep_failing_is_benched_and_keeps_its_tasks(tmp_path: Path) -> None:
    """Polls of the primary's task fail round after round: the primary is benched (new tasks go
    to the backup), yet its task stays with it and completes once it answers again."""
    with ExitStack() as stack:
        primary = start_fake(stack, "kling", delay_s=(1.0, 1.0))
        backup = start_fake(stack, "apimart")
        channels = channel_toml("primary", primary, ["kling-v3"], priority=10) + channel_toml(
            "backup", backup, ["kling-v3"], priority=1
        )
        running = vidgate_with(stack, tmp_path, channels)
        _, key = running.new_account("10")
        body = {"model": "kling-v3", "prompt": "stays", "duration": 3}
        with running.client(key) as client:
            first = client.post("/v1/videos/generations", json=body).json()["data"][0]["task_id"]
            deadline = time.monotonic() + 10
            while upstream_of(running, first)[1] is None and time.monotonic() < deadline:
                time.sleep(0.02)
            primary.state.inject(*["server_error"] * 10_000)  # every poll from now on fails
            [chosen] = [c for c in running.store.channels.list() if c.name == "primary"]
            deadline = time.monotonic() + 20
            while (bench := running.store.channels.get(chosen.id)).benched_until is None:  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "the primary was never benched"
                time.sleep(0.1)
            second = client.post("/v1/videos/generations", json=body).json()["data"][0]["task_id"]
            second_task, _ = wait_until_ended(client, second, timeout=30)
            assert client.get(f"/v1/tasks/{first}").json()["data"]["status"] == "processing"
            primary.state.faults.clear()  # the primary answers again
            first_task, _ = wait_until_ended(client, first, timeout=30)
        assert bench.bench_reason and "500" in bench.bench_reason  # type: ignore[union-attr]
        assert upstream_of(running, first)[0] == chosen.id and upstream_of(running, second)[0] != chosen.id
    assert first_task["status"] == second_task["status"] == "completed"


@pytest.mark.parametrize("kind", ["kling", "apimart"])
def test_content_rejection_fails_the_task_with_a_full_refund(kind: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        fake = start_fake(stack, kind)
        running = vidgate_with(stack, tmp_path, channel_toml(kind, fake, ["kling-v3"]))
        account, key = running.new_account("10")
        with running.client(key) as client:
            r = client.post(
                "/v1/videos/generations", json={"model": "kling-v3", "prompt": "REJECT this", "duration": 3}
            )
            task, _ = wait_until_ended(client, r.json()["data"][0]["task_id"], timeout=30)
    assert task["status"] == "failed", task
    assert task["error"]["code"] == "task_failed" and task["error"]["reason"] == "content_rejected"
    assert task["cost"] == 0
    assert running.balance(account) == to_micros("10")
    assert [e["kind"] for e in running.store.accounts.ledger_entries(account)] == ["topup", "hold", "release"]


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_the_result_is_served_by_vidgate_after_the_upstream_deletes_it(
    backend: str, s3_server: S3Server, tmp_path: Path
) -> None:
    """The engine re-hosts the upstream's video in the storage, a folder or a bucket."""
    bucket = s3_server.new_bucket() if backend == "s3" else None
    storage = {"storage_url": f"s3://{bucket}/up", "s3_endpoint_url": s3_server.endpoint} if bucket else {}
    with ExitStack() as stack:
        fake = start_fake(stack, "kling")
        running = vidgate_with(stack, tmp_path, channel_toml("kling", fake, ["kling-v3"]), **storage)
        _, key = running.new_account("10")
        with running.client(key) as client:
            r = client.post("/v1/videos/generations", json={"model": "kling-v3", "prompt": "keep me", "duration": 3})
            task, _ = wait_until_ended(client, r.json()["data"][0]["task_id"], timeout=30)
        _, upstream_id = upstream_of(running, task["id"])
        kling_id = upstream_id.split(":", 1)[1]
        upstream_copy = f"{fake.url}/files/{kling_id}.mp4"
        assert httpx.get(upstream_copy).status_code == 200
        fake.state.delete_result(kling_id)
        assert httpx.get(upstream_copy).status_code == 404
        download = httpx.get(task["result"]["videos"][0]["url"][0])
    assert download.status_code == 200
    if bucket:
        assert [k for k in s3_server.keys(bucket) if task["id"] in k] == [
            f"up/results/{task['id'][-2:].lower()}/{task['id']}.mp4"
        ]
    out = tmp_path / "v.mp4"
    out.write_bytes(download.content)
    assert decode(out).video_codec == "h264"


def test_an_upstream_that_is_down_is_retried_until_the_models_timeout_then_refunded(tmp_path: Path) -> None:
    with ExitStack() as stack:
        fake = start_fake(stack, "apimart", delay_s=(0.2, 0.3))
        (tmp_path / "channels.toml").write_text(channel_toml("only", fake, ALL_MODELS))
        settings = make_settings(
            tmp_path,
            channels_file=tmp_path / "channels.toml",
            upstream_poll_interval=0.2,
            upstream_first_poll=0.1,
            task_timeouts={"Omni-Flash-Ext": 3.0},
            lease_seconds=2.0,
        )
        running = stack.enter_context(running_server(settings))
        account, key = running.new_account("10")
        with running.client(key) as client:
            r = client.post("/v1/videos/generations", json={"model": "Omni-Flash-Ext", "prompt": "x", "duration": 4})
            task_id = r.json()["data"][0]["task_id"]
            deadline = time.monotonic() + 10
            while upstream_of(running, task_id)[1] is None and time.monotonic() < deadline:
                time.sleep(0.05)
            fake.state.inject(*["unavailable"] * 1000)  # every poll from now on fails
            task, _ = wait_until_ended(client, task_id, timeout=30)
    assert task["status"] == "failed" and task["error"]["reason"] == "upstream_timeout", task
    assert "upstream did not finish within 3 s" in task["error"]["message"]
    assert task["cost"] == 0 and running.balance(account) == to_micros("10")


@pytest.mark.parametrize(("prompt", "status"), [("a dog", "completed"), ("a dog UNSAFE_OUTPUT", "failed")])
def test_a_task_the_listing_shows_ended_ends_before_its_own_next_poll(prompt: str, status: str, tmp_path: Path) -> None:
    """Kling's listing shows every task of the account: polling one task reads the others too.
    With a 30 s poll interval, task A (done upstream 1 s after submit) would wait 30 s for its
    second poll; task B's first poll, a second later, reads the listing and ends A then."""
    with ExitStack() as stack:
        fake = start_fake(stack, "kling", delay_s=(1.0, 1.0))
        (tmp_path / "channels.toml").write_text(channel_toml("kling", fake, ["kling-v3"]))
        settings = make_settings(
            tmp_path, channels_file=tmp_path / "channels.toml", upstream_poll_interval=30.0, upstream_first_poll=0.1
        )
        running = stack.enter_context(running_server(settings))
        _, key = running.new_account("10")
        with running.client(key) as client:
            body = {"model": "kling-v3", "prompt": prompt, "duration": 3}
            first = client.post("/v1/videos/generations", json=body).json()["data"][0]["task_id"]
            deadline = time.monotonic() + 10
            while upstream_of(running, first)[1] is None and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(2.0)  # A's first poll (pending) is behind it, and A has ended upstream
            assert client.get(f"/v1/tasks/{first}").json()["data"]["status"] == "processing"
            started = time.monotonic()
            second = client.post("/v1/videos/generations", json=body).json()["data"][0]["task_id"]
            task, _ = wait_until_ended(client, first, timeout=10)
            assert time.monotonic() - started < 5
            assert task["status"] == status, task
            assert client.get(f"/v1/tasks/{second}").json()["data"]["status"] == "processing"  # its next poll: 30 s
