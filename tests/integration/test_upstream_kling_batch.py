"""Polling many Kling tasks at once: the task listings of the fake Kling API, over real loopback HTTP."""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from typing import Any

import httpx
import pytest

from tests.integration.test_upstream_kling import creds, job, provider, seed

# ruff: noqa: F811  (pytest fixtures arrive as arguments named like the imported fixtures)
# the shared fake Kling fixtures
from tests.kling_fake import FAST, fake, fake_app  # noqa: F401
from vidgate.providers.upstream import FailureKind, UpstreamError, UpstreamStatus
from vidgate.providers.upstream.base import PollResult
from vidgate.providers.upstream.fakes import FakeConfig, FakeState
from vidgate.providers.upstream.kling import PAGE_SIZE
from vidgate.providers.upstream.kling_auth import sign

#: a seed request for each endpoint kind
SEEDS = {"text2video": "v3-std", "image2video": "v3-first-frame", "motion-control": "mc-image"}
_seeded = itertools.count()

ModelIds = list[tuple[str, str]]


async def submit_all(url: str, bodies: list[dict[str, Any]]) -> ModelIds:
    """Submit every body through the adapter, a few at a time."""
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(timeout=30) as client:
        kling, credentials = provider(), creds(url)

        async def one(body: dict[str, Any]) -> tuple[str, str]:
            async with gate:
                return body["model"], await kling.submit(client, credentials, job(body))

        return list(await asyncio.gather(*(one(body) for body in bodies)))


def put_tasks(state: FakeState, endpoint: str, count: int, prompt: str = "a dog") -> ModelIds:
    """Tasks put straight into the fake, as if submitted earlier (cheap: no HTTP), oldest first."""
    tasks = [state.add(f"seeded-{next(_seeded)}", endpoint, {}, prompt, 5.0) for _ in range(count)]
    return [("kling-v3", f"{endpoint}:{task.id}") for task in tasks]


def poll_many(url: str, model_ids: ModelIds, **cred: str) -> tuple[dict[str, PollResult], int]:
    """The adapter's results, and how many HTTP requests it sent for them."""
    sent = 0

    async def count(_: httpx.Request) -> None:
        nonlocal sent
        sent += 1

    async def run() -> dict[str, PollResult]:
        async with httpx.AsyncClient(timeout=30, event_hooks={"request": [count]}) as client:
            return await provider().poll_many(client, creds(url, **cred), model_ids)

    return asyncio.run(run()), sent


def status(result: PollResult) -> UpstreamStatus:
    assert isinstance(result, UpstreamStatus), result
    return result


def failure(result: PollResult) -> UpstreamError:
    assert isinstance(result, UpstreamError), result
    return result


def pages(model_ids: ModelIds) -> int:
    """Listing requests enough for these tasks if they are the newest of their endpoints."""
    per_endpoint = itertools.groupby(sorted(uid.split(":")[0] for _, uid in model_ids))
    return sum(math.ceil(len(list(ids)) / PAGE_SIZE) for _, ids in per_endpoint)


# --- many tasks, few requests ------------------------------------------------------------------


