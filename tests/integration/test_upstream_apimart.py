"""The apimart adapter against the fake apimart API over real loopback HTTP; the fakes' shared behaviour."""

from __future__ import annotations

import asyncio
import base64
import io
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from PIL import Image

from tests.seeds import SEED_EXAMPLES
from tests.server import free_port
from vidgate.catalog import parse_request
from vidgate.cli import main
from vidgate.providers.upstream import (
    ApimartProvider,
    Credentials,
    FailureKind,
    UpstreamError,
    UpstreamJob,
    UpstreamStatus,
)
from vidgate.providers.upstream.apimart import task_status
from vidgate.providers.upstream.base import PollResult, poll_each
from vidgate.providers.upstream.fakes import FakeConfig, FakeState, create_fake_apimart_app, serving
from vidgate.tasks.model import Status, Task
from vidgate.tasks.view import task_object

FAST = (0.01, 0.05)


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (40, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


PNG = png()
DATA_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()
#: the defaults a validated request spells out when it is forwarded
DEFAULTS: dict[str, dict[str, Any]] = {
    "kling-v2-6": {"mode": "std", "duration": 5, "image_urls": [], "audio": False, "watermark": False},
    "kling-v3": {
        "mode": "std",
        "duration": 5,
        "image_urls": [],
        "audio": False,
        "watermark": False,
        "multi_shot": False,
    },
    "kling-v2-6-motion-control": {"keep_original_sound": "yes"},
    "kling-v3-motion-control": {"keep_original_sound": "yes"},
    "Omni-Flash-Ext": {"duration": 6, "resolution": "720p", "image_urls": []},
}


@pytest.fixture(scope="module")
def fake_server() -> Iterator[tuple[str, FakeState]]:
    app = create_fake_apimart_app(FakeConfig(delay_s=FAST))
    with serving(app) as url:
        yield url, app.state.fake


@pytest.fixture
def fake(fake_server: tuple[str, FakeState]) -> Iterator[tuple[str, FakeState]]:
    """The shared fake, back to its fast, fault-free configuration after each test."""
    _, state = fake_server
    yield fake_server
    state.config = FakeConfig(delay_s=FAST)
    state.faults.clear()


def creds(url: str, key: str | None = None) -> Credentials:
    return Credentials(base_url=url, api_key=FakeConfig().api_key if key is None else key)


def job(body: dict[str, Any]) -> UpstreamJob:
    request = parse_request(body)
    refs = request.media_refs()
    return UpstreamJob(
        task_id="task_test",
        request=request,
        images={r.param: PNG for r in refs if r.kind == "image"},
        video_urls={r.param: r.url for r in refs if r.kind == "video"},
    )


def seed(name: str, **changes: Any) -> dict[str, Any]:
    return {**SEED_EXAMPLES[name], **changes}


def with_data_uris(body: dict[str, Any]) -> dict[str, Any]:
    out = dict(body)
    if "image_urls" in out:
        out["image_urls"] = [DATA_URI for _ in out["image_urls"]]
    if "image_url" in out:
        out["image_url"] = DATA_URI
    if "element_list" in out:
        out["element_list"] = [
            {**e, "element_input_urls": [DATA_URI for _ in e["element_input_urls"]]} for e in out["element_list"]
        ]
    return out


async def submit(
    url: str, body: dict[str, Any], *, key: str | None = None, provider: ApimartProvider | None = None
) -> str:
    async with httpx.AsyncClient(timeout=10) as client:
        return await (provider or ApimartProvider()).submit(client, creds(url, key), job(body))


async def poll(url: str, upstream_id: str, key: str | None = None) -> UpstreamStatus:
    async with httpx.AsyncClient(timeout=10) as client:
        return await ApimartProvider().poll(client, creds(url, key), "kling-v3", upstream_id)


async def run_to_end(url: str, body: dict[str, Any]) -> tuple[str, UpstreamStatus]:
    upstream_id = await submit(url, body)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = await poll(url, upstream_id)
        if status.state in ("completed", "failed"):
            return upstream_id, status
        await asyncio.sleep(0.02)
    raise AssertionError("the fake task did not finish")


def failure(coro: Any) -> UpstreamError:
    with pytest.raises(UpstreamError) as info:
        asyncio.run(coro)
    return info.value


# --- every seed, end to end --------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SEED_EXAMPLES))
def test_seed_is_forwarded_and_completed(fake: tuple[str, FakeState], name: str) -> None:
    url, state = fake
    body = SEED_EXAMPLES[name]
    upstream_id, status = asyncio.run(run_to_end(url, body))
    assert state.tasks[upstream_id].body == {**DEFAULTS[body["model"]], **with_data_uris(body)}
    assert status.state == "completed" and status.progress == 100
    [video_url] = status.video_urls
    assert httpx.get(video_url).content[4:8] == b"ftyp"


def test_images_can_be_left_as_urls(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    upstream_id = asyncio.run(submit(url, SEED_EXAMPLES["omni-three"], provider=ApimartProvider(inline_images=False)))
    assert state.tasks[upstream_id].body["image_urls"] == SEED_EXAMPLES["omni-three"]["image_urls"]


def test_provider_serves_the_models_it_is_given() -> None:
    assert all(ApimartProvider().serves(body["model"]) for body in SEED_EXAMPLES.values())
    only_omni = ApimartProvider(frozenset({"Omni-Flash-Ext"}))
    assert only_omni.serves("Omni-Flash-Ext") and not only_omni.serves("kling-v3")


# --- statuses ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phase", "word", "state"),
    [
        ("pending", "pending", "pending"),
        ("pending", "queued", "pending"),
        ("pending", "submitted", "pending"),
        ("processing", "processing", "processing"),
        ("processing", "running", "processing"),
        ("completed", "completed", "completed"),
        ("completed", "succeeded", "completed"),
        ("failed", "failed", "failed"),
    ],
)
def test_status_spellings(fake: tuple[str, FakeState], phase: str, word: str, state: str) -> None:
    url, fake_state = fake
    fake_state.config.delay_s = (100, 100)
    fake_state.config.status_words = {phase: word}
    upstream_id = asyncio.run(submit(url, seed("v3-std", prompt="a dog FAIL_LATER" if phase == "failed" else "a dog")))
    fake_state.advance({"pending": 0, "processing": 50, "completed": 101, "failed": 101}[phase])
    status = asyncio.run(poll(url, upstream_id))
    assert status.state == state
    if phase == "processing":
        assert status.progress == 50
    if phase == "failed":
        assert (status.error_code, status.message) == (
            "upstream_error",
            "the generation failed inside the model service",
        )


def test_cancelled_upstream_task_fails(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    upstream_id = asyncio.run(submit(url, SEED_EXAMPLES["v3-std"]))
    state.cancel(upstream_id)
    status = asyncio.run(poll(url, upstream_id))
    assert (status.state, status.error_code) == ("failed", "upstream_cancelled")


def test_url_given_as_a_lone_string_is_read_as_a_list(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    state.config.url_as_string = True
    _, status = asyncio.run(run_to_end(url, SEED_EXAMPLES["omni-text"]))
    assert len(status.video_urls) == 1 and status.video_urls[0].endswith(".mp4")


def test_content_moderation_failure_is_content_rejected(fake: tuple[str, FakeState]) -> None:
    url, _ = fake
    _, status = asyncio.run(run_to_end(url, seed("omni-text", prompt="REJECT me")))
    assert (status.state, status.error_code) == ("failed", "content_rejected")


@pytest.mark.parametrize(
    ("reason", "ours"),
    [
        ("content_rejected", "content_rejected"),
        ("invalid_parameters", "invalid_parameters"),
        ("upstream_timeout", "upstream_timeout"),
        ("timeout", "upstream_timeout"),
        ("internal_error", "upstream_error"),
    ],
)
def test_the_reason_another_vidgate_gives_for_a_failure_is_kept(reason: str, ours: str) -> None:
    """Another vidgate answers as API.md says (`code: task_failed`) and adds the stable reason."""
    failed = Task(
        id="task_1",
        account_id="a",
        model="kling-v3",
        status=Status.FAILED,
        progress=100,
        request={},
        hold=1,
        cost=0,
        estimated_time=1,
        created_at=0.0,
        error_code=reason,
        error_message="it failed",
    )
    status = task_status(task_object(failed, lambda *_: ""))
    assert (status.state, status.error_code) == ("failed", ours)


def test_task_objects_are_read_tolerantly() -> None:
    failed = task_status({"status": "FAILED", "error": {"message": "boom", "code": "quota_exhausted"}})
    assert (failed.state, failed.error_code) == ("failed", "quota_exhausted")
    several = task_status({"status": "completed", "result": {"videos": [{"url": ["a", "b"]}, {"url": "c"}]}})
    assert several.video_urls == ["a", "b", "c"]
    for data in ({"status": "exploded"}, {"status": "completed", "result": {}}):
        with pytest.raises(UpstreamError) as info:
            task_status(data)
        assert info.value.kind == FailureKind.RETRY


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "kind", "reason", "wait"),
    [
        ("rate_limit", FailureKind.RETRY_ELSEWHERE, "upstream_rate_limited", 3.0),
        ("quota", FailureKind.BENCH_CHANNEL, "quota_exhausted", None),
        ("account", FailureKind.BENCH_CHANNEL, "upstream_auth_failed", None),
        ("invalid_parameters", FailureKind.FAIL_TASK, "invalid_parameters", None),
        ("server_error", FailureKind.RETRY, "upstream_error", None),
        ("unavailable", FailureKind.RETRY, "upstream_error", None),
    ],
)
def test_faults(fake: tuple[str, FakeState], fault: Any, kind: FailureKind, reason: str, wait: float | None) -> None:
    url, state = fake
    state.inject(fault)
    error = failure(submit(url, SEED_EXAMPLES["omni-text"]))
    assert (error.kind, error.reason, error.retry_after) == (kind, reason, wait)


def test_wrong_key_benches_the_channel(fake: tuple[str, FakeState]) -> None:
    url, _ = fake
    error = failure(submit(url, SEED_EXAMPLES["omni-text"], key="wrong"))
    assert (error.kind, error.reason) == (FailureKind.BENCH_CHANNEL, "upstream_auth_failed")
    assert failure(submit(url, SEED_EXAMPLES["omni-text"], key="")).kind == FailureKind.BENCH_CHANNEL


def test_unknown_task_fails_the_task(fake: tuple[str, FakeState]) -> None:
    url, _ = fake
    error = failure(poll(url, "task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ"))
    assert (error.kind, error.reason) == (FailureKind.FAIL_TASK, "upstream_error")


def test_timeout_and_refused_connection_are_retried(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    state.config.latency_s = 0.5

    async def slow() -> str:
        async with httpx.AsyncClient(timeout=0.1) as client:
            return await ApimartProvider().submit(client, creds(url), job(SEED_EXAMPLES["omni-text"]))

    timed_out = failure(slow())
    assert (timed_out.kind, timed_out.reason) == (FailureKind.RETRY, "upstream_timeout")
    refused = failure(submit(f"http://127.0.0.1:{free_port()}", SEED_EXAMPLES["omni-text"]))
    assert (refused.kind, refused.reason) == (FailureKind.RETRY, "upstream_unreachable")


def test_answers_that_are_not_json(fake: tuple[str, FakeState]) -> None:
    url, _ = fake
    lost = failure(poll(f"{url}/nowhere", "task_x"))  # a plain-text 404 from a wrong base URL
    assert (lost.kind, lost.reason) == (FailureKind.FAIL_TASK, "upstream_error")

    async def gateway_page() -> UpstreamStatus:
        transport = httpx.MockTransport(lambda request: httpx.Response(200, text="<html>maintenance</html>"))
        async with httpx.AsyncClient(transport=transport) as client:
            return await ApimartProvider().poll(client, creds("http://upstream.invalid"), "kling-v3", "task_x")

    garbled = failure(gateway_page())
    assert (garbled.kind, garbled.reason) == (FailureKind.RETRY, "upstream_error")


# --- polling many tasks ------------------------------------------------------------------------


@pytest.fixture
def own_fake() -> Iterator[tuple[str, FakeState]]:
    """A fake of its own, which no request left over from another test can reach (faults are consumed in order)."""
    app = create_fake_apimart_app(FakeConfig(delay_s=FAST))
    with serving(app) as url:
        yield url, app.state.fake


def poll_many(url: str, upstream_ids: list[str], concurrency: int | None = None) -> tuple[dict[str, PollResult], int]:
    """The adapter's ``poll_many`` (or :func:`poll_each` at ``concurrency``), and the requests it sent."""
    sent = 0

    async def count(_: httpx.Request) -> None:
        nonlocal sent
        sent += 1

    async def run() -> dict[str, PollResult]:
        async with httpx.AsyncClient(timeout=10, event_hooks={"request": [count]}) as client:
            provider, model_ids = ApimartProvider(), [("Omni-Flash-Ext", upstream_id) for upstream_id in upstream_ids]
            if concurrency is None:
                return await provider.poll_many(client, creds(url), model_ids)
            return await poll_each(provider, client, creds(url), model_ids, concurrency)

    return asyncio.run(run()), sent


def test_poll_many_polls_each_task_concurrently(own_fake: tuple[str, FakeState]) -> None:
    url, state = own_fake
    ids = [asyncio.run(submit(url, SEED_EXAMPLES["omni-text"])) for _ in range(12)]
    state.advance(1)
    state.config.latency_s = 0.2
    state.inject("server_error")
    started = time.monotonic()
    results, sent = poll_many(url, ids)
    assert time.monotonic() - started < 1.2  # twelve polls of 0.2 s each, side by side
    assert sent == 12
    errors = [r for r in results.values() if isinstance(r, UpstreamError)]
    # the one poll that hit the fault
    assert [(e.kind, e.reason) for e in errors] == [(FailureKind.RETRY, "upstream_error")]
    done = [r for r in results.values() if isinstance(r, UpstreamStatus)]
    assert len(done) == 11 and all(r.state == "completed" and r.video_urls for r in done)


def test_poll_many_gives_each_task_its_own_error(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    known = asyncio.run(submit(url, SEED_EXAMPLES["omni-text"]))
    state.advance(1)
    results, sent = poll_many(url, [known, "task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ"])
    assert sent == 2
    assert isinstance(results[known], UpstreamStatus) and results[known].state == "completed"
    lost = results["task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ"]
    assert isinstance(lost, UpstreamError) and (lost.kind, lost.reason) == (FailureKind.FAIL_TASK, "upstream_error")


@pytest.mark.parametrize(
    ("fault", "kind"), [("rate_limit", FailureKind.RETRY_ELSEWHERE), ("quota", FailureKind.BENCH_CHANNEL)]
)
def test_poll_many_stops_polling_a_channel_that_cannot_answer(
    own_fake: tuple[str, FakeState], fault: Any, kind: FailureKind
) -> None:
    url, state = own_fake
    ids = [asyncio.run(submit(url, SEED_EXAMPLES["omni-text"])) for _ in range(5)]
    state.inject(fault)
    results, sent = poll_many(url, ids, concurrency=1)
    assert sent == 1  # the polls not yet sent get the channel's error instead
    assert len(results) == 5 and all(isinstance(r, UpstreamError) and r.kind == kind for r in results.values())


# --- the fakes' shared behaviour ---------------------------------------------------------------


def test_results_are_deleted_after_completion(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    state.config.delete_after_completion_s = 5
    _, status = asyncio.run(run_to_end(url, SEED_EXAMPLES["omni-text"]))
    assert httpx.get(status.video_urls[0]).status_code == 200
    state.advance(6)
    assert httpx.get(status.video_urls[0]).status_code == 404
    assert state.counters["downloaded"] >= 1


def test_thousands_of_tasks_in_flight_cost_nothing_until_read(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    state.config.delay_s = (1.0, 30.0)
    count = 2000

    async def submit_many() -> list[str]:
        limits = httpx.Limits(max_connections=4)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            gate = asyncio.Semaphore(4)  # more only adds contention on a 2-core machine
            provider, credentials, one = ApimartProvider(), creds(url), job(SEED_EXAMPLES["omni-text"])

            async def one_task() -> str:
                async with gate:
                    return await provider.submit(client, credentials, one)

            return await asyncio.gather(*(one_task() for _ in range(count)))

    started = time.monotonic()
    ids = asyncio.run(submit_many())
    elapsed = time.monotonic() - started
    assert elapsed < 20, f"{count} submissions took {elapsed:.1f} s"
    assert len(set(ids)) == count
    tasks = [state.tasks[i] for i in ids]
    assert all(1.0 <= t.delay <= 30.0 for t in tasks)
    assert all(t.delay == state.delay_for(t.id, "") for t in tasks[:50])  # deterministic per task id
    now = state.now()
    assert sum(t.phase(now) == "completed" for t in tasks) < 0.5 * count
    state.advance(15)
    now = state.now()
    assert all((t.phase(now) == "completed") == (now >= t.ready_at) for t in tasks)  # each after its own delay
    assert 0.3 * count < sum(t.phase(now) == "completed" for t in tasks) < 0.9 * count
    state.advance(16)
    assert asyncio.run(poll(url, ids[-1])).state == "completed"


def test_cli_runs_either_fake() -> None:
    runner = CliRunner()
    shown = runner.invoke(main, ["fake-upstream", "--help"])
    assert shown.exit_code == 0
    for option in (
        "--port",
        "--host",
        "--latency",
        "--rate-limit-rate",
        "--server-error-rate",
        "--delay",
        "--delete-after",
    ):
        assert option in shown.output
    assert runner.invoke(main, ["fake-upstream", "openai"]).exit_code == 2
    assert runner.invoke(main, ["fake-upstream", "kling", "--delay", "5", "1"]).exit_code == 2
