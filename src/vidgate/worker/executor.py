"""Carry one claimed task to its end: fetch and probe inputs, render, store, settle money.

A failure that another attempt may mend (``TaskFailure.retryable``: an input server answering
503, a name that did not resolve) sends the task back to the queue, not before a backoff that
doubles with each attempt, until it has had ``max_attempts``; then it fails with a full refund.
Every other failure ends the task at once, refunded.

The task's bookkeeping (progress, completion, failure) is written through the store's guarded
updates. While the database is unavailable a progress report is skipped (the work goes on) and
an ending is retried until the database is back; should the worker stop first, the task is
left ``processing`` for its lease to run out and a sweeper to requeue it. Nothing is lost and
nothing is settled twice: a repeated write whose first try did commit matches no row.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidgate import logs
from vidgate.billing.prices import Pricing
from vidgate.catalog import GenerationRequest, stored_request
from vidgate.catalog.base import MediaRef
from vidgate.errors import MediaError, TaskCancelled, TaskFailure
from vidgate.i18n import Message
from vidgate.media.fetch import Fetched, Fetcher
from vidgate.media.probe import probe_image, probe_video
from vidgate.media.storage import Storage, StorageUnavailable
from vidgate.providers.base import InputMedia, Provider
from vidgate.providers.plan import build_job, output_seconds
from vidgate.providers.upstream.base import UpstreamJob
from vidgate.resilience import Outage, Unavailable, backoff_delay, retry_while_unavailable
from vidgate.routing.channels import Channel
from vidgate.routing.engine import NoChannel, UpstreamEngine
from vidgate.routing.local import BUSY_RETRY_S, LocalRouter
from vidgate.store import Store
from vidgate.store.tasks import Lease
from vidgate.tasks import events
from vidgate.tasks.model import Task

log = logging.getLogger(__name__)

FETCH_SHARE = 0.10  # progress 0-10 %: fetching inputs; 10-99 %: rendering; 100 %: stored
PROGRESS_EVERY_S = 0.5
#: the longest a task that failed retryably waits before its next attempt
MAX_RETRY_WAIT_S = 300.0


@dataclass
class Running:
    """A task this process is working on, what its last heartbeat said, and the pool's stop
    signal (bookkeeping waiting for the database gives up when it is set)."""

    task_id: str
    worker_id: str
    lease: Lease = Lease.HELD
    stop: threading.Event = field(default_factory=threading.Event)


def retry_wait(attempts: int, first: float) -> float:
    """Seconds before the next attempt at a task whose ``attempts``-th attempt failed
    retryably: ``first``, doubled per attempt, at most MAX_RETRY_WAIT_S."""
    return backoff_delay(attempts, first, MAX_RETRY_WAIT_S)


def kept(path: Path, kind: str) -> Fetched | None:
    """An input an earlier attempt already fetched (the fetcher only ever moves checked files
    into place), measured again; None if there is none."""
    if not path.is_file():
        return None
    return Fetched(path, probe_image(path) if kind == "image" else probe_video(path))


class Executor:
    def __init__(
        self,
        store: Store,
        storage: Storage,
        fetcher: Fetcher,
        provider: Provider,
        prices: Pricing,
        *,
        lease_seconds: float,
        result_ttl_seconds: int,
        upstream: UpstreamEngine | None = None,
        max_attempts: int = 3,
        retry_wait_seconds: float = 5.0,
        provider_name: str = "preview",
        local: LocalRouter | None = None,
    ) -> None:
        self.store = store
        self.storage = storage
        self.fetcher = fetcher
        self.provider = provider
        self.prices = prices
        self.lease_seconds = lease_seconds
        self.result_ttl_seconds = result_ttl_seconds
        self.upstream = upstream
        self.max_attempts = max_attempts
        self.retry_wait_seconds = retry_wait_seconds
        self.provider_name = provider_name  # the local provider's, for the task's metrics
        self.local = local

    def run(self, task: Task, run: Running) -> None:
        """Work on ``task`` until it ends, goes back to the queue or is no longer this worker's.
        Never raises: what could not be recorded is left for the sweeper."""
        try:
            with logs.task_context(task.id, account=task.account_id):
                self._run(task, run)
        except Unavailable as exc:
            log.warning("task %s: %s as the worker stopped; it is requeued once its lease runs out", task.id, exc)
        except Exception:
            log.exception("task %s: its bookkeeping failed; it is requeued once its lease runs out", task.id)
        finally:
            self.storage.release(task.id)  # the stored inputs stay, for another attempt anywhere

    def _run(self, task: Task, run: Running) -> None:
        worker_id = run.worker_id
        report = self._reporter(run)
        engine: Channel | None = None  # the local engine making it, if one is
        try:
            req = stored_request(task.id, task.request)
            refs = req.media_refs()
            inputs = self._fetch_inputs(task.id, refs, report)
            engine = self.local.place(task.id, worker_id, req) if self.local is not None else None
            if engine is not None:
                key, cost = self._render(task, req, inputs, report, engine=engine, worker_id=worker_id)
            elif self.upstream is not None and self.upstream.handles(req.model):
                self._send_upstream(task, req, refs, inputs, run)
                return
            elif self.local is not None and self.local.serves(req.model):
                self.local.wait_for_room(req)
                self._busy(task, run)
                return
            else:
                key, cost = self._render(task, req, inputs, report)
        except TaskCancelled:
            if run.lease is Lease.CANCEL and self._write(run, self.store.tasks.finish_cancel, task.id, worker_id):
                events.cancelled(task.id, task.model, "cancelled by the client; its worker stopped")
            else:
                log.info("task %s: no longer this worker's; stopped", task.id)
            return
        except TaskFailure as exc:
            self._failed(task, run, exc)
            return
        except StorageUnavailable as exc:  # another attempt, after a backoff, may well find it back
            log.warning("task %s: the storage %s: %s", task.id, self.storage.url, exc)
            failure = TaskFailure(
                Message("the storage of results and inputs could not be reached"),
                reason="storage_error",
                retryable=True,
            )
            self._failed(task, run, failure)
            return
        except Unavailable as exc:
            if run.stop.is_set():  # stopping: its lease runs out and a sweeper requeues it
                raise
            # the database went away mid-task (choosing an upstream channel, reading a price):
            # once it is back the task returns to the queue, the attempt not counted
            log.warning("task %s: %s; it goes back to the queue once the database is back", task.id, exc)
            if self._write(run, self.store.tasks.hand_back, task.id, worker_id):
                events.requeued(task.id, "handed_back", "the database went away mid-task; the attempt is not counted")
            return
        except Exception:
            log.exception("task %s: unexpected error", task.id)
            message = Message("the task failed because of an internal error; it was not charged")
            if self._write(
                run, self.store.tasks.fail, task.id, code="internal_error", message=message, worker_id=worker_id
            ):
                events.failed(task.id, task.model, "internal_error", message.english)
            return
        expires_at = int(time.time()) + self.result_ttl_seconds
        if self._write(
            run, self.store.tasks.complete, task.id, worker_id, cost=cost, result_path=key, expires_at=expires_at
        ):
            made_by = engine.provider if engine is not None else self.provider_name
            events.completed(task.id, task.model, made_by, created_at=task.created_at, cost=min(cost, task.hold))
        else:
            # Another worker took the task over (or it was cancelled): whoever settles it owns
            # the result at this same key, so the file is left alone.
            log.warning("task %s: finished, but it was no longer this worker's to settle", task.id)

    def _failed(self, task: Task, run: Running, exc: TaskFailure) -> None:
        """Another attempt, after a wait, for a failure that may pass; else the end, refunded."""
        if exc.retryable and task.attempts < self.max_attempts:
            wait = retry_wait(task.attempts, self.retry_wait_seconds)
            if self._write(run, self.store.tasks.retry_later, task.id, run.worker_id, not_before=time.time() + wait):
                events.requeued(
                    task.id,
                    "retry",
                    f"attempt {task.attempts} of {self.max_attempts} failed ({exc.message}); trying again in {wait:g}s",
                )
            return
        message = exc.msg
        if exc.retryable:
            message = Message(
                "{failure} (tried {attempts} times); it was not charged", failure=exc.msg, attempts=task.attempts
            )
        if self._write(run, self.store.tasks.fail, task.id, code=exc.reason, message=message, worker_id=run.worker_id):
            events.failed(task.id, task.model, exc.reason, message.english)

    def _write(self, run: Running, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A store write that ends the task's time with this worker, retried while the database
        is unavailable (each is a guarded update, safe to repeat) until the pool stops."""
        outage = Outage(f"task {run.task_id}: recording its end", logger=log)
        return retry_while_unavailable(fn, *args, stop=run.stop, outage=outage, **kwargs)

    def _render(
        self,
        task: Task,
        req: GenerationRequest,
        inputs: tuple[InputMedia, ...],
        report: Callable[[float], None],
        *,
        engine: Channel | None = None,
        worker_id: str = "",
    ) -> tuple[str, int]:
        """Make the video here, with the local engine ``engine`` (reserved for the task) or else
        the embedded provider; returns its storage key and price."""
        job = build_job(task.id, req, inputs)
        key = self.storage.result_key(task.id)
        scratch = self.storage.scratch(key)
        progress = lambda f: report(FETCH_SHARE + f * (0.99 - FETCH_SHARE))  # noqa: E731
        try:
            if engine is not None:
                assert self.local is not None
                try:
                    self.local.render(engine, job, scratch, progress, worker_id=worker_id)
                finally:
                    self.local.release(task.id, worker_id)
            else:
                self.provider.render(job, scratch, progress)
            self.storage.put_file(key, scratch)  # uploaded by its maker, whichever machine this is
        except OSError as exc:  # the local disk, not the request: another attempt may well succeed
            log.warning("task %s: the result could not be stored: %s", task.id, exc)
            raise TaskFailure(
                Message("the result could not be stored"), reason="storage_error", retryable=True
            ) from exc
        finally:
            scratch.unlink(missing_ok=True)
        return key, self.prices.price(req, job.duration)

    def _send_upstream(
        self, task: Task, req: GenerationRequest, refs: list[MediaRef], inputs: tuple[InputMedia, ...], run: Running
    ) -> None:
        """Hand the task to an upstream channel; the engine polls it from then on. The images
        go as the bytes we fetched and checked, reference videos as their checked URLs."""
        assert self.upstream is not None
        seconds = output_seconds(req, inputs)  # motion control: the measured reference, within its range
        job = UpstreamJob(
            task_id=task.id,
            request=req,
            images={ref.param: media.path.read_bytes() for ref, media in zip(refs, inputs) if ref.kind == "image"},
            video_urls={ref.param: ref.url for ref in refs if ref.kind == "video"},
            reference_seconds=seconds if req.seconds is None else None,
        )
        try:
            self.upstream.send(job, run.worker_id, quote=self.prices.price(req, seconds), stop=run.stop)
        except NoChannel as exc:
            if self._write(run, self.store.upstream.defer, task.id, run.worker_id, time.time() + exc.retry_after):
                events.requeued(
                    task.id, "no_channel", f"{exc}; trying again in {exc.retry_after:g}s", level=logging.WARNING
                )

    def _busy(self, task: Task, run: Running) -> None:
        """Only local engines serve the model and none has room: back to the queue for a moment."""
        if self._write(run, self.store.upstream.defer, task.id, run.worker_id, time.time() + BUSY_RETRY_S):
            events.requeued(
                task.id, "no_channel", f"every local engine for {task.model} is busy; trying again in {BUSY_RETRY_S:g}s"
            )

    def _fetch_inputs(
        self, task_id: str, refs: list[MediaRef], report: Callable[[float], None]
    ) -> tuple[InputMedia, ...]:
        """Fetch (and measure) every input once per task: a later attempt at the same task, after
        its worker died, finds them in the storage (a local copy is kept while the task runs,
        for the probe and the renderer)."""
        if not refs:
            return ()
        inputs = []
        for n, ref in enumerate(refs):
            name = f"{n:02d}-{ref.role}.{'bin' if ref.kind == 'image' else 'video'}"
            try:
                fetched = self._input(self.storage.input_key(task_id, name), ref)
            except MediaError as exc:
                raise MediaError(
                    Message("{param}: {failure}", param=ref.param, failure=exc.msg),
                    reason=exc.reason,
                    retryable=exc.retryable,
                ) from None
            inputs.append(
                InputMedia(role=ref.role, path=fetched.path, info=fetched.info, name=ref.name, index=ref.index)
            )
            report(FETCH_SHARE * (n + 1) / len(refs))
        return tuple(inputs)

    def _input(self, key: str, ref: MediaRef) -> Fetched:
        """One input: the local copy, else the stored one (an earlier attempt's, maybe on another
        machine), else fetched from its URL and stored for the next attempt."""
        local = self.storage.working_copy(key)
        found = kept(local, ref.kind)
        if found is None and self.storage.download(key, local):
            found = kept(local, ref.kind)
        if found is None:
            found = self.fetcher.fetch(ref.url, ref.kind, local)
            self.storage.put_file(key, local, keep=True)
        return found

    def _reporter(self, run: Running) -> Callable[[float], None]:
        """Progress reports are written at most twice a second and double as heartbeats. Once
        the task is no longer this worker's to finish (cancelled by the client, timed out, or
        handed back), the next report raises TaskCancelled and the work stops there."""
        last = {"at": time.monotonic(), "pct": 0}

        def report(fraction: float) -> None:
            if run.lease is not Lease.HELD:
                raise TaskCancelled()
            pct = max(0, min(99, int(fraction * 100)))
            now = time.monotonic()
            if pct == last["pct"] or now - last["at"] < PROGRESS_EVERY_S:
                return
            last.update(at=now, pct=pct)
            try:
                run.lease = self.store.tasks.heartbeat(run.task_id, run.worker_id, self.lease_seconds, progress=pct)
            except Unavailable:
                return  # progress is not worth stopping for; the heartbeat thread keeps trying
            if run.lease is not Lease.HELD:
                raise TaskCancelled()

        return report
