"""OpenAI's video API: POST/GET /v1/videos, GET/DELETE /v1/videos/{video_id}, its content and
its remix (``vidgate.openai_api``). Errors on these routes are in OpenAI's envelope (``api.errors``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.convertors import StringConvertor, register_url_convertor
from starlette.responses import Response

from vidgate.api.body import parse_json, read_body
from vidgate.api.deps import AppContext, Caller, Ctx
from vidgate.api.files import deliver
from vidgate.api.language import language
from vidgate.api.openapi import openai_errors
from vidgate.openai_api import variants
from vidgate.openai_api.form import read_values
from vidgate.openai_api.service import VideoService
from vidgate.openai_api.video import brief_of, video_object
from vidgate.store.idempotency import IdempotencyKey
from vidgate.tasks.idempotency import idempotency_key
from vidgate.tasks.listing import DEFAULT_LIMIT, MAX_LIMIT
from vidgate.tasks.model import Task


class VideoIdConvertor(StringConvertor):
    """A video id: one path segment, but not ``generations`` (apimart's submit route,
    ``POST /v1/videos/generations``, whose path would otherwise also be a video's)."""

    regex = "(?!generations(?:/|$))[^/]+"


register_url_convertor("video_id", VideoIdConvertor())

router = APIRouter(prefix="/v1/videos", tags=["OpenAI video API"], responses=openai_errors(401, 404, 429))

CREATE_BODY = {
    "required": True,
    "content": {
        media: {
            "schema": {
                "type": "object",
                "required": ["model"],
                "properties": {
                    "model": {"type": "string", "description": "one of this server's models, or an alias of one"},
                    "prompt": {"type": "string"},
                    "seconds": {"type": ["string", "integer"], "description": "a duration the model makes"},
                    "size": {"type": "string", "description": "WIDTHxHEIGHT, e.g. 1280x720"},
                    "input_reference": (
                        {"type": "string", "format": "binary", "description": "the first frame (an image)"}
                        if media == "multipart/form-data"
                        else {"type": "object", "properties": {"image_url": {"type": "string"}}}
                    ),
                },
                "additionalProperties": True,
                "description": "any other field is the model's own (see GenerationRequest)",
            }
        }
        for media in ("multipart/form-data", "application/json")
    },
}


def service(ctx: AppContext) -> VideoService:
    return VideoService(ctx.tasks, ctx.store, ctx.storage, ctx.settings.openai_model_aliases)


def answer(task: Task, request: Request, ctx: AppContext, brief: dict[str, Any] | None = None) -> JSONResponse:
    """The video object, with the wait its pollers should keep between polls."""
    return JSONResponse(
        video_object(task, brief_of(task) if brief is None else brief, language(request)),
        headers={"openai-poll-after-ms": str(ctx.settings.openai_poll_after_ms)},
    )


@router.post(
    "",
    summary="Create a video (OpenAI's videos.create)",
    responses=openai_errors(400, 402, 409, 413),
    openapi_extra={"requestBody": CREATE_BODY},
    response_model=dict[str, Any],
)
async def create_video(request: Request, ctx: Ctx, caller: Caller) -> JSONResponse:
    values, form = await read_values(request, ctx.settings.max_body_bytes)
    header = request.headers.get("idempotency-key")

    def key(body: Any) -> IdempotencyKey | None:
        return idempotency_key(header, body)

    ctx.submitted_to(request)
    task = await run_in_threadpool(service(ctx).create, caller, values, key, form=form)
    return answer(task, request, ctx)


@router.get(
    "", summary="List videos (OpenAI's videos.list)", responses=openai_errors(400), response_model=dict[str, Any]
)
def list_videos(
    request: Request,
    ctx: Ctx,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="videos per page")] = DEFAULT_LIMIT,
    after: Annotated[str | None, Query(description="the last_id of the previous page")] = None,
    order: Annotated[Literal["asc", "desc"], Query(description="desc: newest first; asc: oldest first")] = "desc",
) -> JSONResponse:
    page = service(ctx).page(caller, limit=limit, after=after, order=order, lang=language(request))
    return JSONResponse(page)


@router.get(
    "/{video_id:video_id}", summary="Retrieve a video (OpenAI's videos.retrieve)", response_model=dict[str, Any]
)
async def retrieve_video(video_id: str, request: Request, ctx: Ctx, caller: Caller) -> JSONResponse:
    task, brief = await run_in_threadpool(service(ctx).read, caller, video_id)
    return answer(task, request, ctx, brief)


@router.delete(
    "/{video_id:video_id}",
    summary="Delete a video: cancel it if it has not ended, delete its stored result",
    response_model=dict[str, Any],
)
def delete_video(video_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return service(ctx).delete(caller, video_id)


@router.post(
    "/{video_id:video_id}/remix",
    summary="Remix a video: a new task with its parameters and a new prompt",
    responses=openai_errors(400, 402, 409, 413),
    response_model=dict[str, Any],
)
async def remix_video(video_id: str, request: Request, ctx: Ctx, caller: Caller) -> JSONResponse:
    body = parse_json(await read_body(request, ctx.settings.max_body_bytes))
    header = request.headers.get("idempotency-key")

    def key(payload: Any) -> IdempotencyKey | None:
        return idempotency_key(header, payload)

    ctx.submitted_to(request)
    task = await run_in_threadpool(service(ctx).remix, caller, video_id, body, key)
    return answer(task, request, ctx)


@router.head("/{video_id:video_id}/content", include_in_schema=False, response_class=Response)
@router.get(
    "/{video_id:video_id}/content",
    summary="Download a video's MP4, thumbnail or spritesheet",
    responses=openai_errors(400),
    response_class=Response,
)
async def video_content(
    video_id: str,
    request: Request,
    ctx: Ctx,
    caller: Caller,
    variant: Annotated[
        Literal["video", "thumbnail", "spritesheet"],
        Query(
            description="video: the MP4 (Range requests work); thumbnail: a frame (WebP); "
            "spritesheet: a grid of frames (JPEG)"
        ),
    ] = "video",
) -> Response:
    task, key = await run_in_threadpool(service(ctx).content, caller, video_id, variant)
    return await deliver(
        request,
        ctx,
        key,
        expires=task.expires_at or 0,
        media_type=variants.MEDIA_TYPES[variant],
        filename=variants.FILENAMES[variant],
    )
