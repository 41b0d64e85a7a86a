"""One contract for the store, run on SQLite and on the real PostgreSQL server: the queue,
leases, cancellation, the sweeper, the janitor's bookkeeping and exactly-once money."""

from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa
from ulid import ULID

from vidgate.i18n import Message
from vidgate.store import Store
from vidgate.store.errors import KeyAlreadyUsed, NotEnoughFunds, TaskAlreadyEnded, TooManyActiveTasks
from vidgate.store.idempotency import TTL_SECONDS, IdempotencyKey
from vidgate.store.tasks import Lease
from vidgate.tasks.model import Status

HOLD = 200_000


class Account:
    def __init__(self, store: Store, balance: int = 10_000_000) -> None:
        self.store = store
        acct = store.accounts.create_account("t", balance)
        self.id = acct.id
        self.key_id = store.accounts.create_key(acct.id)[0].id

    def submit(self, hold: int = HOLD, model: str = "kling-v3", max_active: int | None = None) -> str:
        task_id = f"task_{ULID()}"
        self.store.tasks.insert_with_hold(
            task_id=task_id,
            account_id=self.id,
            key_id=self.key_id,
            model=model,
            request={"model": model, "prompt": "x"},
            hold=hold,
            estimated_time=10,
            max_active_per_key=max_active,
        )
        return task_id

    @property
    def balance(self) -> int:
        account = self.store.accounts.get(self.id)
        assert account is not None
        return account.balance

    def kinds(self) -> list[str]:
        return [e["kind"] for e in self.store.accounts.ledger_entries(self.id)]

    def assert_ledger_adds_up(self) -> None:
        assert self.store.accounts.ledger_sum(self.id) == self.balance


def sent_upstream(store: Store, ids: list[str]) -> Any:
    """Claim these (just submitted) tasks and hand them over to a new channel as u0, u1, ..."""
    channel = store.channels.upsert(
        {"name": "c", "provider": "apimart", "base_url": "http://x", "credentials": "sealed", "models": ["kling-v3"]}
    )
    for n, task_id in enumerate(ids):
        assert store.tasks.claim("w", 30) is not None
        assert store.upstream.reserve(task_id, "w", channel.id)
        assert store.upstream.hand_over(
            task_id, "w", channel_id=channel.id, upstream_id=f"u{n}", first_poll_at=0, quote=1
        )
    return channel


def test_submit_holds_the_price_or_writes_nothing(store: Store) -> None:
    acct = Account(store, balance=300_000)
    task_id = acct.submit()
    assert store.tasks.get(task_id).status == Status.PENDING  # type: ignore[union-attr]
    assert acct.balance == 100_000
    with pytest.raises(NotEnoughFunds) as err:
        acct.submit()
    assert (err.value.account_id, err.value.balance, err.value.needed) == (acct.id, 100_000, HOLD)
    assert acct.balance == 100_000
    assert acct.kinds() == ["topup", "hold"]
    acct.assert_ledger_adds_up()


def test_claim_takes_the_oldest_pending_task_once(store: Store) -> None:
    acct = Account(store)
    first, second = acct.submit(), acct.submit()
    a = store.tasks.claim("w1", 30)
    b = store.tasks.claim("w2", 30)
    assert (a.id, b.id) == (first, second)  # type: ignore[union-attr]
    assert a.status == Status.PROCESSING and a.worker_id == "w1" and a.attempts == 1  # type: ignore[union-attr]
    assert store.tasks.claim("w3", 30) is None


def test_concurrent_claimers_never_share_a_task(store: Store) -> None:
    acct = Account(store, balance=100_000_000)
    submitted = {acct.submit() for _ in range(40)}
    claimed: list[str] = []
    lock = threading.Lock()

    def claimer(n: int) -> None:
        while (task := store.tasks.claim(f"w{n}", 30)) is not None:
            with lock:
                claimed.append(task.id)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(claimer, range(8)))
    assert sorted(claimed) == sorted(submitted)


def test_complete_settles_money_exactly_once(store: Store) -> None:
    acct = Account(store, balance=1_000_000)
    task_id = acct.submit(hold=300_000)
    store.tasks.claim("w1", 30)
    assert not store.tasks.complete(task_id, "w2", cost=250_000, result_path="r", expires_at=1)  # not its task
    assert store.tasks.complete(task_id, "w1", cost=250_000, result_path="r", expires_at=1)
    assert not store.tasks.complete(task_id, "w1", cost=250_000, result_path="r", expires_at=1)
    assert not store.tasks.fail(task_id, code="x", message="late")
    task = store.tasks.get(task_id)
    assert task.status == Status.COMPLETED and task.cost == 250_000 and task.progress == 100  # type: ignore[union-attr]
    assert acct.balance == 750_000
    assert acct.kinds() == ["topup", "hold", "release", "capture"]
    acct.assert_ledger_adds_up()


