"""PostgreSQL's polls that arrive together are read in one statement (``store.groupread``), and
each sees every change committed before it arrived: a poll never joins a read already under way."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.databases import fresh_postgres
from vidgate.store import Store
from vidgate.tasks.model import Status


@pytest.fixture
def store() -> Iterator[Store]:
    with fresh_postgres() as url:
        store = Store.from_url(url)
        try:
            yield store
        finally:
            store.close()


def new_task(store: Store, account_id: str, key_id: str, n: int) -> str:
    task = store.tasks.insert_with_hold(
        task_id=f"task_01J9HA7JPQ9A0Z6JZ3V8M9W6{n:02d}",
        account_id=account_id,
        key_id=key_id,
        model="kling-v2-6",
        request={"model": "kling-v2-6", "prompt": "a cat"},
        hold=100_000,
        estimated_time=60,
    )
    return task.id


def test_polls_that_arrive_together_share_a_statement_and_none_joins_one_under_way(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = store.accounts.create_account("a", 10_000_000)
    key, _ = store.accounts.create_key(account.id)
    stranger = store.accounts.create_account("b", 0)
    ids = [new_task(store, account.id, key.id, n) for n in range(6)]
    statements: list[list[str]] = []
    real = store.db.fetch_all_async

    async def scenario() -> dict[str, Any]:
        held = asyncio.Event()
        release = asyncio.Event()

        async def fetch_all_async(statement: Any, params: dict[str, Any]) -> Any:
            statements.append(list(params["task_ids"]))
            rows = await real(statement, params)
            if len(statements) == 1:  # the first statement has read its rows: hold it there
                held.set()
                await release.wait()
            return rows

        monkeypatch.setattr(store.db, "fetch_all_async", fetch_all_async)
        try:
            first = asyncio.create_task(store.tasks.shown_async(ids[0], account.id))
            await held.wait()
            store.tasks.cancel(ids[0], account.id)  # committed after the first read, before the others
            later = [asyncio.create_task(store.tasks.shown_async(task_id, account.id)) for task_id in ids]
            theirs = asyncio.create_task(store.tasks.shown_async(ids[1], stranger.id))
            unknown = asyncio.create_task(store.tasks.shown_async("task_unknown", account.id))
            await asyncio.sleep(0.05)
            assert len(statements) == 1  # the others wait for the read under way to end
            release.set()
            return {
                "first": await first,
                "later": [await t for t in later],
                "theirs": await theirs,
                "unknown": await unknown,
            }
        finally:
            await store.db.close_async()

    seen = asyncio.run(scenario())
    assert seen["first"].status is Status.PENDING  # read before the change
    assert seen["later"][0].status is Status.CANCELLED  # arrived after it: sees it
    assert [t.id for t in seen["later"]] == ids and all(t.request == {} for t in seen["later"])
    assert seen["later"][1] == store.tasks.shown(ids[1], account.id)  # as the one-row read shows it
    assert seen["theirs"] is None and seen["unknown"] is None  # another account's task: as an unknown one
    assert len(statements) == 2 and sorted(statements[1]) == sorted({*ids, "task_unknown"})
