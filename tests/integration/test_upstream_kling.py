"""The Kling adapter against the fake Kling API over real loopback HTTP."""

from __future__ import annotations

import asyncio
import base64
import io
import time
from typing import Any

import httpx
import pytest
from PIL import Image

# ruff: noqa: F811  (pytest fixtures arrive as arguments named like the imported fixtures)
# the shared fake Kling fixtures
from tests.kling_fake import FAST, fake, fake_app  # noqa: F401
from tests.seeds import SEED_EXAMPLES
from tests.server import free_port
from vidgate.catalog import parse_request
from vidgate.providers.upstream import (
    Credentials,
    FailureKind,
    KlingProvider,
    UpstreamError,
    UpstreamJob,
    UpstreamStatus,
)
from vidgate.providers.upstream.fakes import FakeConfig, FakeState
from vidgate.providers.upstream.kling_auth import KlingTokens, sign


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 40, 40)).save(buf, "PNG")
    return buf.getvalue()


PNG = png()
B64 = base64.b64encode(PNG).decode()
KLING_SEEDS = [name for name, body in SEED_EXAMPLES.items() if body["model"].startswith("kling")]
OFF = {"enabled": False}

#: what Kling must receive for each seed (images are the PNG above, as bare base64)
EXPECTED: dict[str, tuple[str, dict[str, Any]]] = {
    "v26-curl": (
        "text2video",
        {
            "model_name": "kling-v2-6",
            "prompt": SEED_EXAMPLES["v26-curl"]["prompt"],
            "mode": "std",
            "duration": "5",
            "aspect_ratio": "16:9",
            "sound": "off",
            "watermark_info": OFF,
        },
    ),
    "v26-pro-negative": (
        "text2video",
        {
            "model_name": "kling-v2-6",
            "prompt": SEED_EXAMPLES["v26-pro-negative"]["prompt"],
            "negative_prompt": "blurry, low quality, distorted",
            "mode": "pro",
            "duration": "10",
            "aspect_ratio": "16:9",
            "sound": "off",
            "watermark_info": OFF,
        },
    ),
    "v26-first-frame": (
        "image2video",
        {
            "model_name": "kling-v2-6",
            "prompt": "The person in the frame turns and smiles",
            "image": B64,
            "mode": "std",
            "duration": "5",
            "sound": "off",
            "watermark_info": OFF,
        },
    ),
    "v26-first-last": (
        "image2video",
        {
            "model_name": "kling-v2-6",
            "prompt": "City timelapse transitioning from day to night",
            "image": B64,
            "image_tail": B64,
            "mode": "pro",
            "duration": "5",
            "sound": "off",
            "watermark_info": OFF,
        },
    ),
    "v26-pro-audio": (
        "text2video",
        {
            "model_name": "kling-v2-6",
            "prompt": SEED_EXAMPLES["v26-pro-audio"]["prompt"],
            "mode": "pro",
            "duration": "10",
            "aspect_ratio": "16:9",
            "sound": "on",
            "watermark_info": OFF,
        },
    ),
    "v3-curl": (
        "text2video",
        {
            "model_name": "kling-v3",
            "prompt": SEED_EXAMPLES["v3-curl"]["prompt"],
            "mode": "std",
            "duration": "5",
            "aspect_ratio": "16:9",
            "sound": "off",
            "watermark_info": OFF,
        },
    ),
    "v3-std": (
        "text2video",
        {
            "model_name": "kling-v3",
            "prompt": "a golden retriever running on the beach, sunset, cinematic",
            "mode": "std",
            "duration": "5",
            "aspect_ratio": "16:9",
            "sound": "off",
            "watermark_info": OFF,
        },
    ),
    "v3-pro-negative": (
        "text2video",
        {
            "model_name": "kling-v3",
            "prompt": SEED_EXAMPLES["v3-pro-negative"]["prompt"],
            "negative_prompt": "흐림, 저화질, 왜곡",
            "mode": "pro",
            "duration": "10",
            "aspect_ratio": "16:9",
            "sound": "off",
            "watermark_info": OFF,
        },
    ),
    "v3-15s": (
        "text2video",
        {
            "model_name": "kling-v3",
            "prompt": "a time-lapse of a flower blooming in a garden",
            "mode": "std",
            "duration": "15",
            "aspect_ratio": "16:9",
            "sound": "off",
            "watermark_info": OFF,
        },
    ),
    "v3-first-frame": (
        "image2video",
        {
            "model_name": "kling-v3",
            "prompt": "the cat slowly walks forward and looks around",
            "image": B64,
            "mode": "std",
            "duration": "5",
            "sound": "off",
            "watermark_info": OFF,
        },
    ),
    "v3-first-last": (
        "image2video",
        {
            "model_name": "kling-v3",
            "prompt": "smooth cinematic transition",
            "image": B64,
            "image_tail": B64,
            "mode": "std",
            "duration": "5",
            "sound": "off",
            "watermark_info": OFF,
        },
    ),
    "v3-audio": (
        "text2video",
        {
            "model_name": "kling-v3",
            "prompt": SEED_EXAMPLES["v3-audio"]["prompt"],
            "mode": "std",
            "duration": "5",
            "aspect_ratio": "16:9",
            "sound": "on",
            "watermark_info": OFF,
        },
    ),
    "v3-multi-shot": (
        "text2video",
        {
            "model_name": "kling-v3",
            "mode": "pro",
            "duration": "15",
            "aspect_ratio": "9:16",
            "sound": "on",
            "watermark_info": OFF,
            "multi_shot": True,
            "shot_type": "customize",
            "multi_prompt": [
                {"index": s["index"], "prompt": s["prompt"], "duration": str(s["duration"])}
                for s in SEED_EXAMPLES["v3-multi-shot"]["multi_prompt"]
            ],
        },
    ),
    "v3-elements": (
        "text2video",
        {
            "model_name": "kling-v3",
            "prompt": "<<<element_1>>> 와 <<<element_2>>> 이 잔디에서 뛰어놉니다",
            "mode": "std",
            "duration": "5",
            "aspect_ratio": "16:9",
            "sound": "off",
            "watermark_info": OFF,
            "element_list": "the two created elements, in order",
        },
    ),
    "mc-curl-zh": (
        "motion-control",
        {
            "model_name": "kling-v2-6",
            "prompt": SEED_EXAMPLES["mc-curl-zh"]["prompt"],
            "image_url": B64,
            "video_url": "https://example.com/ref-video-8s.mp4",
            "keep_original_sound": "yes",
            "character_orientation": "image",
            "mode": "std",
            "watermark_info": OFF,
        },
    ),
    "mc-image": (
        "motion-control",
        {
            "model_name": "kling-v2-6",
            "prompt": SEED_EXAMPLES["mc-image"]["prompt"],
            "image_url": B64,
            "video_url": "https://example.com/ref-video-8s.mp4",
            "keep_original_sound": "yes",
            "character_orientation": "image",
            "mode": "std",
            "watermark_info": OFF,
        },
    ),
    "mc-video": (
        "motion-control",
        {
            "model_name": "kling-v2-6",
            "prompt": SEED_EXAMPLES["mc-video"]["prompt"],
            "image_url": B64,
            "video_url": "https://example.com/ref-video-12s.mp4",
            "keep_original_sound": "no",
            "character_orientation": "video",
            "mode": "pro",
            "watermark_info": OFF,
        },
    ),
    "mc-v3": (
        "motion-control",
        {
            "model_name": "kling-v3",
            "prompt": SEED_EXAMPLES["mc-v3"]["prompt"],
            "image_url": B64,
            "video_url": "https://example.com/ref-video-8s.mp4",
            "keep_original_sound": "yes",
            "character_orientation": "image",
            "mode": "pro",
            "watermark_info": OFF,
        },
    ),
}


