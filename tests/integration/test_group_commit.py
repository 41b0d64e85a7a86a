"""Group commit of submits (``store.submits``, ``store.groupcommit``), on SQLite and PostgreSQL:
a batch of submits is one transaction in which each submit is accepted or refused exactly as it
would be alone, in arrival order, and a fault anywhere in it writes nothing of the batch."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from tests.integration.test_store_contract import HOLD, Account
from vidgate.store import Store
from vidgate.store import ledger as ledger_module
from vidgate.store.errors import KeyAlreadyUsed, NotEnoughFunds, TooManyActiveTasks
from vidgate.store.groupcommit import Pending
from vidgate.store.idempotency import IdempotencyKey
from vidgate.store.submits import NewTask, commit_batch, new_task
from vidgate.store.tables import accounts, api_keys, ledger, tasks
from vidgate.tasks.model import Task


def submit_of(acct: Account, task_id: str, *, limit: int | None = None, key: IdempotencyKey | None = None) -> NewTask:
    return new_task(
        task_id=task_id,
        account_id=acct.id,
        key_id=acct.key_id,
        model="kling-v3",
        request={"model": "kling-v3", "prompt": task_id},
        hold=HOLD,
        estimated_time=10,
        max_active_per_key=limit,
        idempotency=key,
    )


def counts(store: Store) -> tuple[int, int, int]:
    """Tasks, ledger entries and active tasks of every key."""
    with store.db.read() as conn:
        return (
            conn.execute(sa.select(sa.func.count()).select_from(tasks)).scalar_one(),
            conn.execute(sa.select(sa.func.count()).select_from(ledger)).scalar_one(),
            conn.execute(sa.select(sa.func.coalesce(sa.func.sum(api_keys.c.active_tasks), 0))).scalar_one(),
        )


def active_tasks(store: Store, key_id: str) -> int:
    with store.db.read() as conn:
        return int(conn.execute(sa.select(api_keys.c.active_tasks).where(api_keys.c.id == key_id)).scalar_one())


def test_a_batch_accepts_and_refuses_each_submit_as_it_would_alone_in_arrival_order(store: Store) -> None:
    rich, poor, limited = Account(store), Account(store, balance=2 * HOLD + 1), Account(store)
    batch: list[Pending[NewTask, Task]] = [
        Pending(submit_of(poor, "task_p1")),
        Pending(submit_of(rich, "task_r1")),
        Pending(submit_of(limited, "task_l1", limit=2)),
        Pending(submit_of(poor, "task_p2")),
        Pending(submit_of(limited, "task_l2", limit=2)),
        Pending(submit_of(poor, "task_p3")),  # the first two took the money
        Pending(submit_of(limited, "task_l3", limit=2)),  # the first two took the places
        Pending(submit_of(rich, "task_r2")),
    ]
    commit_batch(store.db, batch)

    accepted = [p.item.task.id for p in batch if p.error is None]
    assert accepted == ["task_p1", "task_r1", "task_l1", "task_p2", "task_l2", "task_r2"]
    assert all(p.result is p.item.task for p in batch if p.error is None)
    funds, places = batch[5].error, batch[6].error
    assert isinstance(funds, NotEnoughFunds) and (funds.account_id, funds.balance, funds.needed) == (poor.id, 1, HOLD)
    assert isinstance(places, TooManyActiveTasks) and (places.key_id, places.limit) == (limited.key_id, 2)

    for task_id in accepted:
        row = store.tasks.get(task_id)
        assert row is not None and row.hold == HOLD and row.request["prompt"] == task_id
    assert store.tasks.get("task_p3") is None and store.tasks.get("task_l3") is None
    assert (poor.balance, rich.balance, limited.balance) == (1, 10_000_000 - 2 * HOLD, 10_000_000 - 2 * HOLD)
    assert [active_tasks(store, a.key_id) for a in (poor, rich, limited)] == [2, 2, 2]
    entries = store.accounts.ledger_entries(poor.id)
    assert [(e["kind"], e["task_id"], e["balance_after"]) for e in entries[1:]] == [
        ("hold", "task_p1", HOLD + 1),
        ("hold", "task_p2", 1),
    ]
    for acct in (rich, poor, limited):
        acct.assert_ledger_adds_up()
    with store.db.read() as conn:
        assert ledger_module.verify(conn) == []
    # the tasks are queued like any other: claimed oldest first
    assert store.tasks.claim("w", 30).id == "task_p1"  # type: ignore[union-attr]


def test_idempotency_keys_in_one_batch_each_claimed_with_their_own_submit(store: Store) -> None:
    acct = Account(store, balance=2 * HOLD)
    same, other = IdempotencyKey("k-1", "hash-a"), IdempotencyKey("k-1", "hash-b")
    batch: list[Pending[NewTask, Task]] = [
        Pending(submit_of(acct, "task_a", key=same)),
        Pending(submit_of(acct, "task_b", key=same)),  # the same key again: the first one's task
        Pending(submit_of(acct, "task_c", key=other)),  # another body: refused
        Pending(submit_of(acct, "task_d")),
        Pending(submit_of(acct, "task_e", key=IdempotencyKey("k-2", "hash-a"))),  # no money left
    ]
    commit_batch(store.db, batch)
    assert [p.error is None for p in batch] == [True, False, False, True, False]
    again, reused, poor = batch[1].error, batch[2].error, batch[4].error
    assert isinstance(again, KeyAlreadyUsed) and again.task_id == "task_a" and again.same_body
    assert isinstance(reused, KeyAlreadyUsed) and reused.task_id == "task_a" and not reused.same_body
    assert isinstance(poor, NotEnoughFunds)
    assert acct.balance == 0 and acct.kinds().count("hold") == 2 and active_tasks(store, acct.key_id) == 2
    assert store.idempotency.find(acct.id, "k-2", body_hash="hash-a", now=time.time()) is None  # rolled back
    assert store.tasks.get("task_b") is None and store.tasks.get("task_e") is None
    acct.assert_ledger_adds_up()


@pytest.mark.parametrize("with_key", [False, True], ids=["plain", "idempotency keys"])
def test_a_fault_in_the_middle_of_a_batch_writes_nothing_of_it(store: Store, with_key: bool) -> None:
    acct = Account(store)
    acct.submit()
    taken = store.tasks.claim("w", 30)
    assert taken is not None
    before = counts(store), acct.balance
    key = IdempotencyKey("k-1", "hash-a") if with_key else None
    batch: list[Pending[NewTask, Task]] = [
        Pending(submit_of(acct, "task_ok1", key=key)),
        Pending(submit_of(acct, taken.id)),  # a task id that exists: the database refuses the insert
        Pending(submit_of(acct, "task_ok2")),
    ]
    with pytest.raises(sa.exc.IntegrityError):
        commit_batch(store.db, batch)
    assert (counts(store), acct.balance) == before
    assert store.tasks.get("task_ok1") is None and store.tasks.get("task_ok2") is None
    assert store.idempotency.find(acct.id, "k-1", body_hash="hash-a", now=time.time()) is None


def test_concurrent_submits_are_answered_after_their_commit_with_exactly_the_right_tasks(store: Store) -> None:
    """Many threads at once: they are taken together (fewer transactions than submits), every
    answer is a committed task or its refusal, and the money and counts add up."""
    acct = Account(store, balance=10 * HOLD)
    limited = Account(store)
    start = threading.Barrier(24)
    answers: dict[str, object] = {}

    def submit(n: int) -> None:
        start.wait()
        who, limit = (acct, None) if n % 2 else (limited, 5)
        task_id = f"task_{n:02d}"
        try:
            answers[task_id] = store.tasks.insert_with_hold(
                task_id=task_id,
                account_id=who.id,
                key_id=who.key_id,
                model="kling-v3",
                request={"model": "kling-v3", "prompt": "x"},
                hold=HOLD,
                estimated_time=10,
                max_active_per_key=limit,
            )
            assert store.tasks.get(task_id) is not None  # committed before the answer
        except (NotEnoughFunds, TooManyActiveTasks) as refused:
            answers[task_id] = refused

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    made = [task_id for task_id, answer in answers.items() if isinstance(answer, Task)]
    assert len(answers) == 24
    assert sum(isinstance(a, NotEnoughFunds) for a in answers.values()) == 2  # 12 asked, 10 paid for
    assert sum(isinstance(a, TooManyActiveTasks) for a in answers.values()) == 7  # 12 asked, 5 allowed
    assert counts(store) == (15, 2 + 15, 15)
    assert all(store.tasks.get(task_id) is not None for task_id in made) and len(made) == 15
    assert acct.balance == 0 and active_tasks(store, limited.key_id) == 5
    acct.assert_ledger_adds_up()
    limited.assert_ledger_adds_up()
    stats = store.tasks._submits
    assert stats.callers == 24 and stats.transactions < 24


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)  # SQLite has no row locks
def test_a_batch_locks_its_keys_before_its_accounts(store: Store) -> None:
    """The order of ``LOCK_ORDER``, as one submit and every settlement take them: while another
    transaction holds the account, the batch holds the keys and waits for the account."""
    one, two = Account(store), Account(store)
    with store.db.engine.connect() as other, other.begin():
        other.execute(sa.select(accounts.c.id).where(accounts.c.id == one.id).with_for_update()).all()
        batch: list[Pending[NewTask, Task]] = [Pending(submit_of(one, "task_1")), Pending(submit_of(two, "task_2"))]
        with ThreadPoolExecutor(1) as ex:
            writing = ex.submit(commit_batch, store.db, batch)
            time.sleep(0.5)
            assert not writing.done()  # waiting for the account
            for key_id in (one.key_id, two.key_id):
                locked = sa.select(api_keys.c.id).where(api_keys.c.id == key_id).with_for_update(nowait=True)
                with pytest.raises(sa.exc.OperationalError, match="could not obtain lock"), other.begin_nested():
                    other.execute(locked).all()
            other.rollback()
            writing.result(timeout=10)
    assert [p.error for p in batch] == [None, None] and store.tasks.get("task_2") is not None


def test_what_openais_api_keeps_with_a_task_is_written_by_a_batch_and_read_back_by_a_poll(store: Store) -> None:
    """A submit of OpenAI's video API carries its own fields (``openai_fields``); in a batch with
    others they are written with its task, and both reads (``get`` and the poll's ``shown``) give
    them back as written."""
    acct = Account(store)
    fields = {"size": "1280x720", "seconds": "5", "remixed_from_video_id": "task_original"}
    plain = submit_of(acct, "task_plain")
    mine = new_task(
        task_id="task_openai",
        account_id=acct.id,
        key_id=acct.key_id,
        model="kling-v3",
        request={"model": "kling-v3", "prompt": "x"},
        hold=HOLD,
        estimated_time=10,
        openai_fields=fields,
    )
    batch: list[Pending[NewTask, Task]] = [Pending(plain), Pending(mine)]
    commit_batch(store.db, batch)
    assert all(p.error is None for p in batch)
    for read in (store.tasks.get("task_openai"), store.tasks.shown("task_openai", acct.id)):
        assert read is not None and read.openai_fields == fields
    for read in (store.tasks.get("task_plain"), store.tasks.shown("task_plain", acct.id)):
        assert read is not None and read.openai_fields is None
