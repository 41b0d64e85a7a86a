"""A task and its status machine. Pure: no I/O.

pending ──> processing ──> completed
   │            │  └─────> failed
   │            └────────> cancelled
   └──> cancelled / failed
processing ──> pending   (lease expired: handed back for another attempt)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # an annotation only: the SDK reads the statuses here without the catalogues
    from vidgate.i18n import Message


class Status(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def ended(self) -> bool:
        return self in ENDED


ENDED = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED})

#: other apimart-compatible servers' words for the five statuses (read by the SDK and by the
#: apimart upstream adapter alike)
STATUS_ALIASES = {
    "submitted": Status.PENDING,
    "queued": Status.PENDING,
    "running": Status.PROCESSING,
    "in_progress": Status.PROCESSING,
    "succeeded": Status.COMPLETED,
    "success": Status.COMPLETED,
    "canceled": Status.CANCELLED,
}


def read_status(word: str) -> Status | None:
    """The status an apimart-compatible server means by ``word`` (any case), or None."""
    word = word.strip().lower()
    if word in STATUS_ALIASES:
        return STATUS_ALIASES[word]
    return Status(word) if word in Status.__members__.values() else None


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.PROCESSING, Status.CANCELLED, Status.FAILED}),
    Status.PROCESSING: frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.PENDING}),
    Status.COMPLETED: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
}


def can_move(src: Status, dst: Status) -> bool:
    return dst in TRANSITIONS[src]


def moved_to(dst: Status, *srcs: Status) -> str:
    """The value to set for a guarded update that moves a task from any of ``srcs`` to ``dst``.
    Every status change of the store is built with it, so a move the machine above does not
    allow fails when the statement is built (at import, for the prebuilt ones), never at run."""
    forbidden = [src.value for src in srcs if not can_move(src, dst)]
    if forbidden or not srcs:
        raise ValueError(f"a task may not move from {forbidden or 'nowhere'} to {dst.value}")
    return dst.value


@dataclass(frozen=True)
class Task:
    id: str
    account_id: str
    model: str
    status: Status
    progress: int
    request: dict[str, Any]
    hold: int  # micros reserved at submit
    cost: int  # micros captured; 0 until completed
    estimated_time: int
    created_at: float
    started_at: float | None = None
    completed_at: float | None = None
    result_path: str | None = None
    expires_at: int | None = None
    error_code: str | None = None
    error_message: str | None = None  # in English
    error_detail: Message | None = None  # the same, to be rendered in the reader's language
    attempts: int = 0
    worker_id: str | None = None
    #: what the client sent to OpenAI's video API in its terms (size, seconds, remixed_from_video_id)
    openai_fields: dict[str, Any] | None = None
    seed: int | None = None  # what a local engine generated it with

    @property
    def actual_time(self) -> int:
        if self.started_at is None:
            return 0
        end = self.completed_at if self.completed_at is not None else self.started_at
        return max(0, round(end - self.started_at))
