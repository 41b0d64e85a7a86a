"""The Python SDK against a real vidgate server: generate, wait, download, cancel, and its errors."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.media_fixtures import FixtureServer, make_png
from tests.server import Running, free_port, running_server
from tests.video_checks import decode
from vidgate.sdk import (
    APIConnectionError,
    AsyncClient,
    Client,
    ConflictError,
    InvalidRequestError,
    KlingV26Request,
    LocalMediaError,
    NotFoundError,
    PaymentRequiredError,
    RateLimitError,
    ServerError,
    Task,
    TaskNotCompletedError,
    TaskStatus,
    VidgateClientError,
    WaitTimeoutError,
)
from vidgate.sdk.polling import PollSchedule

FAST = {"first_poll_after": 0.1, "poll_interval": 0.2}
UNKNOWN_TASK = "task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ"


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A server allowing 60 requests a minute per key: a burst of 60, then one a second."""
    settings = make_settings(tmp_path_factory.mktemp("limited"), workers=False, rate_limit_per_minute=60)
    with running_server(settings) as running:
        yield running


def client_for(running: Running) -> Client:
    _, key = running.new_account()
    return Client(api_key=key, base_url=running.url)


def server_error(running: Running, key: str, method: str, path: str, **kwargs: object) -> dict:
    """What the server itself answers, to compare with what the SDK raises."""
    with running.client(key) as raw:
        return raw.request(method, path, **kwargs).json()["error"]  # type: ignore[arg-type]


# --- the happy path ----------------------------------------------------------------------------


def test_generate_wait_and_download_a_playable_mp4(live: Running, tmp_path: Path) -> None:
    seen: list[Task] = []
    with client_for(live) as client:
        task = client.videos.generate(model="kling-v2-6", prompt="a red fox in fresh snow", duration=5)
        assert task.status is TaskStatus.PENDING and task.id.startswith("task_")
        done = client.tasks.wait(task, timeout=60, on_update=seen.append, **FAST)
        path = client.download(done, tmp_path / "fox.mp4")

    assert done.status is TaskStatus.COMPLETED and done.progress == 100 and done.cost and done.cost > 0
    assert done.video_url and done.result and isinstance(done.result.videos[0].url, list)
    progress = [t.progress for t in seen]
    assert progress == sorted(progress) and progress[-1] == 100 and seen[-1] == done
    video = decode(path)
    assert (video.width, video.height, video.video_codec) == (1280, 720, "h264")
    assert abs(video.duration - 5) < 0.2
    assert list(tmp_path.iterdir()) == [path]  # no partial files left behind


def test_async_client_sends_a_local_image_inline(live: Running, tmp_path: Path) -> None:
    portrait = make_png(tmp_path / "portrait.png", 360, 640)
    _, key = live.new_account()

    async def scenario() -> tuple[Task, Path]:
        async with AsyncClient(api_key=key, base_url=live.url) as client:
            task = await client.videos.generate(model="kling-v2-6", prompt="a portrait", image_urls=[portrait])
            done = await client.tasks.wait(task.id, timeout=60, **FAST)
            return done, await client.download(done, tmp_path)

    done, path = asyncio.run(scenario())
    assert done.status is TaskStatus.COMPLETED
    assert path == tmp_path / f"{done.id}.mp4"
    video = decode(path)
    assert (video.width, video.height) == (720, 1280)  # the output follows the (portrait) first frame


