"""GET /v1/tasks/{task_id}"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from vidgate.api.deps import AppContext, Caller, Ctx, get_principal
from vidgate.api.language import language
from vidgate.api.openapi import errors
from vidgate.store import Principal
from vidgate.tasks.model import Task
from vidgate.tasks.view import task_object

router = APIRouter(responses=errors(401, 404, 429))


def envelope(task: Task, request: Request, ctx: AppContext) -> dict[str, Any]:
    base = ctx.base_url(request)
    return {"code": 200, "data": task_object(task, lambda key, exp: ctx.signer.url(base, key, exp), language(request))}


@router.get(
    "/v1/tasks/{task_id}", summary="Read a task's status, progress, cost and result", response_model=dict[str, Any]
)
async def get_task(task_id: str, request: Request, ctx: Ctx, caller: Caller) -> JSONResponse:
    return await answer_task(request, ctx, caller, task_id)


async def read_task(request: Request, ctx: AppContext, task_id: str) -> JSONResponse:
    """The route, for the hot-path middleware (``api.fastpath``): authenticate, then answer."""
    return await answer_task(request, ctx, await get_principal(request, ctx), task_id)


async def answer_task(request: Request, ctx: AppContext, caller: Principal, task_id: str) -> JSONResponse:
    # an ended task is answered from memory, on the event loop; anything else is read from the
    # database: on the loop too where that is a local read (SQLite), else in a worker thread.
    # The envelope is plain JSON values: answered as built, without FastAPI validating and
    # serialising it against the (schema-less) response model
    task = ctx.tasks.ended(caller, task_id)
    if task is None:
        task = (
            ctx.tasks.get(caller, task_id)
            if ctx.tasks.reads_inline
            else await run_in_threadpool(ctx.tasks.get, caller, task_id)
        )
    return JSONResponse(envelope(task, request, ctx))


@router.post(
    "/v1/tasks/{task_id}/cancel",
    summary="Cancel a task",
    responses=errors(409),
    description="A pending task is cancelled at once and its hold released; a processing one is stopped by "
    "its worker within a moment (poll until its status is cancelled). Ended tasks answer 409.",
)
def cancel_task(task_id: str, request: Request, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return envelope(ctx.tasks.cancel(caller, task_id), request, ctx)
