"""Benching channels, on SQLite and on the real PostgreSQL server: FAILURES_TO_BENCH failures in a
row bench a channel for COOL_DOWN_S, a task it takes ends the run, and an operator's fix
(enabling it, new credentials) lifts the bench. Routing (``choose`` over the registry's channels)
goes around a benched channel and back to it once the bench has passed. The engine records what
it learns of a channel's health through the registry (``ChannelRegistry.apply``)."""

from __future__ import annotations

import time
from typing import Any

from ulid import ULID

from vidgate.routing.channels import AUTH_BENCH_S, COOL_DOWN_S, FAILURES_TO_BENCH, ChannelAction, choose
from vidgate.routing.registry import ChannelRegistry
from vidgate.secretbox import SecretBox
from vidgate.store import Store
from vidgate.store.channels import ChannelRecord

MODEL = "kling-v3"
BOX = SecretBox(b"k" * 32)


def channel(store: Store, name: str = "c", **fields: Any) -> ChannelRecord:
    return store.channels.upsert(
        {
            "name": name,
            "provider": "apimart",
            "base_url": "http://x",
            "credentials": BOX.seal({"api_key": "k1"}),
            "models": [MODEL],
            **fields,
        }
    )


def fail(store: Store, channel_id: str, times: int, reason: str = "upstream said 503") -> None:
    for _ in range(times):
        store.channels.record_failure(channel_id, threshold=FAILURES_TO_BENCH, cool_down=COOL_DOWN_S, reason=reason)


def get(store: Store, channel_id: str) -> ChannelRecord:
    record = store.channels.get(channel_id)
    assert record is not None
    return record


def take_a_task(store: Store, channel_id: str) -> None:
    """A task submitted, claimed, reserved on the channel and handed over to it: a success."""
    account = store.accounts.create_account("t", 10_000_000)
    key_id = store.accounts.create_key(account.id)[0].id
    task_id = f"task_{ULID()}"
    store.tasks.insert_with_hold(
        task_id=task_id,
        account_id=account.id,
        key_id=key_id,
        model=MODEL,
        request={"model": MODEL, "prompt": "x"},
        hold=1000,
        estimated_time=10,
    )
    assert store.tasks.claim("w", 30) is not None
    assert store.upstream.reserve(task_id, "w", channel_id)
    assert store.upstream.hand_over(
        task_id, "w", channel_id=channel_id, upstream_id=f"u-{task_id}", first_poll_at=0, quote=1
    )


def routed(store: Store, now: float | None = None) -> str | None:
    """The channel a new task would go to, as the engine picks it."""
    registry = ChannelRegistry(store, BOX, refresh=0)
    got = choose(registry.channels(), MODEL, store.channels.in_flight(), now=time.time() if now is None else now)
    return got.id if got else None


def test_the_rule_is_three_failures_and_sixty_seconds() -> None:
    assert (FAILURES_TO_BENCH, COOL_DOWN_S, AUTH_BENCH_S) == (3, 60.0, 900.0)


def test_two_failures_in_a_row_do_not_bench_a_channel(store: Store) -> None:
    c = channel(store)
    fail(store, c.id, FAILURES_TO_BENCH - 1)
    record = get(store, c.id)
    assert record.failures == 2 and record.benched_until is None and record.bench_reason is None
    assert routed(store) == c.id


def test_three_failures_in_a_row_bench_a_channel_for_the_cool_down_with_the_reason(store: Store) -> None:
    c = channel(store)
    fail(store, c.id, 2, reason="first ones")
    before = time.time()
    fail(store, c.id, 1, reason="upstream said 503")
    after = time.time()
    record = get(store, c.id)
    assert record.benched_until is not None
    assert before + COOL_DOWN_S <= record.benched_until <= after + COOL_DOWN_S
    assert record.bench_reason == "upstream said 503"
    assert routed(store) is None


