"""What both fake upstreams share: their configuration, their book of tasks and their faults.

A task's fate is fixed when it is submitted: when it completes (a delay drawn deterministically
from its id), whether it fails and with what message. Its state is computed on every read from
the fake clock, so thousands of tasks in flight cost one dict entry each: no thread, timer or
sleep per task. Tests steer the fake through ``app.state.fake`` (a :class:`FakeState`): change
``config`` at run time, script faults with :meth:`FakeState.inject`, move the clock with
:meth:`FakeState.advance`, delete a result with :meth:`FakeState.delete_result`, forget a
task with :meth:`FakeState.evict`, read ``counters`` and the bodies received in ``posts``.

Content rejection and slow completion come from keywords in the prompt, or at random for a
share of tasks (``reject_rate``, ``slow_rate``), so a demo needs no special prompts.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from vidgate.providers.instant import tiny_mp4

Fault = Literal["rate_limit", "concurrency", "server_error", "unavailable", "quota", "account", "invalid_parameters"]
Phase = Literal["pending", "processing", "completed", "failed", "cancelled"]

#: share of a task's delay it spends queued before it is reported as processing
PENDING_SHARE = 0.2
POSTS_KEPT = 10_000


@dataclass
class FakeConfig:
    """Everything a test or a demo can inject. Fields may be changed while the fake runs."""

    #: credentials the fake accepts (Kling: JWT signed with secret_key, iss = access_key)
    access_key: str = "fake-access-key"
    secret_key: str = "fake-kling-secret-key-0123456789abcdef"
    api_key: str = "fake-apimart-key"
    #: added to every request, result downloads included
    latency_s: float = 0.0
    #: each task completes after a delay drawn from this range (deterministic per task id)
    delay_s: tuple[float, float] = (1.0, 30.0)
    #: chance that any API request is answered with a rate limit, or with a server error
    rate_limit_rate: float = 0.0
    server_error_rate: float = 0.0
    #: a prompt containing this is refused as unsafe (Kling: at submit, 1301; apimart: task fails)
    reject_keyword: str = "REJECT"
    #: share of submits refused as unsafe as if their prompt held the reject keyword (drawn from the seed)
    reject_rate: float = 0.0
    #: a prompt containing this is accepted, then the task fails moderation when it completes
    reject_output_keyword: str = "UNSAFE_OUTPUT"
    #: a prompt containing this is accepted, then the task fails with a generic error
    fail_keyword: str = "FAIL_LATER"
    #: a prompt containing this takes ``slow_delay_s`` to complete
    slow_keyword: str = "SLOW"
    #: share of tasks that take ``slow_delay_s`` as if their prompt held the slow keyword
    #: (deterministic per task id and seed)
    slow_rate: float = 0.0
    slow_delay_s: float = 3600.0
    #: the account's concurrency limit: a submit while this many tasks are unfinished is refused
    #: (Kling 1303, apimart 429); None: no limit. ``counters["most_running"]`` keeps the peak.
    max_running: int | None = None
    #: results disappear (404) this long after completion; None keeps them
    delete_after_completion_s: float | None = None
    #: what the fake Kling reports as the length of a motion-control result
    motion_seconds: float = 8.0
    #: apimart only: task-status words to use instead of apimart's own (e.g. {"pending": "queued"})
    status_words: dict[str, str] = field(default_factory=dict)
    #: apimart only: give ``result.videos[].url`` as a lone string instead of a list
    url_as_string: bool = False
    seed: int = 0


@dataclass
class FakeTask:
    id: str
    kind: str
    body: dict[str, Any]
    created: float
    delay: float
    seconds: float
    failure: str | None = None  # the message it fails with when it completes; None: it succeeds
    deleted: bool = False
    cancelled: bool = False

    @property
    def ready_at(self) -> float:
        return self.created + self.delay

    def phase(self, now: float) -> Phase:
        if self.cancelled:
            return "cancelled"
        if now >= self.ready_at:
            return "failed" if self.failure else "completed"
        return "pending" if now - self.created < self.delay * PENDING_SHARE else "processing"

    def progress(self, now: float) -> int:
        if now >= self.ready_at or self.cancelled:
            return 100
        return min(99, int((now - self.created) / self.delay * 100)) if self.delay > 0 else 99


class FakeState:
    """The fake's tasks, counters, scripted faults and clock."""

    def __init__(self, config: FakeConfig) -> None:
        self.config = config
        self.tasks: dict[str, FakeTask] = {}
        self.counters: Counter[str] = Counter()
        self.posts: deque[tuple[str, dict[str, Any]]] = deque(maxlen=POSTS_KEPT)
        self.faults: deque[Fault] = deque()
        self.offset = 0.0
        self._rng = random.Random(config.seed)
        #: draws of ``reject_rate``, apart from ``_rng`` so they leave the fault sequence alone
        self._reject_rng = random.Random(f"{config.seed}:reject")

    # --- admin hooks ---------------------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the fake clock forward (tasks complete, results expire) without waiting."""
        self.offset += seconds

    def inject(self, *faults: Fault) -> None:
        """Answer the next API requests with these faults, one each, in order."""
        self.faults.extend(faults)

    def delete_result(self, task_id: str) -> None:
        self.tasks[task_id].deleted = True

    def evict(self, task_id: str) -> None:
        """Forget the task entirely, as an upstream does after its retention: queries and listings lose it."""
        del self.tasks[task_id]

    def cancel(self, task_id: str) -> None:
        self.tasks[task_id].cancelled = True

    def last_post(self, path: str) -> dict[str, Any]:
        return next(body for p, body in reversed(self.posts) if p == path)

    # --- used by the fakes ---------------------------------------------------------------------

    def next_fault(self) -> Fault | None:
        if self.faults:
            return self.faults.popleft()
        roll = self._rng.random()
        if roll < self.config.rate_limit_rate:
            return "rate_limit"
        if roll < self.config.rate_limit_rate + self.config.server_error_rate:
            return "server_error"
        return None

    def at_capacity(self) -> bool:
        """Whether a submit now would break the account's concurrency limit (counted as a
        ``fault_concurrency``). Counts unfinished tasks only when a limit is set."""
        if self.config.max_running is None:
            return False
        if self.running() < self.config.max_running:
            return False
        self.counters["fault_concurrency"] += 1
        return True

    def running(self) -> int:
        now = self.now()
        return sum(1 for task in self.tasks.values() if task.phase(now) in ("pending", "processing"))

    def rejects(self, prompt: str, *, at_random: bool = True) -> bool:
        """Whether submitted content is refused as unsafe: its prompt holds the reject keyword,
        or (``at_random``: a task, not an element) it falls in ``reject_rate``."""
        if self._has(prompt, self.config.reject_keyword):
            return True
        rate = self.config.reject_rate
        return at_random and rate > 0 and self._reject_rng.random() < rate

    def add(self, task_id: str, kind: str, body: dict[str, Any], prompt: str, seconds: float) -> FakeTask:
        task = FakeTask(
            id=task_id,
            kind=kind,
            body=body,
            created=self.now(),
            delay=self.delay_for(task_id, prompt),
            seconds=seconds,
            failure=self.failure_for(prompt),
        )
        self.tasks[task_id] = task
        self.counters["submitted"] += 1
        if self.config.max_running is not None:
            self.counters["most_running"] = max(self.counters["most_running"], self.running())
        return task

    def delay_for(self, task_id: str, prompt: str) -> float:
        """How long the task takes: ``slow_delay_s`` if its prompt holds the slow keyword or it falls
        in ``slow_rate``, else a delay drawn from ``delay_s``; both fixed by the seed and task id."""
        if self._has(prompt, self.config.slow_keyword) or self.falls_in_slow_rate(task_id):
            return self.config.slow_delay_s
        low, high = self.config.delay_s
        return random.Random(f"{self.config.seed}:{task_id}").uniform(low, high)

    def falls_in_slow_rate(self, task_id: str) -> bool:
        rate = self.config.slow_rate
        return rate > 0 and random.Random(f"{self.config.seed}:{task_id}:slow").random() < rate

    def failure_for(self, prompt: str) -> str | None:
        if self._has(prompt, self.config.reject_output_keyword):
            return "the generated video did not pass content moderation (risk control)"
        if self._has(prompt, self.config.fail_keyword):
            return "the generation failed inside the model service"
        return None

    def result_available(self, task: FakeTask) -> bool:
        now = self.now()
        if task.deleted or task.phase(now) != "completed":
            return False
        keep = self.config.delete_after_completion_s
        return keep is None or now < task.ready_at + keep

    async def file(self, request: Request) -> Response:
        """``GET /files/{task_id}.mp4``: the result, while it exists."""
        task = self.tasks.get(request.path_params["task_id"])
        if task is None or not self.result_available(task):
            return Response("not found", status_code=404, media_type="text/plain")
        self.counters["downloaded"] += 1
        return Response(tiny_mp4(), media_type="video/mp4")

    @staticmethod
    def _has(prompt: str, keyword: str) -> bool:
        return bool(keyword) and keyword in prompt


class Latency:
    """ASGI middleware: every HTTP request waits ``config.latency_s`` first (without blocking others)."""

    def __init__(self, app: ASGIApp, state: FakeState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.state.config.latency_s > 0:
            await asyncio.sleep(self.state.config.latency_s)
        await self.app(scope, receive, send)


def file_url(request: Request, task_id: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/files/{task_id}.mp4"
