"""Submit and read tasks: the one place that turns a client's request into a queued task.

The store's refusals (``vidgate.store.errors``) are worded here for the client: too little money
is a 402, a key at its limit of active tasks a 429, cancelling an ended task a 409, an
Idempotency-Key live with another body a 409 (``tasks.idempotency``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ulid import ULID

from vidgate.billing.pricebook import PriceBook
from vidgate.billing.prices import Pricing
from vidgate.catalog import GenerationRequest, parse_request
from vidgate.errors import Conflict, InsufficientBalance, RateLimited, RequestError, TaskNotFound
from vidgate.i18n import Message
from vidgate.media.fetch import FetchPolicy, check_callback_url, check_url
from vidgate.store import Principal, Store
from vidgate.store.errors import KeyAlreadyUsed, NotEnoughFunds, TaskAlreadyEnded, TooManyActiveTasks
from vidgate.store.idempotency import IdempotencyKey
from vidgate.store.submits import new_task
from vidgate.tasks import events
from vidgate.tasks.idempotency import HEADER
from vidgate.tasks.model import Status, Task

log = logging.getLogger(__name__)

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
        refuse: Callable[[GenerationRequest], None] = lambda req: None,
    ) -> None:
        self.store = store
        self.prices = prices
        self.fetch_policy = fetch_policy
        self.estimated_times = estimated_times
        self.max_active_per_key = max_active_per_key
        self.on_submit = on_submit
        #: raises RequestError for what no place serving the model would make (local engines' refusals)
        self.refuse = refuse
        self._ended: dict[str, Task] = {}

    def submit(
        self,
        principal: Principal,
        body: Any,
        idempotency: IdempotencyKey | None = None,
        *,
        openai_fields: dict[str, Any] | None = None,
    ) -> Task:
        """Validate, price, reserve the money and queue the task, or raise and change nothing.
        With an ``idempotency`` key live for this account: its task (same body), no money moved,
        or a 409 (another body). ``openai_fields``: what OpenAI's video API showed of the
        request in its own terms (``openai_api``), kept with the task."""
        try:
            req, hold = self._priced(body)
        except RequestError:
            # a body accepted once may be refused now (prices changed): its key still answers
            if idempotency is not None:
                used = self.store.idempotency.find(
                    principal.account_id, idempotency.key, body_hash=idempotency.body_hash, now=time.time()
                )
                if used is not None and used.same_body:
                    return self._replay(used)
            raise
        try:
            task = self.store.tasks.insert_with_hold(
                **self._new_task(principal, req, hold), idempotency=idempotency, openai_fields=openai_fields
            )
        except KeyAlreadyUsed as used:
            return self._replay(used)
        except (TooManyActiveTasks, NotEnoughFunds) as exc:
            raise self._refusal(exc) from None
        self._submitted(task)
        return task

    async def submit_on_loop(self, principal: Principal, body: Any, idempotency: IdempotencyKey | None = None) -> Task:
        """``submit`` for a coroutine: the checks on the event loop, then a wait there for the
        transaction the submit shares with others (``TaskStore.insert_with_hold_on_loop``), with
        no thread of its own. When that would read the database on the loop (an ``idempotency``
        key, whose replay reads it; the price table's check for a newer version, once a second)
        it is ``submit`` in a worker thread."""
        if idempotency is None:
            req = self._checked(body)
            book = self.prices
            hold = book.hold_from_memory(req) if isinstance(book, PriceBook) else book.hold(req)
            if hold is not None:
                try:
                    new = new_task(**self._new_task(principal, req, hold))
                    task = await self.store.tasks.insert_with_hold_on_loop(new)
                except (TooManyActiveTasks, NotEnoughFunds) as exc:
                    raise self._refusal(exc) from None
                self._submitted(task)
                return task
        return await asyncio.to_thread(self.submit, principal, body, idempotency)

    def _priced(self, body: Any) -> tuple[GenerationRequest, int]:
        """The request checked (RequestError) and the money it holds."""
        req = self._checked(body)
        return req, self.prices.hold(req)

    def _checked(self, body: Any) -> GenerationRequest:
        """The request, or RequestError; no I/O."""
        req = parse_request(body)
        self.refuse(req)
        for ref in req.media_refs():
            check_url(ref.url, ref.kind, self.fetch_policy, ref.param)
        if req.callback_url is not None:
            check_callback_url(req.callback_url, self.fetch_policy)
        return req

    def _new_task(self, principal: Principal, req: GenerationRequest, hold: int) -> dict[str, Any]:
        return {
            "task_id": f"task_{ULID()}",
            "account_id": principal.account_id,
            "key_id": principal.key_id,
            "model": req.model,
            "request": req.model_dump(mode="json", by_alias=True, exclude_none=True),
            "hold": hold,
            "estimated_time": self.estimated_times.get(req.model, DEFAULT_ESTIMATED_TIME),
            "max_active_per_key": principal.max_active_tasks or self.max_active_per_key,
        }

    @staticmethod
    def _refusal(exc: TooManyActiveTasks | NotEnoughFunds) -> RequestError:
        if isinstance(exc, TooManyActiveTasks):
            return RateLimited(
                Message(
                    "this key already has {limit} active tasks, its limit; wait for one to finish", limit=exc.limit
                ),
                retry_after=5,
            )
        return InsufficientBalance(
            Message(
                "this task costs up to {amount:g} and the account balance cannot cover it; top up and retry",
                amount=exc.needed / 1e6,
            )
        )

    def _submitted(self, task: Task) -> None:
        events.submitted(task)
        self.on_submit()

    def _replay(self, used: KeyAlreadyUsed) -> Task:
        """The task an earlier submit with the key made, or a 409 if that submit's body differs."""
        if not used.same_body:
            raise Conflict(
                Message(
                    "this {header} was used in the last 24 hours with a different request body (for task "
                    "{task_id}); send that body again to get its task, or use a new key for a new task",
                    header=HEADER,
                    task_id=used.task_id,
                ),
                code="idempotency_key_reused",
                param=HEADER,
            )
        task = self.store.tasks.get(used.task_id)
        assert task is not None, "a key's task is inserted in the key's transaction"
        return task

    def cancel(self, principal: Principal, task_id: str) -> Task:
        try:
            task = self.store.tasks.cancel(task_id, principal.account_id)
        except TaskAlreadyEnded as exc:
            raise Conflict(
                Message(
                    "task {task_id} has already ended ({status}); only pending or processing tasks can be cancelled",
                    task_id=exc.task_id,
                    status=exc.status.value,
                ),
                code="task_already_ended",
            ) from None
        if task is None:
            raise TaskNotFound(Message("no task {task_id!r} for this account", task_id=task_id))
        if task.status is Status.CANCELLED:
            events.cancelled(task.id, task.model, "cancelled by the client before it started")
        else:  # processing: its worker (or the upstream poller) stops it and records its end
            log.info(
                "task %s: the client asked to cancel it; its worker stops it",
                task.id,
                extra={"event": "cancel_requested", "task_id": task.id},
            )
        return task

    def get(self, principal: Principal, task_id: str) -> Task:
        return self._seen(self.store.tasks.shown(task_id, principal.account_id), task_id)

    async def get_on_loop(self, principal: Principal, task_id: str) -> Task:
        """``get`` for the event loop: the read does not leave it (``TaskStore.shown_async``)."""
        return self._seen(await self.store.tasks.shown_async(task_id, principal.account_id), task_id)

    def _seen(self, task: Task | None, task_id: str) -> Task:
        if task is None:  # someone else's task answers exactly like an unknown one
            raise TaskNotFound(Message("no task {task_id!r} for this account", task_id=task_id))
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
