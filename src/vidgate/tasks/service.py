"""Submit and read tasks: the one place that turns a client's request into a queued task.

The store's refusals (``vidgate.store.errors``) are worded here for the client: too little money
is a 402, a key at its limit of active tasks a 429, cancelling an ended task a 409."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ulid import ULID

from vidgate.billing.prices import Pricing
from vidgate.catalog import parse_request
from vidgate.errors import Conflict, InsufficientBalance, RateLimited, TaskNotFound
from vidgate.media.fetch import FetchPolicy, check_callback_url, check_url
from vidgate.store import Principal, Store
from vidgate.store.errors import NotEnoughFunds, TaskAlreadyEnded, TooManyActiveTasks
from vidgate.tasks.model import Task

#: what a model is expected to take when the operator has not said otherwise (seconds)
DEFAULT_ESTIMATED_TIME = 60
#: ended tasks remembered for reading (see ``TaskService.ended``); the oldest go first
ENDED_CACHE_ENTRIES = 20_000


class TaskService:
    def __init__(
        self,
        store: Store,
        prices: Pricing,
        fetch_policy: FetchPolicy,
        *,
        estimated_times: dict[str, int],
        max_active_per_key: int,
        on_submit: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.prices = prices
        self.fetch_policy = fetch_policy
        self.estimated_times = estimated_times
        self.max_active_per_key = max_active_per_key
        self.on_submit = on_submit
        self._ended: dict[str, Task] = {}
        #: whether ``get`` may run on the event loop (a local SQLite read) rather than a thread
        self.reads_inline = store.db.reads_never_wait

    def submit(self, principal: Principal, body: Any) -> Task:
        """Validate, price, reserve the money and queue the task, or raise and change nothing."""
        req = parse_request(body)
        for ref in req.media_refs():
            check_url(ref.url, ref.kind, self.fetch_policy, ref.param)
        if req.callback_url is not None:
            check_callback_url(req.callback_url, self.fetch_policy)
        hold = self.prices.hold(req)
        try:
            task = self.store.tasks.insert_with_hold(
                task_id=f"task_{ULID()}",
                account_id=principal.account_id,
                key_id=principal.key_id,
                model=req.model,
                request=req.model_dump(mode="json", by_alias=True, exclude_none=True),
                hold=hold,
                estimated_time=self.estimated_times.get(req.model, DEFAULT_ESTIMATED_TIME),
                max_active_per_key=principal.max_active_tasks or self.max_active_per_key,
            )
        except TooManyActiveTasks as exc:
            raise RateLimited(
                f"this key already has {exc.limit} active tasks, its limit; wait for one to finish", retry_after=5
            ) from None
        except NotEnoughFunds as exc:
            raise InsufficientBalance(
                f"this task costs up to {exc.needed / 1e6:g} and the account balance cannot cover it; top up and retry"
            ) from None
        self.on_submit()
        return task

    def cancel(self, principal: Principal, task_id: str) -> Task:
        try:
            task = self.store.tasks.cancel(task_id, principal.account_id)
        except TaskAlreadyEnded as exc:
            raise Conflict(
                f"task {exc.task_id} has already ended ({exc.status.value}); "
                "only pending or processing tasks can be cancelled",
                code="task_already_ended",
            ) from None
        if task is None:
            raise TaskNotFound(f"no task {task_id!r} for this account")
        return task

    def get(self, principal: Principal, task_id: str) -> Task:
        task = self.store.tasks.get(task_id, account_id=principal.account_id)
        if task is None:  # someone else's task answers exactly like an unknown one
            raise TaskNotFound(f"no task {task_id!r} for this account")
        if task.status.ended:
            self._remember(task)
        return task

    def ended(self, principal: Principal, task_id: str) -> Task | None:
        """The caller's task if it has ended and was read before; no I/O. An ended task never
        changes what a client sees of it again (every status change is guarded by the status it
        leaves, and no change leaves an ended one; the janitor's purge only marks the row), so
        it is served from memory from then on. Anything else (another account's task, one not
        read yet, one still active): None, and the database answers."""
        task = self._ended.get(task_id)
        return task if task is not None and task.account_id == principal.account_id else None

    def _remember(self, task: Task) -> None:
        if len(self._ended) >= ENDED_CACHE_ENTRIES:
            with contextlib.suppress(StopIteration, KeyError, RuntimeError):  # another thread got there first
                del self._ended[next(iter(self._ended))]
        self._ended[task.id] = replace(task, request={})  # the view never shows the request: keep it small
