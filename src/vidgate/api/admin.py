"""/admin/v1: the operator's API, behind the admin token (``VIDGATE_ADMIN_TOKEN``).

Accounts, their keys, limits and balances; the price table; usage; the ledger and its check.
Same envelopes as the public API: ``{"code": 200, "data": ...}`` and the error envelope.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from vidgate.accounts.usage import DateRange
from vidgate.accounts.view import account_object, discrepancy_object, entry_object, key_object, usage_object
from vidgate.api.admin_models import AccountLimits, Adjustment, NewAccount, NewKey, TopUp
from vidgate.api.body import JsonRoute
from vidgate.api.deps import AppContext, Ctx, LedgerAfter, LedgerLimit, require_admin
from vidgate.api.openapi import errors
from vidgate.billing.money import to_micros
from vidgate.billing.prices import PriceTable
from vidgate.store import Account
from vidgate.store.accounts import STATUSES


def admin_router(prefix: str = "") -> APIRouter:
    """Routes under /admin/v1: behind the admin token, JSON bodies read by vidgate's parser."""
    return APIRouter(
        prefix=f"/admin/v1{prefix}",
        tags=["admin"],
        dependencies=[Depends(require_admin)],
        route_class=JsonRoute,
        responses=errors(401, 403, 404),  # 404 also while the admin API is disabled
    )


router = admin_router()


def ok(data: Any) -> dict[str, Any]:
    return {"code": 200, "data": data}


def account_view(ctx: AppContext, account: Account) -> dict[str, Any]:
    return account_object(account, ctx.accounts.effective_limits(account))


# --- accounts ------------------------------------------------------------------------------
@router.get("/accounts", summary="List accounts", responses=errors(400))
def list_accounts(
    ctx: Ctx, status: str | None = Query(None, json_schema_extra={"enum": list(STATUSES)})
) -> dict[str, Any]:
    return ok([account_view(ctx, a) for a in ctx.accounts.all(status)])


@router.post("/accounts", summary="Create an account (a positive opening balance is a top-up)", responses=errors(400))
def create_account(body: NewAccount, ctx: Ctx) -> dict[str, Any]:
    account = ctx.accounts.create(
        body.name,
        balance=to_micros(body.balance),
        rate_limit_per_minute=body.rate_limit_per_minute,
        max_active_tasks=body.max_active_tasks,
    )
    return ok(account_view(ctx, account))


@router.get("/accounts/{account_id}", summary="Read an account")
def get_account(account_id: str, ctx: Ctx) -> dict[str, Any]:
    return ok(account_view(ctx, ctx.accounts.get(account_id)))


@router.post("/accounts/{account_id}/suspend", summary="Suspend an account: its keys get 401 from the next request")
def suspend_account(account_id: str, ctx: Ctx) -> dict[str, Any]:
    return ok(account_view(ctx, ctx.accounts.suspend(account_id)))


@router.post("/accounts/{account_id}/activate", summary="Reactivate a suspended account")
def activate_account(account_id: str, ctx: Ctx) -> dict[str, Any]:
    return ok(account_view(ctx, ctx.accounts.activate(account_id)))


@router.put(
    "/accounts/{account_id}/limits",
    summary="Set the account's own limits (null: the default)",
    responses=errors(400),
)
def set_limits(account_id: str, body: AccountLimits, ctx: Ctx) -> dict[str, Any]:
    account = ctx.accounts.set_limits(
        account_id, rate_limit_per_minute=body.rate_limit_per_minute, max_active_tasks=body.max_active_tasks
    )
    return ok(account_view(ctx, account))


@router.post(
    "/accounts/{account_id}/topup", summary="Add money (positive amount, with a reason)", responses=errors(400)
)
def top_up(account_id: str, body: TopUp, ctx: Ctx) -> dict[str, Any]:
    return ok(entry_object(ctx.accounts.top_up(account_id, to_micros(body.amount), body.reason)))


@router.post(
    "/accounts/{account_id}/adjust",
    summary="Correct a balance (signed amount, with a reason); never below zero (409)",
    responses=errors(400, 409),
)
def adjust(account_id: str, body: Adjustment, ctx: Ctx) -> dict[str, Any]:
    return ok(entry_object(ctx.accounts.adjust(account_id, to_micros(body.amount), body.reason)))


