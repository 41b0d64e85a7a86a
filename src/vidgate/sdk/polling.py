"""When to poll a task while waiting for it to end. No I/O: the clients sleep and fetch.

The reference pages advise waiting 5-10 s after submitting, then polling every 5-10 s. A wait
polls sooner than ``poll_interval`` when the task is about to finish by its own estimate
(``estimated_time`` and ``progress``), and follows the server's ``Retry-After`` when the task
answer carries one; it never polls faster than ``min_interval``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from vidgate.sdk.defaults import DEFAULT_FIRST_POLL_AFTER, DEFAULT_MIN_INTERVAL, DEFAULT_POLL_INTERVAL
from vidgate.sdk.errors import WaitTimeoutError
from vidgate.sdk.models import Task, TaskStatus

__all__ = ["DEFAULT_FIRST_POLL_AFTER", "DEFAULT_MIN_INTERVAL", "DEFAULT_POLL_INTERVAL", "PollSchedule", "Waiter"]


@dataclass(frozen=True)
class PollSchedule:
    first_poll_after: float = DEFAULT_FIRST_POLL_AFTER
    poll_interval: float = DEFAULT_POLL_INTERVAL
    min_interval: float = DEFAULT_MIN_INTERVAL

    def __post_init__(self) -> None:
        if self.first_poll_after < 0 or self.poll_interval <= 0 or self.min_interval <= 0:
            raise ValueError("first_poll_after must be >= 0, poll_interval and min_interval > 0")

    @property
    def floor(self) -> float:
        return min(self.min_interval, self.poll_interval)

    def next_delay(self, task: Task, retry_after: float | None) -> float:
        """Seconds until the next poll of a task that has not ended."""
        if retry_after is not None:
            return max(retry_after, self.floor)
        return max(min(self.poll_interval, _expected_remaining(task)), self.floor)


def _expected_remaining(task: Task) -> float:
    """Seconds the task should still take by its own estimate; infinite when it gives none."""
    if task.status is not TaskStatus.PROCESSING or not task.estimated_time or task.progress <= 0:
        return float("inf")
    return task.estimated_time * (100 - min(task.progress, 100)) / 100


class Waiter:
    """One wait for one task: the schedule, the deadline and the last state seen."""

    def __init__(self, task: str | Task, schedule: PollSchedule, timeout: float | None) -> None:
        self.task_id = task.id if isinstance(task, Task) else task
        self.last = task if isinstance(task, Task) else None
        self.schedule = schedule
        self.timeout = timeout
        self._deadline = None if timeout is None else time.monotonic() + timeout

    def first_delay(self) -> float | None:
        """Seconds until the first poll; None when the task given has already ended."""
        if self.last is not None and self.last.ended:
            return None
        return self._within_deadline(self.schedule.first_poll_after)

    def next_delay(self, task: Task, retry_after: float | None = None) -> float | None:
        """Seconds until the next poll after seeing ``task``; None once it has ended.

        Raises WaitTimeoutError when the deadline has passed and the task is still going.
        """
        self.last = task
        if task.ended:
            return None
        if self._deadline is not None and time.monotonic() >= self._deadline:
            raise WaitTimeoutError(
                f"task {task.id} did not end within {self.timeout:g} s; it is {task.status} "
                f"({task.progress}%) and goes on",
                task,
            )
        return self._within_deadline(self.schedule.next_delay(task, retry_after))

    def _within_deadline(self, delay: float) -> float:
        """The last poll falls on the deadline, not after it."""
        if self._deadline is None:
            return delay
        return max(0.0, min(delay, self._deadline - time.monotonic()))
