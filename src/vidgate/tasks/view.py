"""The task object of API.md section 4, as clients see it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vidgate.billing.money import to_json_number
from vidgate.i18n import Message
from vidgate.tasks.model import Status, Task

_FAILED = Message("the task failed")
_CANCELLED = Message("the task was cancelled")


def task_object(task: Task, result_url: Callable[[str, int], str], lang: str = "en") -> dict[str, Any]:
    """``result_url(storage_key, expires_at)`` makes the signed link for a completed task; a
    failure's message is written in ``lang`` (tasks that ended before messages were stored as
    templates show their English text as it is)."""
    out: dict[str, Any] = {
        "id": task.id,
        "status": task.status.value,
        "progress": 100 if task.status.ended else task.progress,
        "created": int(task.created_at),
    }
    if task.completed_at is not None:
        out["completed"] = int(task.completed_at)
    out["actual_time"] = task.actual_time
    out["estimated_time"] = task.estimated_time
    out["cost"] = to_json_number(task.cost if task.status == Status.COMPLETED else 0)
    if task.seed is not None:  # made by a local engine: the same seed makes the same video again
        out["seed"] = task.seed
    if task.status == Status.COMPLETED and task.result_path and task.expires_at:
        out["result"] = {
            "videos": [{"url": [result_url(task.result_path, task.expires_at)], "expires_at": task.expires_at}]
        }
    if task.status == Status.FAILED:
        out["error"] = {
            "message": _error_message(task, _FAILED, lang),
            "code": "task_failed",  # API.md section 4; the stable reason says which failure
            "reason": task.error_code or "task_failed",
        }
    elif task.status == Status.CANCELLED:
        out["error"] = {"message": _error_message(task, _CANCELLED, lang), "code": "task_cancelled"}
    return out


def _error_message(task: Task, default: Message, lang: str) -> str:
    if task.error_detail is not None:
        return task.error_detail.render(lang)
    return task.error_message or default.render(lang)
