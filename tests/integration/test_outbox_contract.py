"""The webhook store's contract, on SQLite and on the real PostgreSQL server: events recorded in
the transaction of every status change that causes one (and nothing written when no one is to
hear of it), one sender per delivery at a time, the lease, the attempts, and accounts apart."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from ulid import ULID

from tests.integration.test_store_contract import Account, sent_upstream
from vidgate.store import Store
from vidgate.store.outbox import DELIVERED, FAILED, PENDING, Attempt
from vidgate.store.tables import tasks, webhook_deliveries, webhook_events
from vidgate.tasks.model import Status

ALL = ["task.processing", "task.completed", "task.failed", "task.cancelled"]


def submit(acct: Account, callback_url: str | None = None) -> str:
    task_id = f"task_{ULID()}"
    request = {"model": "kling-v3", "prompt": "x"} | ({"callback_url": callback_url} if callback_url else {})
    acct.store.tasks.insert_with_hold(
        task_id=task_id,
        account_id=acct.id,
        key_id=acct.key_id,
        model="kling-v3",
        request=request,
        hold=1000,
        estimated_time=10,
    )
    return task_id


def endpoint(store: Store, acct: Account, events: list[str] = ALL, url: str = "https://hooks.example/a") -> str:
    endpoint_id = f"wh_{ULID()}"
    store.webhooks.create(
        endpoint_id=endpoint_id, account_id=acct.id, url=url, events=events, sealed_secret="sealed", description=None
    )
    return endpoint_id


def events(store: Store, task_id: str) -> list[tuple[str, str | None, str]]:
    """(type, endpoint id, url) of every delivery recorded for the task, oldest first."""
    with store.db.read() as conn:
        rows = conn.execute(
            sa.select(webhook_events.c.type, webhook_deliveries.c.endpoint_id, webhook_deliveries.c.url)
            .join(webhook_deliveries, webhook_deliveries.c.event_id == webhook_events.c.id)
            .where(webhook_events.c.task_id == task_id)
            .order_by(webhook_events.c.created_at, webhook_deliveries.c.endpoint_id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def count(store: Store, table: sa.Table) -> int:
    with store.db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_no_one_to_tell_writes_nothing(store: Store) -> None:
    acct = Account(store)
    task_id = submit(acct)
    assert store.tasks.claim("w", 30) is not None
    assert store.tasks.complete(task_id, "w", cost=1, result_path="r", expires_at=2**40)
    assert count(store, webhook_events) == 0 and count(store, webhook_deliveries) == 0


def test_every_status_change_is_recorded_with_the_callback(store: Store) -> None:
    acct = Account(store)
    done, failed, cancelled_pending, cancelled_processing = (submit(acct, "https://cb.example/x") for _ in range(4))
    for _ in range(4):
        assert store.tasks.claim("w", 30) is not None  # all four: processing
    store.tasks.cancel(cancelled_pending, acct.id)  # processing: flagged only, no event yet
    assert store.tasks.complete(done, "w", cost=1, result_path="r", expires_at=2**40)
    assert store.tasks.fail(failed, code="boom", message="it broke", worker_id="w")
    assert store.tasks.finish_cancel(cancelled_pending, "w")
    store.tasks.cancel(cancelled_processing, acct.id)
    assert store.tasks.finish_cancel(cancelled_processing, "w")
    cb = "https://cb.example/x"
    assert events(store, done) == [("task.processing", None, cb), ("task.completed", None, cb)]
    assert events(store, failed) == [("task.processing", None, cb), ("task.failed", None, cb)]
    assert events(store, cancelled_pending)[-1] == ("task.cancelled", None, cb)
    late = submit(acct, cb)
    store.tasks.cancel(late, acct.id)  # pending: cancelled at once
    assert events(store, late) == [("task.cancelled", None, cb)]


def test_the_snapshot_is_the_task_at_that_change(store: Store) -> None:
    acct = Account(store)
    endpoint(store, acct)
    task_id = submit(acct)
    store.tasks.claim("w", 30)
    store.tasks.complete(task_id, "w", cost=7, result_path="res/x.mp4", expires_at=2**40)
    with store.db.read() as conn:
        snaps = {
            r.type: r.task for r in conn.execute(sa.select(webhook_events).where(webhook_events.c.task_id == task_id))
        }
    assert snaps["task.processing"]["status"] == "processing" and snaps["task.processing"]["result_path"] is None
    assert snaps["task.completed"]["status"] == "completed" and snaps["task.completed"]["cost"] == 7
    assert snaps["task.completed"]["result_path"] == "res/x.mp4"


def test_endpoints_get_what_they_subscribe_to_and_only_their_accounts(store: Store) -> None:
    acct, other = Account(store), Account(store)
    every = endpoint(store, acct)
    failures = endpoint(store, acct, ["task.failed"])
    endpoint(store, other)
    disabled = endpoint(store, acct)
    store.webhooks.update(disabled, acct.id, {"enabled": False})
    task_id = submit(acct)
    store.tasks.claim("w", 30)
    store.tasks.fail(task_id, code="x", message="y", worker_id="w")
    assert sorted((t, e) for t, e, _ in events(store, task_id)) == sorted(
        [("task.processing", every), ("task.failed", every), ("task.failed", failures)]
    )


def test_the_sweeper_and_the_upstream_queue_record_theirs(store: Store) -> None:
    acct = Account(store)
    every = endpoint(store, acct)
    lost = submit(acct)
    store.tasks.claim("w", -1)  # its lease has run out already
    store.tasks.sweep(max_attempts=1, timeouts={}, default_timeout=3600)
    assert events(store, lost)[-1][:2] == ("task.failed", every)
    upstream = [submit(acct), submit(acct)]
    sent_upstream(store, upstream)
    assert store.upstream.complete(upstream[0], "u0", cost=1, result_path="r", expires_at=2**40)
    assert store.upstream.fail(upstream[1], "u1", code="x", message="y")
    assert events(store, upstream[0])[-1][:2] == ("task.completed", every)
    assert events(store, upstream[1])[-1][:2] == ("task.failed", every)


def test_a_status_change_rolled_back_records_nothing(store: Store) -> None:
    acct = Account(store)
    endpoint(store, acct)
    task_id = submit(acct)
    with pytest.raises(RuntimeError), store.db.write() as conn:
        conn.execute(sa.update(tasks).where(tasks.c.id == task_id).values(status=Status.PROCESSING.value))
        from vidgate.store import outbox

        assert outbox.record(conn, [task_id]) == 1
        raise RuntimeError("the transaction fails after recording")
    assert count(store, webhook_events) == 0 and store.tasks.get(task_id).status == Status.PENDING  # type: ignore[union-attr]


def test_one_sender_per_delivery_and_the_lease(store: Store) -> None:
    acct = Account(store)
    endpoint(store, acct)
    for _ in range(10):
        submit(acct)
        store.tasks.claim("w", 30)
    with ThreadPoolExecutor(4) as pool:
        claims = list(
            pool.map(lambda n: store.outbox.claim(f"s{n}", free=None, room=10, per_target=10, lease=30), range(4))
        )
    ids = [d.id for claim in claims for d in claim]
    assert len(ids) == len(set(ids)) == 10
    assert store.outbox.claim("late", free=None, room=10, per_target=10, lease=30) == []
    # a sender that dies leaves its deliveries to be claimed again once their lease runs out
    with store.db.write() as conn:
        conn.execute(sa.update(webhook_deliveries).values(next_attempt_at=time.time() - 1))
    again = store.outbox.claim("next", free=None, room=10, per_target=10, lease=30)
    assert len(again) == 10
    first = next(claim for claim in claims if claim)[0]
    attempt = Attempt(time.time(), 200, None, 5)
    assert not store.outbox.finish(first.id, "s-gone", attempt, retry_at=None, state=DELIVERED)  # not its holder
    assert store.outbox.finish(first.id, "next", attempt, retry_at=None, state=DELIVERED)


def test_per_target_and_room(store: Store) -> None:
    acct = Account(store)
    a, b = endpoint(store, acct, url="https://a.example/"), endpoint(store, acct, url="https://b.example/")
    for _ in range(5):
        submit(acct)
        store.tasks.claim("w", 30)
    got = store.outbox.claim("s", free={a: 1}, room=100, per_target=2, lease=30)
    assert sorted(d.target for d in got) == sorted([a, b, b])
    assert store.outbox.claim("s", free={a: 0, b: 0}, room=100, per_target=2, lease=30) == []
    assert len(store.outbox.claim("s", free={a: 0}, room=1, per_target=10, lease=30)) == 1


def test_attempts_retries_and_redelivery(store: Store) -> None:
    acct, other = Account(store), Account(store)
    hook = endpoint(store, acct)
    submit(acct)
    store.tasks.claim("w", 30)
    (due,) = store.outbox.claim("s", free=None, room=10, per_target=10, lease=30)
    assert due.body is None and due.type == "task.processing" and due.attempts == 0
    assert store.outbox.keep_body(due.event_id, "first") == "first"
    assert store.outbox.keep_body(due.event_id, "second") == "first"  # every attempt sends the same bytes
    soon = time.time() + 0.2
    assert store.outbox.finish(due.id, "s", Attempt(time.time(), 500, None, 12), retry_at=soon, state=PENDING)
    assert store.outbox.claim("s", free=None, room=10, per_target=10, lease=30) == []  # not due yet
    time.sleep(0.25)
    (again,) = store.outbox.claim("s", free=None, room=10, per_target=10, lease=30)
    assert again.attempts == 1 and again.body == "first"
    assert store.outbox.finish(again.id, "s", Attempt(time.time(), None, "refused", 0), retry_at=None, state=FAILED)
    (delivery,) = store.outbox.deliveries(acct.id, hook)
    assert delivery.state == FAILED and [(a.http_status, a.error) for a in delivery.attempts] == [
        (500, None),
        (None, "refused"),
    ]
    assert store.outbox.deliveries(other.id, hook) == []
    assert not store.outbox.redeliver(delivery.id, other.id, hook)
    assert store.outbox.redeliver(delivery.id, acct.id, hook)
    (resent,) = store.outbox.claim("s", free=None, room=10, per_target=10, lease=30)
    assert resent.id == delivery.id and resent.event_id == due.event_id and resent.body == "first"


def test_endpoints_and_secrets_per_account(store: Store) -> None:
    acct, other = Account(store), Account(store)
    hook = endpoint(store, acct)
    assert [e.id for e in store.webhooks.list(acct.id)] == [hook]
    assert store.webhooks.list(other.id) == [] and store.webhooks.get(hook, other.id) is None
    assert store.webhooks.update(hook, other.id, {"url": "https://evil.example"}) is None
    assert store.webhooks.rotate(hook, other.id, "x") is None and not store.webhooks.delete(hook, other.id)
    assert store.webhooks.get(hook, acct.id).url == "https://hooks.example/a"  # type: ignore[union-attr]
    store.webhooks.disable(hook, "the receiver answered 410 Gone")
    shown = store.webhooks.get(hook, acct.id)
    assert shown is not None and not shown.enabled and shown.disabled_reason == "the receiver answered 410 Gone"
    assert store.webhooks.update(hook, acct.id, {"enabled": True}).disabled_reason is None  # type: ignore[union-attr]
    with ThreadPoolExecutor(4) as pool:
        secrets = set(pool.map(lambda n: store.webhooks.default_secret(acct.id, f"s{n}"), range(4)))
    assert len(secrets) == 1 and store.webhooks.default_secret(acct.id, "later") in secrets
    assert store.webhooks.default_secret(other.id, "theirs") == "theirs"
    assert store.webhooks.delete(hook, acct.id) and store.webhooks.list(acct.id) == []
