"""The queue-wide gauges (queue depth, the oldest pending task, money held and captured,
channels benched) as the database answers them, on SQLite and on the real PostgreSQL: one
statement (``store.gauges``), and the collector that serves them from /metrics with a cache."""

from __future__ import annotations

import time

from ulid import ULID

from vidgate.metrics.queue import QueueCollector
from vidgate.store import Store

HOLD = 200_000


def submit(store: Store, account_id: str, key_id: str, hold: int = HOLD) -> str:
    task_id = f"task_{ULID()}"
    store.tasks.insert_with_hold(
        task_id=task_id,
        account_id=account_id,
        key_id=key_id,
        model="kling-v3",
        request={"model": "kling-v3", "prompt": "x"},
        hold=hold,
        estimated_time=10,
        max_active_per_key=None,
    )
    return task_id


def test_gauges_follow_the_queue_and_the_money(store: Store) -> None:
    empty = store.gauges.read(time.time())
    assert empty.depth == {"pending": 0, "processing": 0}
    assert (empty.oldest_pending_at, empty.held, empty.captured, empty.channels_benched) == (None, 0, 0, 0)

    account = store.accounts.create_account("a", 10_000_000)
    key = store.accounts.create_key(account.id)[0]
    first = submit(store, account.id, key.id)
    time.sleep(0.05)
    second = submit(store, account.id, key.id, hold=300_000)
    third = submit(store, account.id, key.id)
    claimed = store.tasks.claim("w1", 30)
    assert claimed is not None and claimed.id == first
    reading = store.gauges.read(time.time())
    assert reading.depth == {"pending": 2, "processing": 1}
    assert reading.held == HOLD + 300_000 + HOLD
    second_task = store.tasks.get(second)
    assert second_task is not None and reading.oldest_pending_at == second_task.created_at

    assert store.tasks.complete(first, "w1", cost=150_000, result_path="r/x.mp4", expires_at=int(time.time()) + 60)
    store.tasks.cancel(third, account.id)
    reading = store.gauges.read(time.time())
    assert reading.depth == {"pending": 1, "processing": 0}
    assert (reading.held, reading.captured) == (300_000, 150_000)

    channel = store.channels.upsert(
        {"name": "c", "provider": "apimart", "base_url": "http://x", "credentials": "sealed", "models": ["kling-v3"]}
    )
    store.channels.upsert(
        {"name": "d", "provider": "apimart", "base_url": "http://y", "credentials": "sealed", "models": ["kling-v3"]}
    )
    store.channels.bench(channel.id, time.time() + 60, "credentials refused")
    assert store.gauges.read(time.time()).channels_benched == 1
    assert store.gauges.read(time.time() + 120).channels_benched == 0  # the bench has run out by then


def test_the_collector_serves_one_reading_per_interval(store: Store) -> None:
    account = store.accounts.create_account("a", 10_000_000)
    key = store.accounts.create_key(account.id)[0]
    submit(store, account.id, key.id)

    def families(collector: QueueCollector) -> dict[str, dict[tuple[str, ...], float]]:
        return {
            f.name: {tuple(s.labels.values()): s.value for s in f.samples if s.name in (f.name, f.name + "_total")}
            for f in collector.collect()
        }

    cached = QueueCollector(store, ttl=60)
    seen = families(cached)
    assert seen["vidgate_queue_depth"] == {("pending",): 1, ("processing",): 0}
    assert seen["vidgate_money_held"] == {(): HOLD / 1e6}
    assert seen["vidgate_money_captured"] == {(): 0}
    assert seen["vidgate_upstream_channels_benched"] == {(): 0}
    assert 0 <= seen["vidgate_queue_oldest_pending_age_seconds"][()] < 60
    submit(store, account.id, key.id)
    assert families(cached)["vidgate_queue_depth"][("pending",)] == 1  # within the interval: the same reading
    assert families(QueueCollector(store, ttl=0))["vidgate_queue_depth"][("pending",)] == 2
