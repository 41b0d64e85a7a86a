"""GET /v1/tasks (the caller's tasks, a page at a time), GET /v1/tasks/{task_id}, and cancel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from vidgate.api.answers import Prepared, encode
from vidgate.api.deps import AppContext, Caller, Ctx, get_principal
from vidgate.api.language import language
from vidgate.api.openapi import errors
from vidgate.store import Principal
from vidgate.tasks.listing import DEFAULT_LIMIT, MAX_LIMIT, TaskFilter, list_tasks
from vidgate.tasks.model import Task
from vidgate.tasks.view import task_object

router = APIRouter(tags=["tasks"], responses=errors(401, 404, 429))


def view(task: Task, request: Request, ctx: AppContext) -> dict[str, Any]:
    """The task object clients see, its result link signed for this server's address (worked
    out only for a task that has a result: most polls are of tasks that do not, yet)."""
    return task_object(task, lambda key, exp: ctx.signer.url(ctx.base_url(request), key, exp), language(request))


def envelope(task: Task, request: Request, ctx: AppContext) -> dict[str, Any]:
    return {"code": 200, "data": view(task, request, ctx)}


@router.get(
    "/v1/tasks",
    summary="List the caller's tasks, newest first, a page at a time",
    responses=errors(400),
    response_model=dict[str, Any],
    description="Each item is the task object of GET /v1/tasks/{task_id} with its `model`. `has_more` says "
    "whether older tasks match; pass `last_id` as `after` for the next page. Only the caller's account's tasks "
    "are listed.",
)
def list_task_page(
    request: Request,
    ctx: Ctx,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="tasks per page")] = DEFAULT_LIMIT,
    after: Annotated[str | None, Query(description="the `last_id` of the previous page")] = None,
    status: Annotated[
        str | None, Query(description="only tasks of this status (pending, processing, completed, failed, cancelled)")
    ] = None,
    model: Annotated[str | None, Query(description="only tasks of this model")] = None,
) -> dict[str, Any]:
    page = list_tasks(ctx.store, caller, TaskFilter.read(limit=limit, after=after, status=status, model=model))
    items = [{"id": task.id, "model": task.model, **view(task, request, ctx)} for task in page.tasks]
    return {
        "code": 200,
        "data": items,
        "has_more": page.has_more,
        "last_id": page.tasks[-1].id if page.tasks else None,
    }


@router.get(
    "/v1/tasks/{task_id}", summary="Read a task's status, progress, cost and result", response_model=dict[str, Any]
)
async def get_task(task_id: str, request: Request, ctx: Ctx, caller: Caller) -> Response:
    return await answer_task(request, ctx, caller, task_id)


async def read_task(request: Request, ctx: AppContext, task_id: str) -> Response:
    """The route, for the hot-path middleware (``api.fastpath``): authenticate, then answer."""
    return await answer_task(request, ctx, await get_principal(request, ctx), task_id)


async def answer_task(request: Request, ctx: AppContext, caller: Principal, task_id: str) -> Response:
    # The envelope is plain JSON values: answered as built, without FastAPI validating and
    # serialising it against the (schema-less) response model. An ended task's answer is the
    # same bytes every time (api.answers): encoded once, for its address and language.
    task = ctx.tasks.ended(caller, task_id)
    if task is None:
        task = await ctx.tasks.get_on_loop(caller, task_id)
        if not task.status.ended:
            return Prepared(encode(envelope(task, request, ctx)))
    base, lang = ctx.base_url(request), language(request)
    return ctx.ended_answers.get(task.id, base, lang) or ctx.ended_answers.keep(
        task.id, base, lang, envelope(task, request, ctx)
    )


async def own_task(ctx: AppContext, caller: Principal, task_id: str) -> Task:
    """The caller's task (TaskNotFound if it is not theirs). An ended task is answered from
    memory; anything else is read from the database. Both on the event loop: SQLite's read is
    a local one, PostgreSQL's goes through the async driver (``Database.fetch_one_async``)."""
    task = ctx.tasks.ended(caller, task_id)
    if task is None:
        task = await ctx.tasks.get_on_loop(caller, task_id)
    return task


@router.post(
    "/v1/tasks/{task_id}/cancel",
    summary="Cancel a task",
    responses=errors(409),
    description="A pending task is cancelled at once and its hold released; a processing one is stopped by "
    "its worker within a moment (poll until its status is cancelled). Ended tasks answer 409.",
)
def cancel_task(task_id: str, request: Request, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return envelope(ctx.tasks.cancel(caller, task_id), request, ctx)