def test_capture_never_exceeds_the_hold(store: Store) -> None:
    acct = Account(store, balance=1_000_000)
    task_id = acct.submit(hold=300_000)
    store.tasks.claim("w1", 30)
    store.tasks.complete(task_id, "w1", cost=900_000, result_path="r", expires_at=1)
    assert store.tasks.get(task_id).cost == 300_000  # type: ignore[union-attr]
    assert acct.balance == 700_000


def test_fail_refunds_in_full_once(store: Store) -> None:
    acct = Account(store, balance=1_000_000)
    task_id = acct.submit()
    store.tasks.claim("w1", 30)
    assert store.tasks.fail(task_id, code="task_failed", message="boom", worker_id="w1")
    assert not store.tasks.fail(task_id, code="task_failed", message="again")
    task = store.tasks.get(task_id)
    assert task.status == Status.FAILED and task.cost == 0 and task.error_message == "boom"  # type: ignore[union-attr]
    assert acct.balance == 1_000_000
    acct.assert_ledger_adds_up()


def test_an_ended_task_keeps_its_message_as_a_template_with_its_parameters(store: Store) -> None:
    """Its English for logs and old readers, the template and parameters (nested messages too)
    to be shown in each reader's language."""
    acct = Account(store)
    failed, upstream, cancelled = acct.submit(), acct.submit(), acct.submit()
    store.tasks.claim("w1", 30)
    message = Message(
        "{failure} (tried {attempts} times); it was not charged",
        failure=Message(
            "{label} is not {wanted} (it starts like {kind})",
            label="http://x/a.png",
            wanted=Message("a PNG, JPEG, WebP, GIF or BMP image"),
            kind=Message("a text file"),
        ),
        attempts=3,
    )
    assert store.tasks.fail(failed, code="invalid_media", message=message, worker_id="w1")
    task = store.tasks.get(failed)
    assert task is not None and task.error_detail == message
    assert (
        task.error_message
        == message.english
        == (
            "http://x/a.png is not a PNG, JPEG, WebP, GIF or BMP image (it starts like a text file) (tried 3 times); "
            "it was not charged"
        )
    )
    assert task.error_detail.render("de").startswith(
        "http://x/a.png: erwartet wird ein PNG-, JPEG-, WebP-, GIF- oder BMP-Bild, die Datei beginnt aber wie eine Textdatei"
    )
    sent_upstream(store, [upstream])
    said = Message(
        "upstream: {failure} ({reason}); it was not charged", failure="content refused, 违规", reason="content_rejected"
    )
    assert store.upstream.fail(upstream, "u0", code="content_rejected", message=said)
    assert store.tasks.get(upstream).error_detail == said  # type: ignore[union-attr]
    store.tasks.cancel(cancelled, acct.id)
    gone = store.tasks.get(cancelled)
    assert gone is not None and gone.error_detail == Message("the task was cancelled by the client before it started")


def test_cancel_pending_at_once_processing_by_its_worker_ended_is_a_conflict(store: Store) -> None:
    acct = Account(store, balance=1_000_000)
    other = Account(store)
    pending, processing = acct.submit(), acct.submit()
    store.tasks.claim("w1", 30)  # takes `pending`, the oldest
    pending, processing = processing, pending
    assert store.tasks.cancel(pending, other.id) is None  # someone else's task: not found
    cancelled = store.tasks.cancel(pending, acct.id)
    assert cancelled.status == Status.CANCELLED and cancelled.cost == 0  # type: ignore[union-attr]
    flagged = store.tasks.cancel(processing, acct.id)
    assert flagged.status == Status.PROCESSING  # type: ignore[union-attr]
    assert store.tasks.heartbeat(processing, "w1", 30) is Lease.CANCEL
    assert store.tasks.finish_cancel(processing, "w1")
    assert store.tasks.get(processing).status == Status.CANCELLED  # type: ignore[union-attr]
    with pytest.raises(TaskAlreadyEnded) as err:
        store.tasks.cancel(processing, acct.id)
    assert (err.value.task_id, err.value.status) == (processing, Status.CANCELLED)
    assert acct.balance == 1_000_000
    assert acct.kinds().count("release") == 2
    acct.assert_ledger_adds_up()