def test_thousands_of_tasks_are_read_in_a_few_listing_requests(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    earlier = put_tasks(state, "text2video", 1200) + put_tasks(state, "image2video", 600)
    prompts = ["a dog FAIL_LATER", "a SLOW dog"] + ["a dog"] * 8
    bodies = [seed(name, prompt=prompts[n % 10]) for name in SEEDS.values() for n in range(60)]
    submitted = asyncio.run(submit_all(url, bodies))
    state.advance(1)  # every task but the slow ones is finished
    listed, polled = state.counters["listed"], state.counters["polled"]

    started = time.monotonic()
    results, sent = poll_many(url, earlier + submitted)
    elapsed = time.monotonic() - started

    assert set(results) == {uid for _, uid in earlier + submitted}
    assert sent == state.counters["listed"] - listed <= pages(earlier + submitted) == 6
    assert state.counters["polled"] == polled  # no task needed its own query
    assert elapsed < 5, f"reading {len(results)} tasks took {elapsed:.1f} s"
    states = [status(results[uid]).state for _, uid in submitted]
    assert states == [{0: "failed", 1: "pending"}.get(n % 10, "completed") for n in range(len(submitted))]
    assert all(status(results[uid]).state == "completed" for _, uid in earlier)
    for _, uid in submitted[2:5] + submitted[62:65] + submitted[122:125]:
        done = status(results[uid])
        [video_url] = done.video_urls
        assert video_url.endswith(".mp4") and done.seconds in (5.0, 8.0)
    assert httpx.get(status(results[submitted[-1][1]]).video_urls[0]).content[4:8] == b"ftyp"
    assert (status(results[submitted[0][1]]).error_code, status(results[submitted[0][1]]).message) == (
        "upstream_error",
        "the generation failed inside the model service",
    )


def test_the_pages_many_tasks_fill_are_asked_for_at_once(fake: tuple[str, FakeState]) -> None:
    """With 1,400 tasks to read (three pages) and every request taking 0.4 s, a round costs about
    one request's latency, not three."""
    url, state = fake
    ids = put_tasks(state, "text2video", 1400)
    state.config.latency_s = 0.4
    started = time.monotonic()
    results, sent = poll_many(url, ids)
    elapsed = time.monotonic() - started
    assert len(results) == 1400 and sent == 3
    assert elapsed < 1.0, f"three pages took {elapsed:.2f} s"


def test_tasks_the_listing_shows_ended_are_reported_once_besides_those_asked_about(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    done = put_tasks(state, "text2video", 3)
    failed = put_tasks(state, "text2video", 1, prompt="a dog UNSAFE_OUTPUT")
    running = put_tasks(state, "text2video", 2)
    for model_ids, delay in ((done + failed, 0), (running, 3600)):  # ended at once; running for an hour
        for _, uid in model_ids:
            state.tasks[uid.split(":", 1)[1]].delay = delay
    kling = provider()

    def poll(model_ids: ModelIds) -> tuple[dict[str, PollResult], dict[str, UpstreamStatus]]:
        async def go() -> tuple[dict[str, PollResult], dict[str, UpstreamStatus]]:
            also: dict[str, UpstreamStatus] = {}
            async with httpx.AsyncClient() as client:
                return await kling.poll_many(client, creds(url), model_ids, also), also

        return asyncio.run(go())

    ours = {uid for _, uid in done + failed + running}  # the shared fake also lists earlier tests' tasks
    results, also = poll([done[0], running[0]])
    assert set(results) == {done[0][1], running[0][1]}
    assert {uid: s.state for uid, s in also.items() if uid in ours} == {
        done[1][1]: "completed",
        done[2][1]: "completed",
        failed[0][1]: "failed",
    }
    assert also[done[1][1]].video_urls and also[failed[0][1]].error_code == "content_rejected"
    assert not set(poll([running[1]])[1]) & ours  # each is reported once
    state.tasks[running[0][1].split(":", 1)[1]].delay = 0
    assert set(poll([running[1]])[1]) & ours == {running[0][1]}  # until another one ends


def test_a_listed_task_reads_as_its_single_query_does(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    bodies = [seed(name, prompt=prompt) for name in SEEDS.values() for prompt in ("a dog", "a SLOW dog", "FAIL_LATER")]
    submitted = asyncio.run(submit_all(url, bodies))
    state.advance(1)
    results, _ = poll_many(url, submitted)

    async def one_by_one() -> list[UpstreamStatus]:
        async with httpx.AsyncClient(timeout=10) as client:
            kling, credentials = provider(), creds(url)
            return [await kling.poll(client, credentials, model, uid) for model, uid in submitted]

    assert [results[uid] for _, uid in submitted] == asyncio.run(one_by_one())


# --- tasks the listing does not show -----------------------------------------------------------


def test_a_few_tasks_spread_over_many_pages_are_read_from_the_listing(fake: tuple[str, FakeState]) -> None:
    """Six tasks, one in every 450 of 2,700 (others' tasks between them), down to page six:
    page one, then two pages at a time while a batch still shows some of them (2-3, 4-5, 6-7),
    and no single query."""
    url, state = fake
    wanted = []
    for _ in range(6):
        wanted += put_tasks(state, "image2video", 1)
        put_tasks(state, "image2video", 449)
    state.advance(1)
    listed, polled = state.counters["listed"], state.counters["polled"]
    results, sent = poll_many(url, wanted)
    assert [status(results[uid]).state for _, uid in wanted] == ["completed"] * 6
    assert state.counters["polled"] == polled and sent == state.counters["listed"] - listed == 7


def test_tasks_beyond_the_listed_pages_or_gone_are_queried_one_by_one(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    old = put_tasks(state, "text2video", 4)
    state.evict(old[-1][1].split(":", 1)[1])
    put_tasks(state, "text2video", 3 * PAGE_SIZE)  # newer tasks fill every page the listing reads
    state.advance(1)
    listed, polled = state.counters["listed"], state.counters["polled"]

    results, sent = poll_many(url, old)

    assert state.counters["listed"] - listed == 3  # one page for the wanted tasks, two extra
    assert state.counters["polled"] - polled == 4 and sent == 3 + 4
    assert [status(results[uid]).state for _, uid in old[:3]] == ["completed"] * 3
    gone = failure(results[old[-1][1]])
    assert (gone.kind, gone.reason) == (FailureKind.FAIL_TASK, "upstream_error") and "1203" in gone.message


def test_a_listing_refused_as_invalid_leaves_the_tasks_to_their_single_queries(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    wanted = put_tasks(state, "motion-control", 3)
    state.advance(1)
    state.inject("invalid_parameters")
    results, sent = poll_many(url, wanted)
    assert sent == 1 + 3
    assert [status(results[uid]).state for _, uid in wanted] == ["completed"] * 3


def test_malformed_ids_fail_without_a_request(fake: tuple[str, FakeState]) -> None:
    url, _ = fake
    results, sent = poll_many(url, [("kling-v3", "nonsense"), ("kling-v3", "omni:1"), ("kling-v3", "text2video:")])
    assert sent == 0
    assert {failure(r).kind for r in results.values()} == {FailureKind.FAIL_TASK} and len(results) == 3


# --- a listing that fails fails for every task it concerned -------------------------------------


@pytest.mark.parametrize(
    ("fault", "kind", "reason", "wait"),
    [
        ("rate_limit", FailureKind.RETRY_ELSEWHERE, "upstream_rate_limited", 5.0),
        ("concurrency", FailureKind.RETRY_ELSEWHERE, "upstream_rate_limited", 10.0),
        ("quota", FailureKind.BENCH_CHANNEL, "quota_exhausted", None),
        ("server_error", FailureKind.RETRY, "upstream_error", None),
    ],
)
def test_a_failed_listing_is_the_result_of_its_tasks(
    fake: tuple[str, FakeState], fault: Any, kind: FailureKind, reason: str, wait: float | None
) -> None:
    url, state = fake
    wanted = put_tasks(state, "image2video", 3)
    state.inject(fault)
    results, sent = poll_many(url, wanted)
    assert sent == 1  # no single query follows a listing the channel could not answer
    assert {(e.kind, e.reason, e.retry_after) for e in map(failure, results.values())} == {(kind, reason, wait)}
    assert len(results) == 3


def test_rate_limited_listings_retry_every_task_elsewhere(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    wanted = put_tasks(state, "text2video", 5) + put_tasks(state, "motion-control", 5)
    state.inject("rate_limit", "rate_limit")
    results, sent = poll_many(url, wanted)
    assert sent == 2 and len(results) == 10
    assert all(failure(r).kind == FailureKind.RETRY_ELSEWHERE for r in results.values())


def test_wrong_keys_bench_the_channel_for_every_task(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    wanted = put_tasks(state, "text2video", 3) + put_tasks(state, "image2video", 3)
    results, sent = poll_many(url, wanted, secret_key="not-the-secret-key-0123456789abcdef")
    assert sent == 2 and len(results) == 6
    assert {(failure(r).kind, failure(r).reason) for r in results.values()} == {
        (FailureKind.BENCH_CHANNEL, "upstream_auth_failed")
    }
    keyless, sent = poll_many(url, wanted, access_key="")
    assert sent == 0 and {failure(r).kind for r in keyless.values()} == {FailureKind.BENCH_CHANNEL}


# --- the fake's listing ------------------------------------------------------------------------


def signed() -> dict[str, str]:
    config = FakeConfig()
    return {"Authorization": f"Bearer {sign(config.access_key, config.secret_key, int(time.time())).value}"}


def listing(url: str, endpoint: str, **query: Any) -> httpx.Response:
    return httpx.get(f"{url}/v1/videos/{endpoint}", params=query, headers=signed())


def test_fake_lists_an_endpoints_tasks_newest_first_as_its_query_shows_them(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    put_tasks(state, "text2video", 3)
    [(_, newest)] = asyncio.run(submit_all(url, [seed("v3-std")]))
    state.advance(1)
    answer = listing(url, "text2video")
    assert answer.status_code == 200 and answer.json()["code"] == 0
    data = answer.json()["data"]
    assert len(data) == 30  # Kling's default page size
    task_ids = [item["task_id"] for item in data]
    assert task_ids[0] == newest.split(":", 1)[1]
    expected = [t.id for t in reversed(state.tasks.values()) if t.kind == "text2video"]
    assert task_ids == expected[:30]
    assert [i["task_id"] for i in listing(url, "text2video", pageNum=2, pageSize=7).json()["data"]] == expected[7:14]
    assert listing(url, "motion-control", pageNum=1000, pageSize=500).json()["data"] == []

    single = httpx.get(f"{url}/v1/videos/{newest.replace(':', '/')}", headers=signed())
    assert {**data[0], "updated_at": 0} == {**single.json()["data"], "updated_at": 0}


@pytest.mark.parametrize(
    "query", [{"pageSize": 0}, {"pageSize": 501}, {"pageSize": "ten"}, {"pageNum": 0}, {"pageNum": 1001}]
)
def test_fake_refuses_paging_out_of_range(fake: tuple[str, FakeState], query: dict[str, Any]) -> None:
    url, _ = fake
    answer = listing(url, "image2video", **query)
    assert (answer.status_code, answer.json()["code"]) == (400, 1201)


def test_fake_listing_needs_a_token_and_a_known_endpoint(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    listed = state.counters["listed"]
    assert httpx.get(f"{url}/v1/videos/text2video").json()["code"] == 1001
    unknown = listing(url, "omni-video")
    assert (unknown.status_code, unknown.json()["code"]) == (404, 1202)
    assert state.counters["listed"] == listed
