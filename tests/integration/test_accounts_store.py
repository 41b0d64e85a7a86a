"""The operator's side of the store, on SQLite and on the real PostgreSQL server: account status
and limits reach authentication at once, money moves are ledger entries, the ledger check finds
what does not add up, usage by UTC day, the versioned price table, and the per-key active-task
limit under concurrency."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from ulid import ULID

from tests.databases import fresh_database
from vidgate.billing.pricebook import PriceBook, open_price_book
from vidgate.billing.prices import PriceTable
from vidgate.config import Settings
from vidgate.store import Store
from vidgate.store.errors import (
    AccountNotFound,
    AccountSuspended,
    KeyNotFound,
    KeyRevoked,
    NotEnoughFunds,
    TooManyActiveTasks,
    UnknownKey,
)
from vidgate.store.tables import accounts, ledger, tasks

HOLD = 200_000


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture()
def store(url: str) -> Iterator[Store]:
    s = Store.from_url(url)
    try:
        yield s
    finally:
        s.close()


def submit(store: Store, account_id: str, key_id: str, *, max_active: int | None = None) -> str:
    task_id = f"task_{ULID()}"
    store.tasks.insert_with_hold(
        task_id=task_id,
        account_id=account_id,
        key_id=key_id,
        model="kling-v3",
        request={"model": "kling-v3"},
        hold=HOLD,
        estimated_time=10,
        max_active_per_key=max_active,
    )
    return task_id


def test_suspension_and_revocation_refuse_the_next_authentication(store: Store) -> None:
    account = store.accounts.create_account("a", 0, rate_limit_per_minute=7)
    key, secret = store.accounts.create_key(account.id)
    principal = store.accounts.authenticate(secret)
    assert (principal.account_id, principal.key_id, principal.rate_limit_per_minute) == (account.id, key.id, 7)
    assert principal.max_active_tasks is None

    store.accounts.set_status(account.id, "suspended")
    with pytest.raises(AccountSuspended) as suspended:
        store.accounts.authenticate(secret)
    assert (suspended.value.account_id, suspended.value.key_id) == (account.id, key.id)
    store.accounts.set_status(account.id, "active")
    store.accounts.set_limits(account.id, rate_limit_per_minute=None, max_active_tasks=3)
    assert store.accounts.authenticate(secret).max_active_tasks == 3

    revoked = store.accounts.revoke_key(account.id, key.id)
    assert revoked.revoked_at is not None
    assert store.accounts.revoke_key(account.id, key.id).revoked_at == revoked.revoked_at  # again: no change
    with pytest.raises(KeyRevoked) as gone:
        store.accounts.authenticate(secret)
    assert (gone.value.key_id, gone.value.revoked_at) == (key.id, revoked.revoked_at)
    with pytest.raises(UnknownKey):
        store.accounts.authenticate("sk-vg-nobody")
    other = store.accounts.create_account("b")
    with pytest.raises(KeyNotFound):
        store.accounts.revoke_key(other.id, key.id)  # another account's key is not found


def test_operator_moves_are_ledger_entries_and_never_overdraw_when_asked(store: Store) -> None:
    account = store.accounts.create_account("a", 1_000_000)
    entry = store.accounts.post(account.id, "topup", 500_000, note="paid invoice 7")
    assert (entry["kind"], entry["amount"], entry["balance_after"], entry["note"]) == (
        "topup",
        500_000,
        1_500_000,
        "paid invoice 7",
    )
    store.accounts.post(account.id, "adjustment", -1_500_000, note="chargeback", require_funds=True)
    with pytest.raises(NotEnoughFunds) as err:
        store.accounts.post(account.id, "adjustment", -1, note="one more", require_funds=True)
    assert (err.value.account_id, err.value.balance, err.value.needed) == (account.id, 0, 1)
    with pytest.raises(AccountNotFound):
        store.accounts.post("acct_nope", "topup", 1, note="x")
    assert [e["kind"] for e in store.accounts.ledger_entries(account.id)] == ["topup", "topup", "adjustment"]
    assert [e["id"] for e in store.accounts.ledger_entries(account.id, after=0, limit=1)] == [
        store.accounts.ledger_entries(account.id)[0]["id"]
    ]
    assert store.accounts.get(account.id).balance == 0  # type: ignore[union-attr]
    assert store.accounts.verify_ledger() == []


def test_ledger_verify_names_the_accounts_that_do_not_add_up(store: Store) -> None:
    good = store.accounts.create_account("good", 3_000_000)
    drifted = store.accounts.create_account("drifted", 3_000_000)
    broken = store.accounts.create_account("broken", 3_000_000)
    for acct in (good, drifted, broken):
        store.accounts.post(acct.id, "topup", 1_000_000, note="more")
    with store.db.write() as conn:
        conn.execute(sa.update(accounts).where(accounts.c.id == drifted.id).values(balance=accounts.c.balance + 1))
        first = conn.execute(sa.select(sa.func.min(ledger.c.id)).where(ledger.c.account_id == broken.id)).scalar_one()
        conn.execute(sa.update(ledger).where(ledger.c.id == first).values(balance_after=ledger.c.balance_after + 5))
    found = {d.account_id: d for d in store.accounts.verify_ledger()}
    assert set(found) == {drifted.id, broken.id}
    assert (found[drifted.id].balance, found[drifted.id].ledger_sum) == (4_000_001, 4_000_000)
    assert found[broken.id].broken_entries == 2  # its first entry, and the next one that follows it
    assert found[broken.id].balance == found[broken.id].ledger_sum


def test_usage_counts_tasks_per_utc_day_model_and_status(store: Store) -> None:
    account = store.accounts.create_account("a", 100_000_000)
    other = store.accounts.create_account("b", 100_000_000)
    key = store.accounts.create_key(account.id)[0].id
    other_key = store.accounts.create_key(other.id)[0].id
    day1 = datetime(2026, 3, 1, 23, 59, 59, 900_000, tzinfo=UTC).timestamp()
    day2 = datetime(2026, 3, 2, 0, 0, 0, tzinfo=UTC).timestamp()
    done, failed, pending = (submit(store, account.id, key) for _ in range(3))
    late = submit(store, account.id, key)
    theirs = submit(store, other.id, other_key)
    assert store.tasks.claim("w", 30).id == done  # type: ignore[union-attr]
    assert store.tasks.complete(done, "w", cost=150_000, result_path="r", expires_at=1)
    assert store.tasks.fail(failed, code="x", message="x")
    with store.db.write() as conn:
        conn.execute(sa.update(tasks).where(tasks.c.id.in_([done, failed, pending, theirs])).values(created_at=day1))
        conn.execute(sa.update(tasks).where(tasks.c.id == late).values(created_at=day2))

    rows = store.usage.daily(day1 - 86_000, day2 + 10, account.id)
    assert [(r.day, r.model, r.status, r.tasks, r.charged) for r in rows] == [
        ("2026-03-01", "kling-v3", "completed", 1, 150_000),
        ("2026-03-01", "kling-v3", "failed", 1, 0),
        ("2026-03-01", "kling-v3", "pending", 1, 0),
        ("2026-03-02", "kling-v3", "pending", 1, 0),
    ]
    assert {r.account_id for r in store.usage.daily(day1 - 10, day2 + 10)} == {account.id, other.id}
    assert [r.day for r in store.usage.daily(day2, day2 + 86_400, account.id)] == ["2026-03-02"]


def test_the_price_table_is_seeded_once_and_replaced_by_version(url: str, store: Store) -> None:
    default = PriceTable.load()
    book = PriceBook.open(store.prices, default, source="test", refresh_seconds=0.05)
    PriceBook.open(store.prices, default, source="a second start", refresh_seconds=0.05)  # seeds nothing more
    assert book.stored().version == 1 and book.current() == default

    other_process = Store.from_url(url)
    try:
        theirs = PriceBook(other_process.prices, refresh_seconds=0.05)
        assert theirs.current() == default
        cheaper = {"models": {"kling-v3": {"std": {"per_second": "0.01"}}}}
        stored = book.replace(cheaper, note="sale")
        assert (stored.version, stored.note) == (2, "sale")
        assert book.current() == PriceTable.parse(cheaper)  # at once in the process that replaced it
        time.sleep(0.1)
        assert theirs.current() == PriceTable.parse(cheaper)  # the other process picked it up
        assert theirs.stored().version == 2
    finally:
        other_process.close()


def test_the_price_file_only_seeds_an_empty_database(
    url: str, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."kling-v3".std]\nper_second = 0.05\n')
    settings = Settings(data_dir=tmp_path, database_url=url, prices_file=prices)
    assert open_price_book(store, settings).current() == PriceTable.load(prices)
    prices.write_text('[models."kling-v3".std]\nper_second = 0.07\n')
    with caplog.at_level("WARNING"):
        book = open_price_book(store, settings)
    assert book.current().models["kling-v3"]["std"].per_second == Decimal("0.05")  # the database's table wins
    assert "vidgate prices set" in caplog.text


def test_concurrent_submits_with_one_key_respect_its_active_limit(store: Store) -> None:
    account = store.accounts.create_account("a", 100_000_000)
    key = store.accounts.create_key(account.id)[0].id
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(12)

    def attempt(_: int) -> None:
        start.wait()
        try:
            submit(store, account.id, key, max_active=5)
            result = "ok"
        except TooManyActiveTasks:
            result = "429"
        except NotEnoughFunds:
            result = "402"
        with lock:
            outcomes.append(result)

    with ThreadPoolExecutor(12) as pool:
        list(pool.map(attempt, range(12)))
    assert outcomes.count("ok") == 5 and outcomes.count("429") == 7
    assert store.accounts.get(account.id).balance == 100_000_000 - 5 * HOLD  # type: ignore[union-attr]
    assert store.accounts.verify_ledger() == []