def test_heartbeat_extends_the_lease_and_reports_a_lost_task(store: Store) -> None:
    acct = Account(store)
    task_id = acct.submit()
    store.tasks.claim("w1", 0.2)
    assert store.tasks.heartbeat(task_id, "w1", 30, progress=42) is Lease.HELD
    time.sleep(0.3)
    assert store.tasks.sweep(max_attempts=3, timeouts={}, default_timeout=3600).requeued == []  # lease was renewed
    assert store.tasks.get(task_id).progress == 42  # type: ignore[union-attr]
    assert store.tasks.heartbeat(task_id, "w2", 30) is Lease.LOST


def test_sweeper_requeues_expired_leases_then_fails_with_a_refund(store: Store) -> None:
    acct = Account(store, balance=1_000_000)
    task_id = acct.submit()
    for attempt in (1, 2):
        claimed = store.tasks.claim(f"w{attempt}", 0.05)
        assert claimed.id == task_id and claimed.attempts == attempt  # type: ignore[union-attr]
        time.sleep(0.1)
        result = store.tasks.sweep(max_attempts=2, timeouts={}, default_timeout=3600)
        if attempt == 1:
            assert [t.task_id for t in result.requeued] == [task_id]
            assert store.tasks.get(task_id).status == Status.PENDING  # type: ignore[union-attr]
            assert store.tasks.heartbeat(task_id, "w1", 30) is Lease.LOST
    assert [(t.task_id, t.model, t.code) for t in result.failed] == [(task_id, "kling-v3", "task_failed")]
    task = store.tasks.get(task_id)
    assert task.status == Status.FAILED and "interrupted 2 times" in task.error_message  # type: ignore[union-attr,operator]
    assert acct.balance == 1_000_000
    acct.assert_ledger_adds_up()


def test_sweeper_cancels_an_abandoned_task_the_client_cancelled(store: Store) -> None:
    acct = Account(store, balance=1_000_000)
    task_id = acct.submit()
    store.tasks.claim("w1", 0.05)
    store.tasks.cancel(task_id, acct.id)
    time.sleep(0.1)
    assert [t.task_id for t in store.tasks.sweep(max_attempts=3, timeouts={}, default_timeout=3600).cancelled] == [
        task_id
    ]
    assert store.tasks.get(task_id).status == Status.CANCELLED  # type: ignore[union-attr]
    assert acct.balance == 1_000_000


def test_tasks_over_their_models_timeout_fail_and_are_refunded(store: Store) -> None:
    acct = Account(store, balance=1_000_000)
    slow = acct.submit(model="kling-v3")
    other = acct.submit(model="Omni-Flash-Ext")
    store.tasks.claim("w1", 30)
    store.tasks.claim("w2", 30)
    time.sleep(0.15)
    result = store.tasks.sweep(max_attempts=3, timeouts={"kling-v3": 0.1}, default_timeout=3600)
    assert [(t.task_id, t.model, t.code) for t in result.timed_out] == [(slow, "kling-v3", "timeout")]
    assert store.tasks.get(slow).status == Status.FAILED  # type: ignore[union-attr]
    assert "did not finish within 0.1 s" in store.tasks.get(slow).error_message  # type: ignore[union-attr,operator]
    assert store.tasks.get(other).status == Status.PROCESSING  # type: ignore[union-attr]
    assert store.tasks.heartbeat(slow, "w1", 30) is Lease.LOST
    assert [t.task_id for t in store.tasks.sweep(max_attempts=3, timeouts={}, default_timeout=0.1).timed_out] == [
        other
    ]  # the default applies
    assert acct.balance == 1_000_000


def test_hand_back_returns_a_task_without_counting_the_attempt(store: Store) -> None:
    acct = Account(store)
    task_id = acct.submit()
    store.tasks.claim("w1", 30)
    assert store.tasks.hand_back(task_id, "w1")
    task = store.tasks.get(task_id)
    assert task.status == Status.PENDING and task.attempts == 0 and task.worker_id is None  # type: ignore[union-attr]
    assert not store.tasks.hand_back(task_id, "w1")


