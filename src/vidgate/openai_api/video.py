"""A task as OpenAI's video object, and the ids and errors of OpenAI's video API.

Statuses: pending is ``queued``, processing ``in_progress``; completed and failed are
themselves; a cancelled task is ``failed`` with ``error.code`` ``cancelled``. ``size`` and
``seconds`` are what the client sent through this API (``tasks.openai_fields``), else what the
request makes (its mode or resolution and aspect ratio, its duration: ``task_queries.BRIEF_FIELDS``).
Ids are the task ids; ``video_<ulid>`` names the task ``task_<ulid>`` too.
"""

from __future__ import annotations

from typing import Any

from vidgate.errors import RequestError
from vidgate.i18n import Message
from vidgate.openai_api.request import SCHEMAS
from vidgate.openai_api.sizes import shown_size
from vidgate.store.tables import BRIEF_FIELDS
from vidgate.tasks.model import Status, Task

STATUS = {
    Status.PENDING: "queued",
    Status.PROCESSING: "in_progress",
    Status.COMPLETED: "completed",
    Status.FAILED: "failed",
    Status.CANCELLED: "failed",
}
VIDEO_PREFIX, TASK_PREFIX = "video_", "task_"
_FAILED = Message("the task failed")
_CANCELLED = Message("the task was cancelled")


def task_id(video_id: str) -> str:
    """The task a video id names: ``video_<ulid>`` is ``task_<ulid>``; a task id is itself."""
    return TASK_PREFIX + video_id.removeprefix(VIDEO_PREFIX) if video_id.startswith(VIDEO_PREFIX) else video_id


def brief_of(task: Task) -> dict[str, Any]:
    """The request fields a video object shows, from a task read with its request."""
    return {name: task.request[name] for name in BRIEF_FIELDS if task.request.get(name) is not None}


def video_object(task: Task, brief: dict[str, Any], lang: str = "en") -> dict[str, Any]:
    """OpenAI's video object of ``task``; ``brief``: its request's ``BRIEF_FIELDS``."""
    asked = task.openai_fields or {}
    duration = brief.get("duration")
    prompt = brief.get("prompt")
    ended = task.status.ended
    return {
        "id": task.id,
        "object": "video",
        "status": STATUS[task.status],
        "progress": 100 if ended else task.progress,
        "created_at": int(task.created_at),
        "completed_at": int(task.completed_at) if task.completed_at is not None and ended else None,
        "expires_at": task.expires_at if task.status is Status.COMPLETED else None,
        "model": task.model,
        "prompt": prompt if isinstance(prompt, str) else None,
        "seconds": str(asked.get("seconds") or (duration if duration is not None else "")),
        "size": str(asked.get("size") or shown_size(brief, SCHEMAS.get(task.model))),
        "error": _error(task, lang),
        "remixed_from_video_id": asked.get("remixed_from_video_id"),
    }


def _error(task: Task, lang: str) -> dict[str, Any] | None:
    if task.status is Status.CANCELLED:
        return {"code": "cancelled", "message": _message(task, _CANCELLED, lang)}
    if task.status is Status.FAILED:
        return {"code": task.error_code or "task_failed", "message": _message(task, _FAILED, lang)}
    return None


def _message(task: Task, default: Message, lang: str) -> str:
    if task.error_detail is not None:
        return task.error_detail.render(lang)
    return task.error_message or default.render(lang)


def error_body(exc: RequestError, lang: str = "en") -> dict[str, Any]:
    """OpenAI's error envelope: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": exc.msg.render(lang), "type": exc.type, "param": exc.param, "code": exc.code}}


def is_openai_path(path: str) -> bool:
    """Whether ``path`` is one of OpenAI's video routes (apimart's submit route is not)."""
    return (path == "/v1/videos" or path.startswith("/v1/videos/")) and path != "/v1/videos/generations"