@pytest.fixture
def elements(fake_app: tuple[str, Any]) -> dict[int, dict[str, Any]]:
    """The elements the fake Kling holds, by element_id."""
    return fake_app[1].state.kling.elements


def creds(url: str, **overrides: str) -> Credentials:
    config = FakeConfig()
    values = {"access_key": config.access_key, "secret_key": config.secret_key, **overrides}
    return Credentials(base_url=url, **values)


def job(body: dict[str, Any], task_id: str = "task_test") -> UpstreamJob:
    request = parse_request(body)
    refs = request.media_refs()
    return UpstreamJob(
        task_id=task_id,
        request=request,
        images={r.param: PNG for r in refs if r.kind == "image"},
        video_urls={r.param: r.url for r in refs if r.kind == "video"},
        reference_seconds=8.0 if any(r.kind == "video" for r in refs) else None,
    )


def seed(name: str, **changes: Any) -> dict[str, Any]:
    return {**SEED_EXAMPLES[name], **changes}


def provider() -> KlingProvider:
    return KlingProvider(element_poll_s=0.01, element_timeout_s=5)


async def submit(url: str, body: dict[str, Any], **cred: str) -> str:
    async with httpx.AsyncClient(timeout=10) as client:
        return await provider().submit(client, creds(url, **cred), job(body))