@router.get(
    "/accounts/{account_id}/ledger",
    summary="The account's ledger entries, oldest first, paged by id",
    responses=errors(400),
)
def account_ledger(account_id: str, ctx: Ctx, after: LedgerAfter = 0, limit: LedgerLimit = 100) -> dict[str, Any]:
    return ok([entry_object(e) for e in ctx.accounts.ledger(account_id, after=after, limit=limit)])


# --- keys ----------------------------------------------------------------------------------
@router.get("/accounts/{account_id}/keys", summary="The account's API keys (never their secrets)")
def list_keys(account_id: str, ctx: Ctx) -> dict[str, Any]:
    return ok([key_object(k) for k in ctx.accounts.keys(account_id)])


@router.post(
    "/accounts/{account_id}/keys", summary="Create a key; its secret is in this answer only", responses=errors(400)
)
def create_key(account_id: str, ctx: Ctx, body: NewKey | None = None) -> dict[str, Any]:
    key, secret = ctx.accounts.create_key(account_id, (body or NewKey()).name)
    return ok({**key_object(key), "secret": secret})


@router.post("/accounts/{account_id}/keys/{key_id}/revoke", summary="Revoke a key: 401 from its next request")
def revoke_key(account_id: str, key_id: str, ctx: Ctx) -> dict[str, Any]:
    return ok(key_object(ctx.accounts.revoke_key(account_id, key_id)))


# --- prices --------------------------------------------------------------------------------
@router.get("/prices", summary="The price table in force, with its version")
def get_prices(ctx: Ctx) -> dict[str, Any]:
    stored = ctx.prices.stored()
    return ok(prices_object(stored.version, stored.note, stored.created_at, PriceTable.parse(stored.body)))


@router.put(
    "/prices",
    summary="Replace the price table",
    responses=errors(400, 409),
    description='The body is a whole table, `{"models": {...}}` as in the price file, with an optional '
    "`note`. What `GET /admin/v1/prices` answers is taken back as it is (its `data`, or the whole answer): "
    "`version` and `updated` are read-only and ignored; any other field is refused. The table is validated "
    "in full; every API and worker process charges from it within a second or two.",
)
def replace_prices(ctx: Ctx, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    table, note = written_prices(body)
    stored = ctx.prices.replace(table, note=note)
    return ok(prices_object(stored.version, stored.note, stored.created_at, PriceTable.parse(stored.body)))


#: what ``prices_object`` adds to a table that a client cannot set; PUT takes them back and ignores them
READ_ONLY_PRICE_FIELDS = ("version", "updated")


def prices_object(version: int, note: str | None, created_at: float, table: PriceTable) -> dict[str, Any]:
    return {"version": version, "note": note, "updated": int(created_at), **table.to_json()}


def written_prices(body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The table and the note of a PUT body: ``{"models", "note"}``, or what GET answered (the
    envelope or its ``data``), whose read-only fields are dropped. Anything else stays in the
    table, for its validation to refuse."""
    if body.keys() == {"code", "data"} and body["code"] == 200 and isinstance(body["data"], dict):
        body = body["data"]
    table = {k: v for k, v in body.items() if k not in ("note", *READ_ONLY_PRICE_FIELDS)}
    note = body.get("note")
    return table, str(note) if note is not None else None


# --- usage and the ledger check ------------------------------------------------------------
A_DAY: dict[str, Any] = {"json_schema_extra": {"format": "date"}}


@router.get(
    "/usage",
    summary="Tasks and charges per account, model and UTC day (both dates included)",
    responses=errors(400),
)
def usage(
    ctx: Ctx,
    account_id: str | None = None,
    first: str | None = Query(None, alias="from", description="YYYY-MM-DD; default: 29 days before `to`", **A_DAY),
    last: str | None = Query(None, alias="to", description="YYYY-MM-DD; default: today (UTC)", **A_DAY),
) -> dict[str, Any]:
    days = DateRange.parse(first, last)
    rows = ctx.accounts.usage(days, account_id)
    return ok({"from": days.first.isoformat(), "to": days.last.isoformat(), "usage": [usage_object(r) for r in rows]})


@router.get("/ledger/verify", summary="Check that every balance equals the sum of its ledger entries")
def verify_ledger(ctx: Ctx) -> dict[str, Any]:
    bad = ctx.accounts.verify_ledger()
    return ok({"ok": not bad, "accounts": [discrepancy_object(d) for d in bad]})
