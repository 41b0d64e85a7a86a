"""/v1/account: what a key may see of its own account: balance and limits, keys, ledger.
Only ever the caller's own account; nothing here changes anything."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from vidgate.accounts.view import account_object, entry_object, key_object
from vidgate.api.deps import Caller, Ctx, LedgerAfter, LedgerLimit
from vidgate.api.openapi import errors

router = APIRouter(prefix="/v1/account", tags=["account"], responses=errors(401, 429))


@router.get("", summary="The caller's account: balance, status and limits")
def get_account(ctx: Ctx, caller: Caller) -> dict[str, Any]:
    account = ctx.accounts.get(caller.account_id)
    return {"code": 200, "data": account_object(account, ctx.accounts.effective_limits(account))}


@router.get("/keys", summary="The caller's account's API keys (never their secrets)")
def list_keys(ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return {"code": 200, "data": [key_object(k) for k in ctx.accounts.keys(caller.account_id)]}


@router.get(
    "/ledger", summary="The caller's account's ledger entries, oldest first, paged by id", responses=errors(400)
)
def ledger(ctx: Ctx, caller: Caller, after: LedgerAfter = 0, limit: LedgerLimit = 100) -> dict[str, Any]:
    entries = ctx.accounts.ledger(caller.account_id, after=after, limit=limit)
    return {"code": 200, "data": [entry_object(e) for e in entries]}