async def poll(url: str, model: str, upstream_id: str) -> UpstreamStatus:
    async with httpx.AsyncClient(timeout=10) as client:
        return await provider().poll(client, creds(url), model, upstream_id)


async def run_to_end(url: str, body: dict[str, Any], kling: KlingProvider | None = None) -> tuple[str, UpstreamStatus]:
    async with httpx.AsyncClient(timeout=10) as client:
        kling, credentials = kling or provider(), creds(url)
        upstream_id = await kling.submit(client, credentials, job(body))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            status = await kling.poll(client, credentials, body["model"], upstream_id)
            if status.state in ("completed", "failed"):
                return upstream_id, status
            await asyncio.sleep(0.02)
    raise AssertionError("the fake task did not finish")


def failure(coro: Any) -> UpstreamError:
    with pytest.raises(UpstreamError) as info:
        asyncio.run(coro)
    return info.value


# --- every seed, end to end --------------------------------------------------------------------


@pytest.mark.parametrize("name", KLING_SEEDS)
def test_seed_is_mapped_submitted_and_completed(
    fake: tuple[str, FakeState], elements: dict[int, dict[str, Any]], name: str
) -> None:
    url, state = fake
    upstream_id, status = asyncio.run(run_to_end(url, SEED_EXAMPLES[name]))
    endpoint, expected = EXPECTED[name]
    assert upstream_id.startswith(f"{endpoint}:")
    received = state.tasks[upstream_id.split(":", 1)[1]].body
    if "element_list" in expected:
        names = [elements[item["element_id"]]["element_name"] for item in received["element_list"]]
        assert names == ["element_dog", "element_cat"]
        expected = {**expected, "element_list": received["element_list"]}
    assert received == expected
    assert status.state == "completed"
    assert status.seconds == (8.0 if endpoint == "motion-control" else float(expected["duration"]))
    [video_url] = status.video_urls
    video = httpx.get(video_url)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"