def test_ended_tasks_become_due_for_purge_after_their_expiry(store: Store) -> None:
    acct = Account(store)
    done, failed, running = acct.submit(), acct.submit(), acct.submit()
    for _task_id in (done, failed, running):
        store.tasks.claim("w", 30)
    store.tasks.complete(done, "w", cost=1, result_path="r", expires_at=int(time.time()) - 1)
    store.tasks.fail(failed, code="x", message="y")
    assert store.task_queries.due_for_purge(default_ttl=3600) == [done]
    assert sorted(store.task_queries.due_for_purge(default_ttl=-1)) == sorted([done, failed])
    store.tasks.mark_purged([done])
    assert store.task_queries.due_for_purge(default_ttl=-1) == [failed]
    assert store.tasks.get(done).status == Status.COMPLETED  # type: ignore[union-attr]  # the record stays


def test_active_task_limit_per_key(store: Store) -> None:
    acct = Account(store)
    acct.submit(max_active=2)
    acct.submit(max_active=2)
    with pytest.raises(TooManyActiveTasks) as err:
        acct.submit(max_active=2)
    assert (err.value.key_id, err.value.limit) == (acct.key_id, 2)


def test_concurrent_submits_never_overdraw(store: Store) -> None:
    acct = Account(store, balance=10 * HOLD)
    outcomes: list[str] = []

    def submit(_: int) -> None:
        try:
            acct.submit()
            outcomes.append("ok")
        except NotEnoughFunds:
            outcomes.append("402")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(submit, range(50)))
    assert outcomes.count("ok") == 10 and outcomes.count("402") == 40
    assert acct.balance == 0
    acct.assert_ledger_adds_up()


def test_workers_in_other_processes_are_woken_when_a_task_is_queued(store: Store) -> None:
    acct = Account(store)
    stop, woken = threading.Event(), threading.Event()
    listener = threading.Thread(target=store.tasks.wait_for_pending, args=(stop, woken.set), daemon=True)
    listener.start()
    if store.db.is_sqlite:  # SQLite: workers share the API's process and its in-process wake-up
        acct.submit()
        assert not woken.wait(0.5)  # nothing to hear: it only waits to be stopped
        stop.set()
        listener.join(timeout=1)
        assert not listener.is_alive()
        return
    assert woken.wait(5)  # the first wake-up comes when the listener connects
    woken.clear()
    acct.submit()
    try:
        assert woken.wait(5)
    finally:
        stop.set()
        listener.join(timeout=5)


def test_each_keys_active_count_follows_every_way_a_task_ends(store: Store) -> None:
    import sqlalchemy as sa

    from vidgate.store.tables import api_keys, tasks

    acct = Account(store, balance=100_000_000)
    ids = [acct.submit() for _ in range(7)]
    store.tasks.claim("w", 30)  # ids[0]
    store.tasks.complete(ids[0], "w", cost=1, result_path="r", expires_at=1)
    store.tasks.fail(ids[1], code="x", message="failed while pending")
    store.tasks.cancel(ids[2], acct.id)
    store.tasks.claim("w", 0.01)  # ids[3]: its worker dies, the task is handed back, then times out
    time.sleep(0.05)
    store.tasks.sweep(max_attempts=3, timeouts={}, default_timeout=3600)
    store.tasks.claim("w2", 30)
    store.tasks.hand_back(ids[3], "w2")
    store.tasks.sweep(max_attempts=3, timeouts={}, default_timeout=0.0)  # everything started times out

    with store.db.read() as conn:
        counted = conn.execute(sa.select(api_keys.c.active_tasks).where(api_keys.c.id == acct.key_id)).scalar_one()
        actual = conn.execute(
            sa.select(sa.func.count()).where(
                tasks.c.key_id == acct.key_id, tasks.c.status.in_(["pending", "processing"])
            )
        ).scalar_one()
    assert counted == actual == 3  # ids[4..6] never started
    acct.assert_ledger_adds_up()


def test_each_channels_in_flight_count_follows_hand_overs_and_endings(store: Store) -> None:
    acct = Account(store, balance=100_000_000)
    ids = [acct.submit() for _ in range(4)]
    channel = sent_upstream(store, ids)
    assert store.channels.in_flight() == {channel.id: 4}
    assert store.upstream.complete(ids[0], "u0", cost=1, result_path="r", expires_at=1)
    assert store.upstream.fail(ids[1], "u1", code="content_rejected", message="no")
    assert store.upstream.cancel(ids[2], "u2")
    assert not store.upstream.complete(ids[0], "u0", cost=1, result_path="r", expires_at=1)  # once only
    assert store.channels.in_flight() == {channel.id: 1}
    store.tasks.sweep(max_attempts=3, timeouts={}, default_timeout=0.0)  # the last one times out
    assert store.channels.in_flight() == {}
    assert store.channels.delete(channel.id)


