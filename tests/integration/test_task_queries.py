"""The store's reads of many tasks (``store.task_queries``) and its task-change notification, on
SQLite and on the real PostgreSQL server: pages newest first by keyset, filters, accounts kept
apart, the followed tasks read in one go, and ``TASK_CHANGED`` told after every commit that
changes a status or progress (and only then)."""

from __future__ import annotations

import sqlalchemy as sa

from tests.integration.test_store_contract import Account
from vidgate.store import Store
from vidgate.store.notify import TASK_CHANGED
from vidgate.store.tables import tasks
from vidgate.tasks.model import Status


def test_pages_run_newest_first_and_the_next_starts_after_the_last(store: Store) -> None:
    acct = Account(store)
    ids = [acct.submit() for _ in range(7)]
    newest_first = ids[::-1]
    first = store.task_queries.page(acct.id, limit=3)
    assert [t.id for t in first.tasks] == newest_first[:3] and first.has_more
    second = store.task_queries.page(acct.id, limit=3, after=first.tasks[-1].id)
    assert [t.id for t in second.tasks] == newest_first[3:6] and second.has_more
    last = store.task_queries.page(acct.id, limit=3, after=second.tasks[-1].id)
    assert [t.id for t in last.tasks] == newest_first[6:] and not last.has_more
    exact = store.task_queries.page(acct.id, limit=7)
    assert len(exact.tasks) == 7 and not exact.has_more
    assert all(t.request == {} and t.model == "kling-v3" for t in exact.tasks)  # the request is never read


def test_filters_on_status_and_model_keep_the_order_and_the_paging(store: Store) -> None:
    acct = Account(store)
    v3 = [acct.submit() for _ in range(3)]
    v26 = [acct.submit(model="kling-v2-6") for _ in range(3)]
    claimed = store.tasks.claim("w", 30)  # the oldest: v3[0]
    assert claimed is not None and claimed.id == v3[0]
    page = store.task_queries.page(acct.id, limit=10, model="kling-v2-6")
    assert [t.id for t in page.tasks] == v26[::-1]
    pending = store.task_queries.page(acct.id, limit=2, status=Status.PENDING)
    assert [t.id for t in pending.tasks] == v26[::-1][:2] and pending.has_more
    rest = store.task_queries.page(acct.id, limit=10, status=Status.PENDING, after=pending.tasks[-1].id)
    assert [t.id for t in rest.tasks] == [v26[0], v3[2], v3[1]]
    both = store.task_queries.page(acct.id, limit=10, status=Status.PROCESSING, model="kling-v3")
    assert [t.id for t in both.tasks] == [v3[0]]
    assert store.task_queries.page(acct.id, limit=10, status=Status.COMPLETED).tasks == []


def test_an_account_sees_and_owns_only_its_own_tasks(store: Store) -> None:
    mine, theirs = Account(store), Account(store)
    my_ids = [mine.submit() for _ in range(2)]
    their_id = theirs.submit()
    assert [t.id for t in store.task_queries.page(mine.id, limit=10).tasks] == my_ids[::-1]
    assert store.task_queries.owns(mine.id, my_ids[0])
    assert not store.task_queries.owns(mine.id, their_id)
    assert not store.task_queries.owns(mine.id, "task_\x00nul")  # an id PostgreSQL text cannot hold
    # a page after another account's task still shows only the caller's tasks
    assert all(t.account_id == mine.id for t in store.task_queries.page(mine.id, limit=10, after=their_id).tasks)


def test_the_followed_tasks_are_read_in_one_go(store: Store) -> None:
    acct = Account(store)
    ids = [acct.submit() for _ in range(3)]
    store.tasks.heartbeat(ids[0], "nobody", 30, progress=40)  # not this worker's: nothing changes
    current = {t.id: t for t in store.task_queries.current([*ids, ids[0], "task_missing"])}
    assert set(current) == set(ids)
    assert all(t.status == Status.PENDING and t.progress == 0 for t in current.values())
    assert store.task_queries.current([]) == []


def test_task_changes_are_told_after_their_commit_and_only_then(store: Store) -> None:
    acct = Account(store)
    told: list[str] = []

    def heard() -> None:  # runs after the commit: the change is readable by then
        told.append(store.task_queries.current(ids)[0].status.value if ids else "")

    store.db.on_notify(TASK_CHANGED, heard)
    ids: list[str] = []
    ids.append(acct.submit())
    assert told == []  # a submit changes no task a stream follows
    task = store.tasks.claim("w", 30)
    assert task is not None and told == ["processing"]
    store.tasks.heartbeat(task.id, "w", 30)
    assert told == ["processing"]  # a heartbeat without progress changes nothing seen
    store.tasks.heartbeat(task.id, "w", 30, progress=50)
    assert len(told) == 2
    assert store.tasks.complete(task.id, "w", cost=1, result_path="r.mp4", expires_at=2**40)
    assert told[-1] == "completed"
    assert not store.tasks.complete(task.id, "w", cost=1, result_path="r.mp4", expires_at=2**40)
    assert len(told) == 3  # a guarded update that matched nothing tells nobody
    other = acct.submit()
    ids[0] = other
    store.tasks.cancel(other, acct.id)
    assert told[-1] == "cancelled"


def test_a_rolled_back_change_tells_nobody(store: Store) -> None:
    acct = Account(store)
    task_id = acct.submit()
    told: list[bool] = []
    store.db.on_notify(TASK_CHANGED, lambda: told.append(True))
    try:
        with store.db.write() as conn:
            conn.execute(sa.update(tasks).where(tasks.c.id == task_id).values(progress=5))
            store.db.notify_after_commit(conn, TASK_CHANGED)
            raise RuntimeError("abandon")
    except RuntimeError:
        pass
    assert told == []
    with store.db.write() as conn:
        store.db.notify_after_commit(conn, TASK_CHANGED)
        store.db.notify_after_commit(conn, TASK_CHANGED)
    assert told == [True]  # once per transaction, however many statements asked