def test_elements_are_created_from_the_images_before_the_video(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    asyncio.run(run_to_end(url, SEED_EXAMPLES["v3-elements"]))
    created = [body for path, body in list(state.posts)[-3:-1]]
    assert created == [
        {
            "element_name": "element_dog",
            "element_description": "a golden retriever, fluffy fur, friendly expression",
            "reference_type": "image_refer",
            "element_image_list": {"frontal_image": B64, "refer_images": [{"image_url": B64}]},
            "tag_list": [{"tag_id": "o_108"}],
        },
        {
            "element_name": "element_cat",
            "element_description": "an orange tabby cat, round face, bright eyes",
            "reference_type": "image_refer",
            "element_image_list": {"frontal_image": B64, "refer_images": [{"image_url": B64}]},
            "tag_list": [{"tag_id": "o_108"}],
        },
    ]


def test_refused_element_fails_the_task(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    body = seed("v3-elements")
    body["element_list"] = [{**body["element_list"][0], "description": "REJECT this dog"}]
    before = state.counters["submitted"]
    error = failure(submit(url, body))
    assert (error.kind, error.reason) == (FailureKind.FAIL_TASK, "content_rejected")
    assert state.counters["submitted"] == before  # no video task was started


# --- authentication ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cred", "code"),
    [
        ({"secret_key": "not-the-secret-key-0123456789abcdef"}, "1002"),
        ({"access_key": "someone-else"}, "1002"),
    ],
)
def test_wrong_keys_bench_the_channel(fake: tuple[str, FakeState], cred: dict[str, str], code: str) -> None:
    url, _ = fake
    error = failure(submit(url, SEED_EXAMPLES["v26-curl"], **cred))
    assert (error.kind, error.reason) == (FailureKind.BENCH_CHANNEL, "upstream_auth_failed")
    assert f"code {code}" in error.message


@pytest.mark.parametrize(("shift", "code"), [(-4000, "1004"), (600, "1003")])
def test_expired_or_premature_tokens_are_refused(fake: tuple[str, FakeState], shift: int, code: str) -> None:
    url, _ = fake
    config = FakeConfig()
    token = sign(config.access_key, config.secret_key, int(time.time()) + shift).value
    answer = httpx.post(f"{url}/v1/videos/text2video", json={}, headers={"Authorization": f"Bearer {token}"})
    assert (answer.status_code, answer.json()["code"]) == (401, int(code))


def test_missing_authorization_is_1001(fake: tuple[str, FakeState]) -> None:
    url, _ = fake
    assert httpx.post(f"{url}/v1/videos/text2video", json={}).json()["code"] == 1001


def test_a_channel_without_keys_is_benched_without_calling(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    before = state.counters["auth_failed"]
    error = failure(submit(url, SEED_EXAMPLES["v26-curl"], access_key=""))
    assert error.kind == FailureKind.BENCH_CHANNEL and state.counters["auth_failed"] == before


@pytest.fixture
def tokens_seen(fake_app: tuple[str, Any]) -> set[str]:
    seen: set[str] = fake_app[1].state.kling.tokens_seen
    seen.clear()
    return seen


def test_one_token_serves_many_calls(fake: tuple[str, FakeState], tokens_seen: set[str]) -> None:
    url, _ = fake
    kling = provider()  # one provider per process: its token cache serves every call
    asyncio.run(run_to_end(url, SEED_EXAMPLES["v3-std"], kling))
    asyncio.run(run_to_end(url, SEED_EXAMPLES["v3-elements"], kling))
    assert len(tokens_seen) == 1


def test_renewed_tokens_are_accepted(fake: tuple[str, FakeState], tokens_seen: set[str]) -> None:
    url, _ = fake
    steps = iter(range(100))
    # every call is one second later and inside the renewal margin, so every call signs a new token
    tokens = KlingTokens(renew_margin=1799, clock=lambda: time.time() - 60 + next(steps))

    async def submit_and_poll() -> UpstreamStatus:
        async with httpx.AsyncClient(timeout=10) as client:
            kling = KlingProvider(tokens=tokens)
            upstream_id = await kling.submit(client, creds(url), job(SEED_EXAMPLES["v3-std"]))
            return await kling.poll(client, creds(url), "kling-v3", upstream_id)

    assert asyncio.run(submit_and_poll()).state in ("pending", "processing", "completed")
    assert len(tokens_seen) == 2


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "kind", "reason", "wait"),
    [
        ("rate_limit", FailureKind.RETRY_ELSEWHERE, "upstream_rate_limited", 5.0),
        ("concurrency", FailureKind.RETRY_ELSEWHERE, "upstream_rate_limited", 10.0),
        ("quota", FailureKind.BENCH_CHANNEL, "quota_exhausted", None),
        ("account", FailureKind.BENCH_CHANNEL, "upstream_account_error", None),
        ("invalid_parameters", FailureKind.FAIL_TASK, "invalid_parameters", None),
        ("server_error", FailureKind.RETRY, "upstream_error", None),
        ("unavailable", FailureKind.RETRY, "upstream_error", None),
    ],
)
def test_faults_on_submit(
    fake: tuple[str, FakeState], fault: Any, kind: FailureKind, reason: str, wait: float | None
) -> None:
    url, state = fake
    state.inject(fault)
    error = failure(submit(url, SEED_EXAMPLES["v3-std"]))
    assert (error.kind, error.reason, error.retry_after) == (kind, reason, wait)