def test_concurrent_workers_never_reserve_more_places_than_a_channels_max_concurrent(store: Store) -> None:
    """Ten workers (threads, each with its own connection) reserve at once on a channel that
    takes three: three get a place; a place given back goes to the next who asks."""
    acct = Account(store)
    ids = [acct.submit() for _ in range(10)]
    claimed = {store.tasks.claim(f"w{n}", 30).id: f"w{n}" for n in range(10)}  # type: ignore[union-attr]
    channel = store.channels.upsert(
        {
            "name": "c",
            "provider": "apimart",
            "base_url": "http://x",
            "credentials": "sealed",
            "models": ["kling-v3"],
            "max_concurrent": 3,
        }
    )
    barrier = threading.Barrier(10)

    def reserve(task_id: str) -> bool:
        barrier.wait()
        return store.upstream.reserve(task_id, claimed[task_id], channel.id)

    with ThreadPoolExecutor(10) as pool:
        got = dict(zip(ids, pool.map(reserve, ids)))
    winners = [t for t in ids if got[t]]
    assert len(winners) == 3 and store.channels.in_flight() == {channel.id: 3}
    store.upstream.release(winners[0], claimed[winners[0]])  # the channel did not take it
    assert store.channels.in_flight() == {channel.id: 2}
    loser = next(t for t in ids if not got[t])
    assert store.upstream.reserve(loser, claimed[loser], channel.id)
    assert not store.upstream.reserve(winners[0], claimed[winners[0]], channel.id)  # full again
    assert store.channels.in_flight() == {channel.id: 3}


def test_a_reserved_place_is_freed_by_every_way_a_task_leaves_its_worker_unsent(store: Store) -> None:
    """Reserved and then not taken upstream (released), no channel now (deferred), handed back
    at shutdown, its worker dead (swept back to the queue), or failed: the channel's count is
    back to 0 each time. A task is handed over only to the channel it reserved."""
    acct = Account(store)
    task_id = acct.submit()
    channel = store.channels.upsert(
        {
            "name": "c",
            "provider": "apimart",
            "base_url": "http://x",
            "credentials": "sealed",
            "models": ["kling-v3"],
            "max_concurrent": 1,
        }
    )

    def reserved(worker: str) -> None:
        assert store.tasks.claim(worker, 30).id == task_id  # type: ignore[union-attr]
        assert store.upstream.reserve(task_id, worker, channel.id)
        assert store.channels.in_flight() == {channel.id: 1}

    reserved("w1")
    store.upstream.release(task_id, "w1")
    assert store.channels.in_flight() == {}
    assert store.upstream.reserve(task_id, "w1", channel.id)
    assert store.upstream.defer(task_id, "w1", until=0)
    assert store.channels.in_flight() == {}
    reserved("w2")
    assert store.tasks.hand_back(task_id, "w2")
    assert store.channels.in_flight() == {}
    assert store.tasks.claim("w3", -1) is not None and store.upstream.reserve(task_id, "w3", channel.id)  # lease out
    assert [t.task_id for t in store.tasks.sweep(max_attempts=10, timeouts={}, default_timeout=3600).requeued] == [
        task_id
    ]
    assert store.channels.in_flight() == {}
    reserved("w4")
    other = store.channels.upsert(
        {"name": "d", "provider": "apimart", "base_url": "http://y", "credentials": "sealed", "models": ["kling-v3"]}
    )
    assert not store.upstream.hand_over(task_id, "w4", channel_id=other.id, upstream_id="u", first_poll_at=0, quote=1)
    assert store.tasks.fail(task_id, code="content_rejected", message="no", worker_id="w4")
    assert store.channels.in_flight() == {}
    acct.assert_ledger_adds_up()