def test_a_long_reason_is_kept_cut_to_500_characters(store: Store) -> None:
    c = channel(store)
    fail(store, c.id, FAILURES_TO_BENCH, reason="x" * 2000)
    assert get(store, c.id).bench_reason == "x" * 500


def test_a_benched_channel_is_routed_around_and_back_to_once_its_bench_has_passed(store: Store) -> None:
    high = channel(store, "high", priority=1)
    low = channel(store, "low", priority=0)
    assert routed(store) == high.id
    fail(store, high.id, FAILURES_TO_BENCH)
    assert routed(store) == low.id
    until = get(store, high.id).benched_until
    assert until is not None
    assert routed(store, now=until - 1) == low.id
    assert routed(store, now=until) == high.id


def test_a_task_taken_in_between_restarts_the_count(store: Store) -> None:
    c = channel(store)
    fail(store, c.id, 2)
    take_a_task(store, c.id)
    assert get(store, c.id).failures == 0
    fail(store, c.id, 2)
    assert get(store, c.id).benched_until is None  # 2 + 2 failures, but never 3 in a row
    fail(store, c.id, 1)
    assert get(store, c.id).benched_until is not None


def test_benching_restarts_the_count_so_two_more_failures_do_not_extend_the_bench(store: Store) -> None:
    c = channel(store)
    fail(store, c.id, FAILURES_TO_BENCH)
    first = get(store, c.id).benched_until
    assert first is not None
    fail(store, c.id, 2)  # failures went back to 0 at the bench: not yet a new run of three
    assert get(store, c.id).benched_until == first


def test_enabling_a_channel_lifts_its_bench(store: Store) -> None:
    c = channel(store)
    fail(store, c.id, FAILURES_TO_BENCH)
    record = store.channels.update(c.id, {"enabled": True})
    assert record is not None
    assert (record.benched_until, record.bench_reason, record.failures) == (None, None, 0)
    assert routed(store) == c.id


def test_new_credentials_lift_a_bench_for_refused_credentials(store: Store) -> None:
    c = channel(store)
    store.channels.bench(c.id, time.time() + AUTH_BENCH_S, "401 invalid api key")
    assert get(store, c.id).bench_reason == "401 invalid api key" and routed(store) is None
    record = store.channels.update(c.id, {"credentials": BOX.seal({"api_key": "k2"})})
    assert record is not None and (record.benched_until, record.bench_reason) == (None, None)
    assert routed(store) == c.id


def test_other_edits_keep_the_bench(store: Store) -> None:
    c = channel(store)
    fail(store, c.id, FAILURES_TO_BENCH)
    until = get(store, c.id).benched_until
    record = store.channels.update(c.id, {"weight": 5, "priority": 3, "max_concurrent": 4})
    assert record is not None and record.benched_until == until and record.bench_reason
    assert routed(store) is None


def test_the_registry_records_what_the_engine_decided_and_reads_it_afresh(store: Store) -> None:
    c = channel(store)
    registry = ChannelRegistry(store, BOX)  # cached for REFRESH_S: apply must see to a fresh read
    seen = registry.get(c.id)
    assert seen is not None
    registry.apply(seen, ChannelAction.NOTHING, "at its limit")
    assert get(store, c.id).failures == 0
    for _ in range(FAILURES_TO_BENCH - 1):
        registry.apply(seen, ChannelAction.RECORD_FAILURE, "upstream said 503")
    assert registry.get(c.id).failures == FAILURES_TO_BENCH - 1  # type: ignore[union-attr]
    registry.apply(seen, ChannelAction.CLEAR_FAILURES)
    assert registry.get(c.id).failures == 0  # type: ignore[union-attr]
    before = time.time()
    registry.apply(seen, ChannelAction.BENCH, "401 invalid api key")
    benched = registry.get(c.id)
    assert benched is not None and benched.bench_reason == "401 invalid api key"
    assert benched.benched_until is not None and benched.benched_until >= before + AUTH_BENCH_S
    assert routed(store) is None
