"""POST /v1/videos/generations"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from vidgate.api.answers import Prepared, encode
from vidgate.api.body import read_json
from vidgate.api.deps import AppContext, Caller, Ctx, get_principal
from vidgate.api.openapi import errors
from vidgate.catalog.schema import EXAMPLES
from vidgate.store import Principal
from vidgate.tasks.idempotency import HEADER, MAX_LENGTH, idempotency_key

router = APIRouter(tags=["generations"], responses=errors(400, 401, 402, 409, 413, 429))

REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"$ref": "#/components/schemas/GenerationRequest"},
            # one per model, from its reference page: Swagger UI and ReDoc offer them to choose from
            "examples": {model: {"summary": model, "value": example} for model, example in EXAMPLES.items()},
        }
    },
}
IDEMPOTENCY_KEY = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": (
        "makes the submit safe to retry: the same key with the same body within 24 hours answers "
        "the same task id again and charges nothing more; with another body, 409 "
        "idempotency_key_reused. 1-255 printable ASCII characters (a UUID, say)"
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_LENGTH, "pattern": "^[ -~]+$"},
}


@router.post(
    "/v1/videos/generations",
    summary="Submit a video generation task",
    openapi_extra={"requestBody": REQUEST_BODY, "parameters": [IDEMPOTENCY_KEY]},
    response_model=dict[str, Any],
)
async def create_generation(request: Request, ctx: Ctx, caller: Caller) -> Response:
    return await answer_submit(request, ctx, caller)


async def submit(request: Request, ctx: AppContext) -> Response:
    """The route, for the hot-path middleware (``api.fastpath``): authenticate, then answer."""
    return await answer_submit(request, ctx, await get_principal(request, ctx))


async def answer_submit(request: Request, ctx: AppContext, caller: Principal) -> Response:
    body = await read_json(request, ctx.settings.max_body_bytes)
    key = idempotency_key(request.headers.get("idempotency-key"), body)
    ctx.submitted_to(request)
    task = await ctx.tasks.submit_on_loop(caller, body, key)
    return Prepared(encode({"code": 200, "data": [{"status": "submitted", "task_id": task.id}]}))