def test_a_channel_that_takes_a_task_ends_its_run_of_failures(store: Store) -> None:
    """Failures in a row bench a channel; a task handed over to it ends the run."""
    acct = Account(store)
    first, second = acct.submit(), acct.submit()
    channel = sent_upstream(store, [first])
    for _ in range(2):
        store.channels.record_failure(channel.id, threshold=3, cool_down=60, reason="503")
    assert store.channels.get(channel.id).failures == 2  # type: ignore[union-attr]
    assert store.tasks.claim("w", 30) is not None
    assert store.upstream.reserve(second, "w", channel.id)
    assert store.upstream.hand_over(second, "w", channel_id=channel.id, upstream_id="u1", first_poll_at=0, quote=1)
    assert store.channels.get(channel.id).failures == 0  # type: ignore[union-attr]
    assert store.channels.in_flight() == {channel.id: 2}


def test_a_claimed_poll_is_due_again_at_the_time_the_poller_gave(store: Store) -> None:
    """claim_due sets each task's next poll itself (one write per task and round when nothing
    changes): claimed tasks are not due again before that time, and are due again after it,
    to this poller or any other."""
    acct = Account(store)
    ids = [acct.submit() for _ in range(3)]
    assert store.upstream.next_due() is None
    sent_upstream(store, ids)
    assert store.upstream.next_due() == 0  # the first poll time the hand-over gave
    now = time.time()
    first = store.upstream.claim_due(limit=2, next_poll_at=now + 60)
    assert len(first) == 2 and all(t.progress == 0 and t.poll_errors == 0 for t in first)
    rest = store.upstream.claim_due(limit=10, next_poll_at=now - 1)  # due again at once
    assert [t.id for t in rest] == sorted(set(ids) - {t.id for t in first})
    assert [t.id for t in store.upstream.claim_due(limit=10, next_poll_at=now + 60)] == [rest[0].id]
    assert store.upstream.claim_due(limit=10, next_poll_at=now + 60) == []
    assert store.upstream.next_due() == pytest.approx(now + 60)


def test_tasks_reported_ended_are_taken_by_one_poller_only_when_in_their_normal_polling(store: Store) -> None:
    """claim_ended takes the channel's tasks with those upstream ids that are due by the
    horizon (not being finished by another poller, not backing off), leases them and resets
    their errors; a second claim finds none of them."""
    from vidgate.store.upstream import NextPoll

    acct = Account(store)
    ids = [acct.submit() for _ in range(4)]
    channel = sent_upstream(store, ids)  # u0..u3, all due at 0
    store.upstream.reschedule([NextPoll(ids[2], "u2", 500.0, None, 3)])  # backing off after errors
    assert store.upstream.fail(ids[3], "u3", code="upstream_error", message="gone")  # already ended
    ended = ["u0", "u1", "u2", "u3", "u-not-ours"]
    taken = store.upstream.claim_ended(channel.id, ended, lease_until=1000.0, horizon=100.0)
    assert sorted(t.id for t in taken) == sorted(ids[:2])
    assert all(t.upstream_id in ("u0", "u1") and t.poll_errors == 0 for t in taken)
    assert store.upstream.claim_ended(channel.id, ended, lease_until=1000.0, horizon=100.0) == []
    assert store.upstream.claim_ended("another-channel", ["u2"], lease_until=1000.0, horizon=1000.0) == []
    assert [t.id for t in store.upstream.claim_ended(channel.id, ended, lease_until=2000.0, horizon=1000.0)] == [
        *sorted(ids[:3])
    ]  # by a later horizon: the leases (1000) and the backoff (500) are due


def test_upstream_completions_settle_in_one_batch_each_exactly_once(store: Store) -> None:
    """A batch of completions from two accounts: each task captured once at its own price (never
    more than held), the counters and balances moved once per batch, tasks already ended or
    settled left alone, and every ledger adds up."""
    from vidgate.store.upstream import Finished

    a, b = Account(store, balance=10_000_000), Account(store, balance=10_000_000)
    ids = [a.submit(), b.submit(), a.submit(), b.submit()]
    sent_upstream(store, ids)
    assert store.upstream.fail(ids[3], "u3", code="content_rejected", message="no")
    batch = [Finished(task_id, f"u{n}", 50_000 * (n + 1), f"r{n}", 1) for n, task_id in enumerate(ids)]
    batch.append(Finished(ids[0], "u-other", 1, "x", 1))  # not the upstream task it was sent as

    assert store.upstream.complete_many(batch) == set(ids[:3])
    assert store.upstream.complete_many(batch[:1]) == set()  # once only

    assert [store.tasks.get(t).cost for t in ids] == [50_000, 100_000, 150_000, 0]  # type: ignore[union-attr]
    assert a.balance == 10_000_000 - 50_000 - 150_000 and b.balance == 10_000_000 - 100_000
    assert a.kinds() == ["topup", "hold", "hold", "release", "capture", "release", "capture"]
    assert b.kinds() == ["topup", "hold", "hold", "release", "release", "capture"]
    a.assert_ledger_adds_up()
    b.assert_ledger_adds_up()
    assert store.channels.in_flight() == {}
    from vidgate.store import ledger
    from vidgate.store.tables import api_keys

    with store.db.read() as conn:
        assert conn.execute(sa.select(api_keys.c.active_tasks)).scalars().all() == [0, 0]
        assert ledger.verify(conn) == []


