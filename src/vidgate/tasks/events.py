"""A task's life, as the log and the metrics tell it: one call per event, where the event happens.

Each function writes one INFO record on the ``vidgate.tasks`` logger, with ``event`` (submitted,
claimed, completed, failed, requeued, cancelled), ``task_id`` and what the event is about as
fields of the record (in the JSON log: keys of the line), and counts it in ``vidgate.metrics``.
They are called only once the event is a fact (its transaction committed and its guarded
update matched), so each task's events are recorded once, whichever process records them.
"""

from __future__ import annotations

import logging
import time

from vidgate import metrics
from vidgate.billing.money import to_json_number as money
from vidgate.tasks.model import Task

log = logging.getLogger("vidgate.tasks")


def submitted(task: Task) -> None:
    metrics.tasks_submitted.labels(task.model).inc()
    log.info(
        "task %s submitted: %s, %g held",
        task.id,
        task.model,
        money(task.hold),
        extra={
            "event": "submitted",
            "task_id": task.id,
            "account_id": task.account_id,
            "model": task.model,
            "held": money(task.hold),
        },
    )


def claimed(task: Task, worker_id: str) -> None:
    log.info(
        "task %s claimed by worker %s (attempt %d)",
        task.id,
        worker_id,
        task.attempts,
        extra={
            "event": "claimed",
            "task_id": task.id,
            "account_id": task.account_id,
            "model": task.model,
            "worker_id": worker_id,
            "attempt": task.attempts,
        },
    )


def completed(task_id: str, model: str, provider: str, *, created_at: float, cost: int) -> None:
    """``cost`` as settled (micros); the duration runs from submission to now."""
    duration = max(0.0, time.time() - created_at)
    metrics.tasks_completed.labels(model).inc()
    metrics.task_duration.labels(model, provider).observe(duration)
    log.info(
        "task %s completed in %.1fs by %s, cost %g",
        task_id,
        duration,
        provider,
        money(cost),
        extra={
            "event": "completed",
            "task_id": task_id,
            "model": model,
            "provider": provider,
            "duration": round(duration, 3),
            "cost": money(cost),
        },
    )


def failed(task_id: str, model: str, reason: str, message: str) -> None:
    metrics.tasks_failed.labels(model, reason).inc()
    log.info(
        "task %s failed (%s): %s",
        task_id,
        reason,
        message,
        extra={"event": "failed", "task_id": task_id, "model": model, "reason": reason},
    )


def requeued(task_id: str, reason: str, detail: str, *, level: int = logging.INFO) -> None:
    """Back to the queue: ``retry`` (an attempt failed retryably), ``lease_expired`` (its
    worker stopped without a word), ``handed_back`` (its worker stopped and said so),
    ``no_channel`` (no upstream channel could take it now: a WARNING, the operator's to see)."""
    metrics.tasks_requeued.labels(reason).inc()
    log.log(
        level,
        "task %s requeued (%s): %s",
        task_id,
        reason,
        detail,
        extra={"event": "requeued", "task_id": task_id, "reason": reason},
    )


def cancelled(task_id: str, model: str, detail: str) -> None:
    metrics.tasks_cancelled.labels(model).inc()
    log.info(
        "task %s cancelled: %s",
        task_id,
        detail,
        extra={"event": "cancelled", "task_id": task_id, "model": model},
    )
