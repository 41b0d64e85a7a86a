"""The Kling adapter's pure parts: JWT, business codes, task statuses, request mapping details."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import jwt
import pytest

from tests.seeds import SEED_EXAMPLES
from vidgate.catalog import parse_request
from vidgate.providers.upstream.base import FailureKind, UpstreamError, UpstreamJob
from vidgate.providers.upstream.kling import task_status
from vidgate.providers.upstream.kling_auth import KlingTokens, sign
from vidgate.providers.upstream.kling_body import element_bodies, element_references, submission
from vidgate.providers.upstream.kling_codes import check

AK = "ak-unit-test"
SK = "sk-unit-test-0123456789abcdef0123456789"
NOW = 1_700_000_000


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- JWT ---------------------------------------------------------------------------------------


def test_token_claims_and_header() -> None:
    token = sign(AK, SK, NOW).value
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, SK, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False})
    assert claims == {"iss": AK, "exp": NOW + 1800, "nbf": NOW - 5}


def test_token_is_cached_then_renewed_before_expiry() -> None:
    clock = Clock(NOW)
    tokens = KlingTokens(clock=clock)
    first = tokens.token(AK, SK)
    clock.now = NOW + 1800 - 301  # more than the 300 s margin left: keep it
    assert tokens.token(AK, SK) == first
    clock.now = NOW + 1800 - 299  # inside the margin: a new one, valid from now
    renewed = tokens.token(AK, SK)
    assert renewed != first
    claims = jwt.decode(renewed, SK, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False})
    assert claims["exp"] == NOW + 1800 - 299 + 1800


def test_tokens_are_per_key_pair() -> None:
    tokens = KlingTokens(clock=Clock(NOW))
    other = tokens.token("ak-other", SK)
    assert tokens.token(AK, SK) != other
    assert tokens.token(AK, SK + "x") != tokens.token(AK, SK)
    assert (
        jwt.decode(other, SK, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False})["iss"]
        == "ak-other"
    )


# --- business codes ----------------------------------------------------------------------------

CODE_TABLE = [
    (401, 1000, FailureKind.BENCH_CHANNEL, "upstream_auth_failed"),
    (401, 1001, FailureKind.BENCH_CHANNEL, "upstream_auth_failed"),
    (401, 1002, FailureKind.BENCH_CHANNEL, "upstream_auth_failed"),
    (401, 1003, FailureKind.BENCH_CHANNEL, "upstream_auth_failed"),
    (401, 1004, FailureKind.BENCH_CHANNEL, "upstream_auth_failed"),
    (429, 1100, FailureKind.BENCH_CHANNEL, "upstream_account_error"),
    (429, 1101, FailureKind.BENCH_CHANNEL, "quota_exhausted"),
    (429, 1102, FailureKind.BENCH_CHANNEL, "quota_exhausted"),
    (403, 1103, FailureKind.BENCH_CHANNEL, "upstream_account_error"),
    (400, 1200, FailureKind.FAIL_TASK, "invalid_parameters"),
    (400, 1201, FailureKind.FAIL_TASK, "invalid_parameters"),
    (404, 1202, FailureKind.FAIL_TASK, "upstream_error"),
    (404, 1203, FailureKind.FAIL_TASK, "upstream_error"),
    (400, 1300, FailureKind.FAIL_TASK, "content_rejected"),
    (400, 1301, FailureKind.FAIL_TASK, "content_rejected"),
    (429, 1302, FailureKind.RETRY_ELSEWHERE, "upstream_rate_limited"),
    (429, 1303, FailureKind.RETRY_ELSEWHERE, "upstream_rate_limited"),
    (429, 1304, FailureKind.BENCH_CHANNEL, "upstream_account_error"),
    (500, 5000, FailureKind.RETRY, "upstream_error"),
    (503, 5001, FailureKind.RETRY, "upstream_error"),
    (504, 5002, FailureKind.RETRY, "upstream_timeout"),
]


def kling_error(status: int, code: int, headers: dict[str, str] | None = None) -> UpstreamError:
    response = httpx.Response(status, json={"code": code, "message": "m", "request_id": "r"}, headers=headers)
    with pytest.raises(UpstreamError) as info:
        check(response)
    return info.value


@pytest.mark.parametrize(("status", "code", "kind", "reason"), CODE_TABLE)
def test_every_business_code_has_a_kind_and_reason(status: int, code: int, kind: FailureKind, reason: str) -> None:
    error = kling_error(status, code)
    assert (error.kind, error.reason) == (kind, reason)
    assert error.retryable == (kind != FailureKind.FAIL_TASK)
    assert str(code) in error.message


def test_rate_and_concurrency_limits_say_when_to_come_back() -> None:
    assert kling_error(429, 1302).retry_after == 5.0
    assert kling_error(429, 1303).retry_after == 10.0
    assert kling_error(429, 1303, {"Retry-After": "42"}).retry_after == 42.0
    assert kling_error(400, 1201, {"Retry-After": "42"}).retry_after is None


@pytest.mark.parametrize(
    ("status", "kind", "reason"),
    [
        (401, FailureKind.BENCH_CHANNEL, "upstream_auth_failed"),
        (403, FailureKind.BENCH_CHANNEL, "upstream_auth_failed"),
        (429, FailureKind.RETRY_ELSEWHERE, "upstream_rate_limited"),
        (400, FailureKind.FAIL_TASK, "invalid_parameters"),
        (404, FailureKind.FAIL_TASK, "upstream_error"),
        (502, FailureKind.RETRY, "upstream_error"),
        (504, FailureKind.RETRY, "upstream_timeout"),
    ],
)
def test_unknown_codes_fall_back_to_the_http_status(status: int, kind: FailureKind, reason: str) -> None:
    error = kling_error(status, 9999)
    assert (error.kind, error.reason) == (kind, reason)


def test_gateway_pages_that_are_not_json() -> None:
    for status, kind in ((502, FailureKind.RETRY), (200, FailureKind.RETRY), (404, FailureKind.FAIL_TASK)):
        with pytest.raises(UpstreamError) as info:
            check(httpx.Response(status, text="<html>Bad Gateway</html>"))
        assert info.value.kind == kind


def test_success_status_with_an_error_code_is_still_an_error() -> None:
    assert kling_error(200, 1301).reason == "content_rejected"
    response = httpx.Response(200, json={"code": 0, "message": "SUCCEED"})
    with pytest.raises(UpstreamError) as info:
        check(response)
    assert info.value.kind == FailureKind.RETRY


# --- task statuses -----------------------------------------------------------------------------


def test_task_statuses() -> None:
    assert task_status({"task_status": "submitted"}).state == "pending"
    assert task_status({"task_status": "processing"}).state == "processing"
    done = task_status(
        {
            "task_status": "succeed",
            "task_result": {"videos": [{"id": "v", "url": "https://cdn/x.mp4", "duration": "5.1"}]},
        }
    )
    assert (done.state, done.video_urls, done.seconds, done.progress) == ("completed", ["https://cdn/x.mp4"], 5.1, 100)


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("Failure to pass the risk control system", "content_rejected"),
        ("output contains sensitive content", "content_rejected"),
        ("generation timeout", "upstream_timeout"),
        ("internal error", "upstream_error"),
    ],
)
def test_failed_tasks_carry_our_code(message: str, code: str) -> None:
    status = task_status({"task_status": "failed", "task_status_msg": message})
    assert (status.state, status.error_code, status.message) == ("failed", code, message)


def test_unknown_status_or_missing_video_is_retried() -> None:
    for data in ({"task_status": "weird"}, {"task_status": "succeed", "task_result": {"videos": []}}):
        with pytest.raises(UpstreamError) as info:
            task_status(data)
        assert info.value.kind == FailureKind.RETRY


# --- mapping details ---------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\nfake"


def job_for(body: dict[str, Any], images: dict[str, bytes] | None = None, **extra: Any) -> UpstreamJob:
    return UpstreamJob(task_id="task_x", request=parse_request(body), images=images or {}, **extra)


def test_element_references_become_kling_templates() -> None:
    names = ["dog", "dog_big", "cat"]
    text = "@dog_big chases @dog and @cat; mail me at a@dogs.example, @catnip stays"
    assert element_references(text, names) == (
        "<<<element_2>>> chases <<<element_1>>> and <<<element_3>>>; mail me at a@dogs.example, @catnip stays"
    )
    assert element_references("no elements @x", []) == "no elements @x"


def test_unfetched_images_go_as_url_or_bare_base64() -> None:
    data_uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
    body = {"model": "kling-v3", "prompt": "p", "image_urls": [data_uri, "https://e.x/last.png"]}
    plan = submission(job_for(body), [])
    assert plan.endpoint == "image2video"
    assert plan.body["image"] == base64.b64encode(PNG).decode()
    assert plan.body["image_tail"] == "https://e.x/last.png"
    assert "aspect_ratio" not in plan.body  # Kling takes the first image's ratio


def test_mode_4k_and_intelligent_shots_pass_through() -> None:
    body = {"model": "kling-v3", "prompt": "One. Two.", "mode": "4k", "multi_shot": True, "shot_type": "intelligence"}
    plan = submission(job_for(body), [])
    assert plan.endpoint == "text2video"
    assert plan.body["mode"] == "4k"
    assert (plan.body["multi_shot"], plan.body["shot_type"]) == (True, "intelligence")
    assert "multi_prompt" not in plan.body


def test_motion_video_url_comes_from_the_validated_urls() -> None:
    body = dict(SEED_EXAMPLES["mc-v3"])
    plan = submission(job_for(body, {"image_url": PNG}, video_urls={"video_url": "https://checked.example/v.mp4"}), [])
    assert plan.endpoint == "motion-control"
    assert plan.body["video_url"] == "https://checked.example/v.mp4"
    assert plan.body["model_name"] == "kling-v3"


def test_element_texts_are_cut_to_klings_limits() -> None:
    body = {
        "model": "kling-v3",
        "prompt": "@a_very_long_element_name_indeed runs",
        "element_list": [
            {
                "name": "a_very_long_element_name_indeed",
                "description": "d" * 300,
                "element_input_urls": ["https://e.x/1.png"] * 4,
            }
        ],
    }
    [element] = element_bodies(job_for(body))
    assert element["element_name"] == "a_very_long_element_"
    assert element["element_description"] == "d" * 100
    assert element["element_image_list"]["frontal_image"] == "https://e.x/1.png"
    assert len(element["element_image_list"]["refer_images"]) == 3
    assert submission(job_for(body), [7]).body["prompt"] == "<<<element_1>>> runs"