def test_submits_and_settlements_of_one_key_never_deadlock(store: Store) -> None:
    """Submits lock the key then the account; settlements must take them in the same order."""
    acct = Account(store, balance=10**12)
    errors: list[BaseException] = []
    submitting = threading.Event()
    submitting.set()

    def submitter() -> None:
        try:
            for _ in range(30):
                acct.submit()
        except BaseException as exc:  # noqa: BLE001 - any error fails the test below
            errors.append(exc)

    def settler(n: int) -> None:
        try:
            while True:
                task = store.tasks.claim(f"w{n}", 30)
                if task is None:
                    if not submitting.is_set():
                        return
                    time.sleep(0.001)
                    continue
                if ord(task.id[-1]) % 2:
                    store.tasks.complete(task.id, f"w{n}", cost=1, result_path="r", expires_at=1)
                else:
                    store.tasks.fail(task.id, code="x", message="y", worker_id=f"w{n}")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    submitters = [threading.Thread(target=submitter) for _ in range(4)]
    settlers = [threading.Thread(target=settler, args=(n,)) for n in range(3)]
    for t in submitters + settlers:
        t.start()
    for t in submitters:
        t.join()
    submitting.clear()
    for t in settlers:
        t.join(timeout=60)
    assert errors == []
    assert store.tasks.claim("late", 30) is None  # every task was settled
    acct.assert_ledger_adds_up()


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)  # SQLite has no row locks
@pytest.mark.parametrize("update", ["reschedule", "complete_many", "fail by the sweeper"])
def test_updates_of_many_tasks_lock_them_in_id_order_and_never_deadlock(store: Store, update: str) -> None:
    """PostgreSQL locks the rows of an UPDATE in the order it scans them. Here task ``b`` lies
    before ``a`` in every order but their ids' (on disk, by creation, by due poll); another
    transaction holds ``a``, then takes ``b``. An update of both that
    locked ``b`` first would wait for ``a`` while holding ``b``: a deadlock, one side aborted
    after a second. In id order, it waits for ``a`` holding nothing, and both go through."""
    from vidgate.store.tables import tasks
    from vidgate.store.upstream import Finished, NextPoll

    acct = Account(store)
    a, b = acct.submit(), acct.submit()
    sent_upstream(store, [a, b])
    with store.db.write() as conn:  # b first by creation and due poll; a's new row version last on disk
        conn.execute(sa.update(tasks).where(tasks.c.id == b).values(created_at=1.0, next_poll_at=1.0))
        conn.execute(sa.update(tasks).where(tasks.c.id == a).values(started_at=1.0, next_poll_at=2.0))
    run = {
        "reschedule": lambda: store.upstream.reschedule([NextPoll(a, "u0", 5.0, 7, 0), NextPoll(b, "u1", 5.0, 7, 0)]),
        "complete_many": lambda: store.upstream.complete_many(
            [Finished(a, "u0", 1, "r", 1), Finished(b, "u1", 1, "r", 1)]
        ),
        "fail by the sweeper": lambda: store.tasks.sweep(max_attempts=3, timeouts={"kling-v3": 0}, default_timeout=0),
    }[update]
    with store.db.engine.connect() as other, other.begin():
        other.execute(sa.select(tasks.c.id).where(tasks.c.id == a).with_for_update()).all()
        with ThreadPoolExecutor(1) as ex:
            updating = ex.submit(run)
            time.sleep(0.5)  # the update is now waiting for a
            assert not updating.done()
            other.execute(sa.select(tasks.c.id).where(tasks.c.id == b).with_for_update(nowait=True)).all()
            other.commit()
            updating.result(timeout=10)
    ended = update != "reschedule"
    assert {store.tasks.get(t).status.ended for t in (a, b)} == {ended}  # type: ignore[union-attr]
    acct.assert_ledger_adds_up()


