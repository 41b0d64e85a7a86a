"""What accounts, keys, ledger entries and usage look like in JSON (money as decimal numbers,
times as Unix seconds)."""

from __future__ import annotations

from typing import Any

from vidgate.accounts.service import Limits
from vidgate.accounts.usage import DailyUsage
from vidgate.billing.money import to_json_number
from vidgate.store import Account, ApiKey
from vidgate.store.ledger import Discrepancy


def account_object(account: Account, effective: Limits) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "status": account.status,
        "balance": to_json_number(account.balance),
        "created": int(account.created_at),
        "limits": {  # the account's own; null: the server's default
            "rate_limit_per_minute": account.rate_limit_per_minute,
            "max_active_tasks": account.max_active_tasks,
        },
        "effective_limits": {
            "rate_limit_per_minute": effective.rate_limit_per_minute,
            "max_active_tasks": effective.max_active_tasks,
        },
    }


def key_object(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "account_id": key.account_id,
        "name": key.name,
        "prefix": key.prefix,
        "status": "revoked" if key.revoked_at is not None else "active",
        "created": int(key.created_at),
        "last_used": _seconds(key.last_used_at),
        "revoked": _seconds(key.revoked_at),
    }


def entry_object(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": entry["id"],
        "kind": entry["kind"],
        "amount": to_json_number(entry["amount"]),
        "balance_after": to_json_number(entry["balance_after"]),
        "task_id": entry["task_id"],
        "note": entry["note"],
        "created": int(entry["created_at"]),
    }


def usage_object(usage: DailyUsage) -> dict[str, Any]:
    return {
        "account_id": usage.account_id,
        "date": usage.day,
        "model": usage.model,
        "tasks": usage.tasks,
        "total": usage.total,
        "charged": to_json_number(usage.charged),
    }


def discrepancy_object(bad: Discrepancy) -> dict[str, Any]:
    return {
        "account_id": bad.account_id,
        "name": bad.name,
        "balance": to_json_number(bad.balance),
        "ledger_sum": to_json_number(bad.ledger_sum),
        "broken_entries": bad.broken_entries,
    }


def _seconds(at: float | None) -> int | None:
    return None if at is None else int(at)
