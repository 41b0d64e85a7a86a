"""GET /v1/tasks/{task_id}"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from vidgate.api.deps import Caller, Ctx
from vidgate.tasks.view import task_object

router = APIRouter()


@router.get("/v1/tasks/{task_id}", summary="Read a task's status, progress, cost and result")
def get_task(task_id: str, request: Request, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    task = ctx.tasks.get(caller, task_id)
    base = ctx.base_url(request)
    return {"code": 200, "data": task_object(task, lambda key, exp: ctx.signer.url(base, key, exp))}