def test_the_migrations_build_exactly_the_schema_the_code_declares(store: Store) -> None:
    """Alembic's comparison of the migrated database with ``store.tables``: no table, column or
    index (partial ones included, with their conditions) differs."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from vidgate.store.tables import metadata

    with store.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    with store.db.read() as conn:
        names = {index["name"] for index in sa.inspect(conn).get_indexes("tasks")}
    assert {"ix_tasks_active", "ix_tasks_next_poll", "ix_tasks_account_id_created_at"} <= names
    assert not names & {"ix_tasks_status_created_at", "ix_tasks_key_id_status", "ix_tasks_channel_id_status"}


def test_several_entries_of_one_move_are_chained_in_order(store: Store) -> None:
    """One balance update for several entries (a settlement: release then capture): the entries
    keep the order given, each balance_after is the one before plus its amount, and the ledger
    verifies; an uncovered hold writes nothing at all."""
    from vidgate.store import ledger

    acct = Account(store, balance=1_000)
    moves = [
        ("hold", -300, "a", None),
        ("release", 300, "b", None),
        ("capture", -120, "c", None),
        ("adjustment", 20, None, None),
    ]
    with store.db.write() as conn:
        assert ledger.post_many(conn, acct.id, moves) == 900
        assert ledger.post(conn, acct.id, "hold", -901, require_funds=True) is None
    entries = store.accounts.ledger_entries(acct.id)
    assert [(e["kind"], e["amount"], e["balance_after"], e["note"]) for e in entries] == [
        ("topup", 1_000, 1_000, "opening balance"),
        ("hold", -300, 700, "a"),
        ("release", 300, 1_000, "b"),
        ("capture", -120, 880, "c"),
        ("adjustment", 20, 900, None),
    ]
    assert acct.balance == 900
    with store.db.read() as conn:
        assert ledger.verify(conn) == []


def test_an_idempotency_key_is_claimed_with_its_task_and_hold_or_not_at_all(store: Store) -> None:
    account = Account(store, balance=HOLD)
    key = IdempotencyKey("k-1", "hash-a")

    def submit(key: IdempotencyKey, task_id: str) -> None:
        store.tasks.insert_with_hold(
            task_id=task_id,
            account_id=account.id,
            key_id=account.key_id,
            model="kling-v3",
            request={"model": "kling-v3", "prompt": "x"},
            hold=HOLD,
            estimated_time=10,
            idempotency=key,
        )

    submit(key, "task_a")
    with pytest.raises(KeyAlreadyUsed) as same:
        submit(key, "task_b")
    assert same.value.task_id == "task_a" and same.value.same_body
    with pytest.raises(KeyAlreadyUsed) as other:
        submit(IdempotencyKey("k-1", "hash-b"), "task_c")
    assert other.value.task_id == "task_a" and not other.value.same_body
    assert account.balance == 0 and account.kinds().count("hold") == 1  # the replays moved nothing
    with pytest.raises(NotEnoughFunds):  # refused: its key is not recorded
        submit(IdempotencyKey("k-2", "hash-a"), "task_d")
    assert store.idempotency.find(account.id, "k-2", body_hash="hash-a", now=time.time()) is None
    found = store.idempotency.find(account.id, "k-1", body_hash="hash-a", now=time.time())
    assert found is not None and found.task_id == "task_a" and found.same_body
    later = time.time() + TTL_SECONDS + 1
    assert store.idempotency.find(account.id, "k-1", body_hash="hash-a", now=later) is None
    assert store.idempotency.purge(now=time.time()) == 0 and store.idempotency.purge(now=later) == 1


def test_a_poll_reads_the_task_as_get_does_but_its_request(store: Store) -> None:
    acct, stranger = Account(store), Account(store)
    processing, failed, pending = acct.submit(), acct.submit(), acct.submit()
    assert store.tasks.claim("w1", 60).id == processing  # type: ignore[union-attr]
    assert store.tasks.fail(failed, code="upstream_error", message=Message("no {n} here", n=3))
    for task_id in (processing, failed, pending):
        full = store.tasks.get(task_id)
        assert full is not None and full.request
        assert store.tasks.shown(task_id, acct.id) == dataclasses.replace(full, request={})
    assert store.tasks.shown(pending, stranger.id) is None  # another account's task: as an unknown one
    assert store.tasks.shown("task_unknown", acct.id) is None
    assert store.tasks.shown(pending + "\x00", acct.id) is None  # a NUL in the id finds nothing, on both