def test_client_reads_its_key_and_base_url_from_the_environment(
    api_only: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, key = api_only.new_account()
    monkeypatch.setenv("VIDGATE_API_KEY", key)
    monkeypatch.setenv("VIDGATE_BASE_URL", api_only.url + "/v1/")
    with Client() as client:
        task = client.videos.generate(KlingV26Request(model="kling-v2-6", prompt="typed request"))
        assert client.tasks.get(task.id).status is TaskStatus.PENDING
    monkeypatch.delenv("VIDGATE_API_KEY")
    with pytest.raises(VidgateClientError, match="VIDGATE_API_KEY"):
        Client()


# --- cancelling and waiting --------------------------------------------------------------------


def test_cancel_a_pending_task_then_cancelling_again_is_a_conflict(api_only: Running) -> None:
    with client_for(api_only) as client:
        task = client.videos.generate(model="Omni-Flash-Ext", prompt="never rendered", duration=4)
        cancelled = client.tasks.cancel(task.id)
        assert cancelled.status is TaskStatus.CANCELLED and cancelled.ended
        assert client.tasks.wait(cancelled) is cancelled  # an ended task is not polled again
        with pytest.raises(ConflictError) as again:
            client.tasks.cancel(task.id)
        with pytest.raises(TaskNotCompletedError, match="cancelled"):
            client.download(cancelled, "never.mp4")
    assert (again.value.status, again.value.code) == (409, "task_already_ended")


def test_unknown_task_is_not_found(api_only: Running) -> None:
    with client_for(api_only) as client, pytest.raises(NotFoundError) as caught:
        client.tasks.get(UNKNOWN_TASK)
    assert (caught.value.status, caught.value.type, caught.value.code) == (404, "not_found_error", "task_not_found")


def test_wait_gives_up_after_its_timeout_and_says_the_task_goes_on(api_only: Running) -> None:
    with client_for(api_only) as client:  # no workers: the task stays pending
        task = client.videos.generate(model="kling-v2-6", prompt="waiting", duration=5)
        started = time.monotonic()
        with pytest.raises(WaitTimeoutError) as caught:
            client.tasks.wait(task, timeout=0.5, **FAST)
    assert 0.5 <= time.monotonic() - started < 2
    assert caught.value.task is not None and caught.value.task.status is TaskStatus.PENDING
    assert "goes on" in str(caught.value)


def test_poll_schedule_follows_retry_after_and_the_tasks_own_estimate_within_a_floor() -> None:
    schedule = PollSchedule(first_poll_after=5, poll_interval=5, min_interval=1)

    def processing(progress: int) -> Task:
        return Task(id="t", status=TaskStatus.PROCESSING, progress=progress, estimated_time=60)

    assert schedule.next_delay(Task(id="t", status=TaskStatus.PENDING), None) == 5
    assert schedule.next_delay(processing(10), None) == 5  # 54 s to go: the regular interval
    assert schedule.next_delay(processing(95), None) == pytest.approx(3)  # about to finish: sooner
    assert schedule.next_delay(processing(99), None) == 1  # never below the floor
    assert schedule.next_delay(processing(10), 0.2) == 1 and schedule.next_delay(processing(10), 12) == 12


# --- errors ------------------------------------------------------------------------------------


def test_insufficient_balance_is_payment_required_with_the_servers_message(api_only: Running) -> None:
    body = {"model": "kling-v2-6", "prompt": "too expensive", "duration": 10}
    _, key = api_only.new_account("0.01")
    with Client(api_key=key, base_url=api_only.url) as client, pytest.raises(PaymentRequiredError) as caught:
        client.videos.generate(**body)
    expected = server_error(api_only, key, "POST", "/v1/videos/generations", json=body)
    err = caught.value
    assert (err.status, err.type, err.code) == (402, "payment_required", "insufficient_balance")
    assert err.message == expected["message"]


def test_validation_error_carries_code_param_and_message_remote_or_local(api_only: Running) -> None:
    with client_for(api_only) as client, pytest.raises(InvalidRequestError) as remote:
        client.videos.generate(model="kling-v2-6", prompt="seven seconds", duration=7)
    err = remote.value
    assert (err.status, err.type, err.code, err.param) == (400, "invalid_request_error", "invalid_duration", "duration")
    assert err.message == "invalid duration 7, must be one of 5/10"

    nowhere = f"http://127.0.0.1:{free_port()}"  # validate=True must fail before any connection
    with Client(api_key="sk-vg-any", base_url=nowhere) as offline, pytest.raises(InvalidRequestError) as local:
        offline.videos.generate(model="kling-v2-6", prompt="seven seconds", duration=7, validate=True)
    assert (local.value.code, local.value.param, local.value.message) == (err.code, err.param, err.message)


def test_rate_limit_is_raised_with_retry_after_when_retries_are_off(limited: Running) -> None:
    _, key = limited.new_account()
    exhaust(limited, key)
    with Client(api_key=key, base_url=limited.url, max_retries=0) as client, pytest.raises(RateLimitError) as caught:
        client.tasks.get(UNKNOWN_TASK)
    expected = server_error(limited, key, "GET", f"/v1/tasks/{UNKNOWN_TASK}")
    err = caught.value
    assert (err.status, err.type, err.code) == (429, "rate_limit_error", "rate_limited")
    assert err.message.split(";")[0] == expected["message"].split(";")[0]  # the rest is the wait, which ticks
    assert err.retry_after is not None and 0 < err.retry_after <= 1


def test_rate_limit_is_retried_after_the_servers_retry_after(limited: Running) -> None:
    _, key = limited.new_account()
    exhaust(limited, key)
    started = time.monotonic()
    with Client(api_key=key, base_url=limited.url, max_retries=2) as client, pytest.raises(NotFoundError):
        client.tasks.get(UNKNOWN_TASK)  # 429 first, then the real answer once the limiter lets it through
    assert 0.5 < time.monotonic() - started < 3


def exhaust(running: Running, key: str) -> None:
    with running.client(key) as raw:
        while raw.get(f"/v1/tasks/{UNKNOWN_TASK}").status_code != 429:
            pass


def test_unreachable_server_is_a_connection_error() -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    client = Client(api_key="sk-vg-any", base_url=nowhere, max_retries=1)
    with client, pytest.raises(APIConnectionError) as caught:
        client.tasks.get(UNKNOWN_TASK)
    assert str(caught.value).startswith(f"could not talk to {nowhere}/v1/tasks/")


# --- media and compatibility -------------------------------------------------------------------


def test_local_video_path_is_refused_before_sending_and_says_a_url_is_needed(tmp_path: Path) -> None:
    clip = tmp_path / "dance.mp4"
    clip.write_bytes(b"not sent anyway")
    with Client(api_key="sk-vg-any", base_url=f"http://127.0.0.1:{free_port()}") as client:
        with pytest.raises(LocalMediaError, match=r"video_url: .*dance\.mp4.* needs .* http\(s\) URL"):
            client.videos.generate(
                model="kling-v3-motion-control",
                image_url="https://example.com/me.png",
                video_url=clip,
                character_orientation="image",
                mode="std",
            )
        with pytest.raises(LocalMediaError, match=r"image_urls\[0\]: 'missing.png' is neither a URL"):
            client.videos.generate(model="kling-v3", prompt="x", image_urls=["missing.png"])


def test_other_servers_status_spellings_are_read_as_the_contracts() -> None:
    spellings = {"submitted": "pending", "queued": "pending", "running": "processing", "succeeded": "completed"}
    for theirs, ours in spellings.items():
        assert Task.model_validate({"id": "task_x", "status": theirs}).status == ours
    compat = Task.model_validate({"id": "t", "status": "Canceled", "vendor_field": 1})
    assert compat.status is TaskStatus.CANCELLED and compat.to_json()["vendor_field"] == 1


def test_an_apimart_style_server_its_cdn_links_and_its_error_pages(tmp_path: Path) -> None:
    with FixtureServer() as fake:
        cdn = fake.serve("/cdn/abc.mp4", b"the video", headers={"Content-Type": "video/mp4"})
        task = {"id": "task_abc", "status": "succeeded", "progress": 100, "result": {"videos": [{"url": [cdn]}]}}
        envelope = json.dumps({"code": 200, "data": task}).encode()
        fake.serve("/v1/tasks/task_abc", envelope, headers={"Content-Type": "application/json"})
        fake.serve("/v1/tasks/task_bad", b"<html>Bad Gateway</html>", status=502)
        with Client(api_key="sk-secret", base_url=fake.url("/v1")) as client:
            done = client.tasks.get("task_abc")
            saved = client.download(done, tmp_path / "abc.mp4")
            with pytest.raises(ServerError) as caught:
                client.tasks.get("task_bad")
        sent = {path: {k.lower(): v for k, v in headers.items()} for path, headers in fake.requests}

    assert done.status is TaskStatus.COMPLETED and saved.read_bytes() == b"the video"
    assert sent["/v1/tasks/task_abc"]["authorization"] == "Bearer sk-secret"
    assert "authorization" not in sent["/cdn/abc.mp4"]  # the key never goes to a result host
    assert (caught.value.status, caught.value.code) == (502, "http_502") and "Bad Gateway" in caught.value.message
