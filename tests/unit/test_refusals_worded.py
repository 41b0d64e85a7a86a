"""The store raises facts; the services word them for clients, with the statuses, codes and
messages clients have always seen."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from vidgate.accounts.keycache import KeyCache
from vidgate.accounts.service import AccountService, Limits
from vidgate.billing.pricebook import PriceBook
from vidgate.billing.prices import PriceTable
from vidgate.catalog import parse_request
from vidgate.errors import AuthenticationFailed, Conflict, InsufficientBalance, NotFound, RateLimited
from vidgate.media.fetch import FetchPolicy
from vidgate.store import Principal, Store
from vidgate.store.errors import (
    AccountNotFound,
    AccountSuspended,
    KeyNotFound,
    KeyRevoked,
    NotEnoughFunds,
    PriceVersionTaken,
    Refused,
    TaskAlreadyEnded,
    TooManyActiveTasks,
    UnknownKey,
)
from vidgate.tasks.model import Status
from vidgate.tasks.service import TaskService

CALLER = Principal("acct_1", "key_1")
BODY = {"model": "kling-v3", "prompt": "a cat", "duration": 5}


class Refusing:
    """A part of the store whose every call raises ``refusal``."""

    def __init__(self, refusal: Refused) -> None:
        self.refusal = refusal
        self.changes_reach_other_processes = False

    def on_key_change(self, _: Any) -> None:
        pass

    def key_changes(self) -> None:  # no change counter to watch: the key cache stays off
        return None

    def __getattr__(self, name: str) -> Any:
        def refuse(*_: Any, **__: Any) -> Any:
            raise self.refusal

        return refuse


def store(**parts: Refused) -> Store:
    db = SimpleNamespace()
    return cast(Store, SimpleNamespace(db=db, **{name: Refusing(fact) for name, fact in parts.items()}))


def tasks(refusal: Refused) -> TaskService:
    return TaskService(store(tasks=refusal), PriceTable.load(), FetchPolicy(), estimated_times={}, max_active_per_key=3)


def accounts(refusal: Refused) -> AccountService:
    return AccountService(store(accounts=refusal), Limits(60, 3))


def test_the_facts_carry_their_numbers_and_no_wording() -> None:
    fact = NotEnoughFunds("acct_1", 100_000, 200_000)
    assert (fact.account_id, fact.balance, fact.needed) == ("acct_1", 100_000, 200_000)
    assert str(fact) == "account_id='acct_1', balance=100000, needed=200000"
    assert not hasattr(fact, "status") and not hasattr(fact, "message")


def test_a_submit_the_store_refuses_is_a_402_or_a_429() -> None:
    hold = PriceTable.load().hold(parse_request(BODY))
    with pytest.raises(InsufficientBalance) as poor:
        tasks(NotEnoughFunds("acct_1", 0, hold)).submit(CALLER, BODY)
    assert (poor.value.status, poor.value.code) == (402, "insufficient_balance")
    assert poor.value.message == (
        f"this task costs up to {hold / 1e6:g} and the account balance cannot cover it; top up and retry"
    )
    with pytest.raises(RateLimited) as busy:
        tasks(TooManyActiveTasks("key_1", 3)).submit(CALLER, BODY)
    assert (busy.value.status, busy.value.retry_after, busy.value.headers) == (429, 5, {"Retry-After": "5"})
    assert busy.value.message == "this key already has 3 active tasks, its limit; wait for one to finish"


def test_cancelling_an_ended_task_is_a_409() -> None:
    with pytest.raises(Conflict) as err:
        tasks(TaskAlreadyEnded("task_1", Status.FAILED)).cancel(CALLER, "task_1")
    assert (err.value.status, err.value.code) == (409, "task_already_ended")
    assert err.value.message == (
        "task task_1 has already ended (failed); only pending or processing tasks can be cancelled"
    )


def test_the_operators_refusals() -> None:
    with pytest.raises(Conflict) as overdraw:
        accounts(NotEnoughFunds("acct_1", 1_500_000, 2_000_000)).adjust("acct_1", -2_000_000, "chargeback")
    assert overdraw.value.code == "balance_would_go_negative"
    assert overdraw.value.message == "the balance of acct_1 is 1.5; -2 would take it below zero"
    for call in (
        lambda s: s.top_up("acct_x", 1, "x"),
        lambda s: s.suspend("acct_x"),
        lambda s: s.set_limits("acct_x", rate_limit_per_minute=None, max_active_tasks=None),
        lambda s: s.create_key("acct_x"),
    ):
        with pytest.raises(NotFound) as unknown:
            call(accounts(AccountNotFound("acct_x")))
        assert (unknown.value.code, unknown.value.message) == ("account_not_found", "no account 'acct_x'")
    with pytest.raises(NotFound) as no_key:
        accounts(KeyNotFound("acct_1", "key_x")).revoke_key("acct_1", "key_x")
    assert (no_key.value.code, no_key.value.message) == ("key_not_found", "account 'acct_1' has no key 'key_x'")


@pytest.mark.parametrize(
    ("fact", "message"),
    [
        (UnknownKey(), "invalid API key"),
        (KeyRevoked("key_1", 1.0), "this API key has been revoked"),
        (AccountSuspended("acct_1", "key_1"), "the account of this API key is suspended"),
    ],
)
def test_a_refused_key_is_a_401_saying_why(fact: Refused, message: str) -> None:
    with pytest.raises(AuthenticationFailed) as err:
        KeyCache(store(accounts=fact), ttl=30).principal("sk-vg-x")
    assert (err.value.status, err.value.code, err.value.message) == (401, "invalid_api_key", message)


def test_a_price_table_stored_meanwhile_is_a_409() -> None:
    book = PriceBook(cast(Any, Refusing(PriceVersionTaken(2))))
    with pytest.raises(Conflict) as err:
        book.replace({"models": {"kling-v3": {"std": {"per_second": "0.01"}}}})
    assert err.value.message == "the price table was replaced by someone else at the same moment; retry"
