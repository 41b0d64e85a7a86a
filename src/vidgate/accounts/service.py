"""Accounts, their keys, limits and balances, as an operator manages them.

Rules kept here (so the admin API and the CLI cannot differ): a top-up is positive; an
adjustment is non-zero, may be negative, but never takes the balance below zero; every money
move carries the operator's reason into its ledger entry; an account's own limits override the
server's defaults, and ``None`` means "the default". The store's refusals (an unknown account or
key, a balance that would go below zero) are worded here, as the operator reads them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from vidgate.accounts.usage import DailyUsage, DateRange, daily_usage
from vidgate.billing.money import MICROS, to_decimal
from vidgate.config import Settings
from vidgate.errors import Conflict, InvalidRequest, NotFound
from vidgate.i18n import Message
from vidgate.store import Account, ApiKey, Store
from vidgate.store.accounts import MAX_LIMIT, STATUSES
from vidgate.store.errors import AccountNotFound, KeyNotFound, NotEnoughFunds
from vidgate.store.ledger import MAX_ENTRY_ID, Discrepancy

MAX_NAME = 200
MAX_REASON = 500
MAX_LEDGER_PAGE = 1000
MAX_MOVE = 10**9 * MICROS  # one operator move, either way: a billion units of the currency


@dataclass(frozen=True)
class Limits:
    rate_limit_per_minute: int
    max_active_tasks: int


class AccountService:
    def __init__(self, store: Store, defaults: Limits) -> None:
        self.store = store
        self.defaults = defaults

    @classmethod
    def for_settings(cls, store: Store, settings: Settings) -> AccountService:
        return cls(store, Limits(settings.rate_limit_per_minute, settings.max_active_tasks))

    # --- accounts --------------------------------------------------------------------------
    def create(
        self,
        name: str,
        *,
        balance: int = 0,
        rate_limit_per_minute: int | None = None,
        max_active_tasks: int | None = None,
    ) -> Account:
        if balance < 0:
            raise InvalidRequest(Message("an opening balance cannot be negative"), param="balance")
        _within_bounds(balance, "balance")
        return self.store.accounts.create_account(
            _text(name, "name", MAX_NAME),
            balance,
            rate_limit_per_minute=_limit(rate_limit_per_minute, "rate_limit_per_minute"),
            max_active_tasks=_limit(max_active_tasks, "max_active_tasks"),
        )

    def get(self, account_id: str) -> Account:
        account = self.store.accounts.get(account_id)
        if account is None:
            raise account_not_found(account_id)
        return account

    def all(self, status: str | None = None) -> list[Account]:
        if status is not None and status not in STATUSES:
            raise InvalidRequest(Message("status must be one of {values}", values=", ".join(STATUSES)), param="status")
        return self.store.accounts.all(status)

    def suspend(self, account_id: str) -> Account:
        """Its keys stop working on their next request; its tasks already queued still run."""
        with _worded():
            return self.store.accounts.set_status(account_id, "suspended")

    def activate(self, account_id: str) -> Account:
        with _worded():
            return self.store.accounts.set_status(account_id, "active")

    def set_limits(
        self, account_id: str, *, rate_limit_per_minute: int | None, max_active_tasks: int | None
    ) -> Account:
        rate_limit_per_minute = _limit(rate_limit_per_minute, "rate_limit_per_minute")
        max_active_tasks = _limit(max_active_tasks, "max_active_tasks")
        with _worded():
            return self.store.accounts.set_limits(
                account_id, rate_limit_per_minute=rate_limit_per_minute, max_active_tasks=max_active_tasks
            )

    def effective_limits(self, account: Account) -> Limits:
        return Limits(
            account.rate_limit_per_minute or self.defaults.rate_limit_per_minute,
            account.max_active_tasks or self.defaults.max_active_tasks,
        )

    # --- money -----------------------------------------------------------------------------
    def top_up(self, account_id: str, amount: int, reason: str) -> dict[str, Any]:
        if amount <= 0:
            raise InvalidRequest(
                Message("a top-up must be a positive amount; use an adjustment to take money off"), param="amount"
            )
        _within_bounds(amount, "amount")
        note = _text(reason, "reason", MAX_REASON)
        with _worded():
            return self.store.accounts.post(account_id, "topup", amount, note=note)

    def adjust(self, account_id: str, amount: int, reason: str) -> dict[str, Any]:
        if amount == 0:
            raise InvalidRequest(Message("an adjustment of 0 changes nothing"), param="amount")
        _within_bounds(amount, "amount")
        note = _text(reason, "reason", MAX_REASON)
        with _worded():
            return self.store.accounts.post(account_id, "adjustment", amount, note=note, require_funds=amount < 0)

    def ledger(self, account_id: str, *, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        self.get(account_id)
        if not 1 <= limit <= MAX_LEDGER_PAGE:
            raise InvalidRequest(Message("limit must be between 1 and {max}", max=MAX_LEDGER_PAGE), param="limit")
        if not 0 <= after <= MAX_ENTRY_ID:
            raise InvalidRequest(
                Message("after must be an entry id, between 0 and {max}", max=MAX_ENTRY_ID),
                param="after",
            )
        return self.store.accounts.ledger_entries(account_id, after=after, limit=limit)

    def usage(self, days: DateRange, account_id: str | None = None) -> list[DailyUsage]:
        """Tasks and charges per (account, UTC day, model); one account or all."""
        if account_id is not None:
            self.get(account_id)
        return daily_usage(self.store, days, account_id)

    def verify_ledger(self) -> list[Discrepancy]:
        """Every account whose balance is not the sum of its entries, or whose chain breaks."""
        return self.store.accounts.verify_ledger()

    # --- keys ------------------------------------------------------------------------------
    def create_key(self, account_id: str, name: str = "default") -> tuple[ApiKey, str]:
        name = _text(name, "name", MAX_NAME)
        with _worded():
            return self.store.accounts.create_key(account_id, name)

    def keys(self, account_id: str) -> list[ApiKey]:
        self.get(account_id)
        return self.store.accounts.keys(account_id)

    def revoke_key(self, account_id: str, key_id: str) -> ApiKey:
        """The key stops working on its next request; its tasks already queued still run."""
        with _worded():
            return self.store.accounts.revoke_key(account_id, key_id)


def account_not_found(account_id: str) -> NotFound:
    return NotFound(Message("no account {account_id!r}", account_id=account_id), code="account_not_found")


@contextmanager
def _worded() -> Iterator[None]:
    """The store's refusals of an operator's call, as the admin API and the CLI answer them."""
    try:
        yield
    except AccountNotFound as exc:
        raise account_not_found(exc.account_id) from None
    except KeyNotFound as exc:
        raise NotFound(
            Message("account {account_id!r} has no key {key_id!r}", account_id=exc.account_id, key_id=exc.key_id),
            code="key_not_found",
        ) from None
    except NotEnoughFunds as exc:
        raise Conflict(
            Message(
                "the balance of {account_id} is {balance}; {amount} would take it below zero",
                account_id=exc.account_id,
                balance=str(to_decimal(exc.balance)),
                amount=str(to_decimal(-exc.needed)),
            ),
            code="balance_would_go_negative",
        ) from None


def _text(value: str, param: str, max_len: int) -> str:
    value = value.strip()
    if not value:
        raise InvalidRequest(Message("{param} is required", param=param), code="missing_parameter", param=param)
    if len(value) > max_len:
        raise InvalidRequest(
            Message(
                "{param} is {length} characters long; at most {max_len} are allowed",
                param=param,
                length=len(value),
                max_len=max_len,
            ),
            param=param,
        )
    return value


def _within_bounds(amount: int, param: str) -> None:
    if abs(amount) > MAX_MOVE:
        raise InvalidRequest(
            Message("{param} is out of range: at most {limit} either way", param=param, limit=MAX_MOVE // MICROS),
            param=param,
        )


def _limit(value: int | None, param: str) -> int | None:
    if value is not None and not 1 <= value <= MAX_LIMIT:
        raise InvalidRequest(
            Message(
                "{param} must be between 1 and {max}, or null for the server's default",
                param=param,
                max=MAX_LIMIT,
            ),
            param=param,
        )
    return value