def test_faults_on_poll(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    upstream_id = asyncio.run(submit(url, SEED_EXAMPLES["v3-std"]))
    state.inject("server_error")
    error = failure(poll(url, "kling-v3", upstream_id))
    assert (error.kind, error.reason) == (FailureKind.RETRY, "upstream_error")
    assert asyncio.run(poll(url, "kling-v3", upstream_id)).state in ("pending", "processing", "completed")


def test_unsafe_prompt_is_rejected_at_submit(fake: tuple[str, FakeState]) -> None:
    url, _ = fake
    error = failure(submit(url, seed("v26-curl", prompt="please REJECT this")))
    assert (error.kind, error.reason) == (FailureKind.FAIL_TASK, "content_rejected")
    assert "1301" in error.message


@pytest.mark.parametrize(("word", "code"), [("UNSAFE_OUTPUT", "content_rejected"), ("FAIL_LATER", "upstream_error")])
def test_tasks_failing_upstream_are_statuses(fake: tuple[str, FakeState], word: str, code: str) -> None:
    url, _ = fake
    _, status = asyncio.run(run_to_end(url, seed("v3-std", prompt=f"a dog {word}")))
    assert (status.state, status.error_code) == ("failed", code)
    assert status.message and status.video_urls == []


def test_timeouts_are_retried(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    state.config.latency_s = 0.5

    async def slow_submit() -> str:
        async with httpx.AsyncClient(timeout=0.1) as client:
            return await provider().submit(client, creds(url), job(SEED_EXAMPLES["v26-curl"]))

    error = failure(slow_submit())
    assert (error.kind, error.reason) == (FailureKind.RETRY, "upstream_timeout")
    assert isinstance(error.__cause__, httpx.TimeoutException)


def test_connection_refused_is_retried() -> None:
    error = failure(submit(f"http://127.0.0.1:{free_port()}", SEED_EXAMPLES["v26-curl"]))
    assert (error.kind, error.reason) == (FailureKind.RETRY, "upstream_unreachable")
    assert isinstance(error.__cause__, httpx.TransportError)


def test_unknown_or_malformed_upstream_ids_fail_the_task(fake: tuple[str, FakeState]) -> None:
    url, _ = fake
    for upstream_id in ("text2video:123", "image2video:nope", "nonsense", "omni:1"):
        error = failure(poll(url, "kling-v3", upstream_id))
        assert (error.kind, error.reason) == (FailureKind.FAIL_TASK, "upstream_error")


def test_task_is_only_found_under_its_own_endpoint(fake: tuple[str, FakeState]) -> None:
    url, _ = fake
    upstream_id = asyncio.run(submit(url, SEED_EXAMPLES["v3-std"]))
    error = failure(poll(url, "kling-v3", upstream_id.replace("text2video", "image2video")))
    assert error.kind == FailureKind.FAIL_TASK and "1203" in error.message


# --- the fake's own behaviour ------------------------------------------------------------------


def test_fake_is_strict_about_fields_and_base64(fake: tuple[str, FakeState]) -> None:
    url, _ = fake
    config = FakeConfig()
    headers = {"Authorization": f"Bearer {sign(config.access_key, config.secret_key, int(time.time())).value}"}
    base = {"model_name": "kling-v3", "prompt": "p", "duration": "5", "mode": "std"}
    answers = [
        httpx.post(f"{url}/v1/videos/text2video", json={**base, "audio": True}, headers=headers),
        httpx.post(f"{url}/v1/videos/text2video", json={**base, "duration": 5}, headers=headers),
        httpx.post(
            f"{url}/v1/videos/image2video", json={**base, "image": "data:image/png;base64,AAAA"}, headers=headers
        ),
        httpx.post(
            f"{url}/v1/videos/image2video", json={**base, "image": B64, "aspect_ratio": "16:9"}, headers=headers
        ),
    ]
    assert [(a.status_code, a.json()["code"]) for a in answers] == [(400, 1201)] * 4


def test_slow_task_completes_when_its_time_comes(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    upstream_id = asyncio.run(submit(url, seed("v3-std", prompt="a SLOW dog")))
    state.advance(1000)
    assert asyncio.run(poll(url, "kling-v3", upstream_id)).state == "processing"
    state.advance(3000)
    assert asyncio.run(poll(url, "kling-v3", upstream_id)).state == "completed"


def test_results_can_disappear_after_completion(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    state.config.delete_after_completion_s = 60
    _, status = asyncio.run(run_to_end(url, SEED_EXAMPLES["v26-curl"]))
    assert httpx.get(status.video_urls[0]).status_code == 200
    state.advance(61)
    assert httpx.get(status.video_urls[0]).status_code == 404
    other_id, other = asyncio.run(run_to_end(url, SEED_EXAMPLES["v26-curl"]))
    state.delete_result(other_id.split(":", 1)[1])
    assert httpx.get(other.video_urls[0]).status_code == 404
