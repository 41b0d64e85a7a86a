"""The webhook sender: every API and worker process runs one, and together they send what the
outbox (``store.outbox``) holds, each delivery by one sender at a time.

One thread runs an asyncio loop: it claims due deliveries while it has room (at most
``concurrency`` in flight, at most ``per_target`` to one endpoint or callback origin, so a slow
or failing receiver holds a few places and never delays the others, nor any task), sends each as
a task of its own, records the attempt and schedules the next. It wakes when a delivery is
recorded (in this process at once; from others by PostgreSQL NOTIFY, heard by a second loop)
and polls every ``POLL_S`` meanwhile. A database fault never ends it: the claim waits and tries
again (``Outage``), and a delivery whose attempt could not be recorded is claimed again when its
lease runs out, so every event is sent at least once.

Each attempt: the target is checked again (``media.fetch.webhook_target``: http or https, every
address it resolves to public unless ``VIDGATE_FETCH_ALLOW_HOSTS`` exempts it) and sent to the
address checked; a refused target is an attempt that failed with the reason, nothing sent.
The body is rendered once per event and kept, so every attempt sends the same bytes with the
same ``webhook-id``; ``webhook-timestamp`` and ``webhook-signature`` are made per attempt
(``standardwebhooks``). 2xx is delivered; 410 disables the endpoint; a timeout, a connection
error or any other answer (a redirect too: none is followed) is retried on ``SCHEDULE``.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import os
import random
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks import Webhook
from ulid import ULID

from vidgate.media.addresses import IPAddress, host_address, normalise_host
from vidgate.media.fetch import FetchPolicy, TargetRefused, webhook_target
from vidgate.resilience import LoopHealth, Outage, Supervisor, Unavailable
from vidgate.store import Store
from vidgate.store.db import WEBHOOKS
from vidgate.store.outbox import DELIVERED, FAILED, PENDING, Attempt, Due
from vidgate.webhooks.secrets import Secrets

log = logging.getLogger(__name__)

#: the Standard Webhooks retry schedule: the wait after each failed attempt (the first attempt
#: is at once); after the last, the delivery has failed
SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 50400.0, 72000.0, 86400.0)
JITTER = 0.1  # each wait is stretched or shortened by up to this fraction
MAX_RETRY_AFTER = 86400.0
POLL_S = 1.0


@dataclass(frozen=True)
class SenderConfig:
    concurrency: int = 32
    per_target: int = 4
    timeout: float = 15.0
    retry_scale: float = 1.0  # multiplies SCHEDULE (tests shrink it)


def next_wait(
    attempts: int, scale: float, retry_after: float | None, rand: Callable[[], float] = random.random
) -> float | None:
    """Seconds until the next attempt after ``attempts`` failed ones (None: give up): the
    schedule's (scaled, with jitter), or the receiver's Retry-After if that is longer."""
    if attempts > len(SCHEDULE):
        return None
    wait = SCHEDULE[attempts - 1] * scale * (1 + JITTER * (2 * rand() - 1))
    return max(wait, min(retry_after, MAX_RETRY_AFTER)) if retry_after is not None else wait


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """A Retry-After header (seconds or an HTTP date) as seconds from ``now``; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now) if when.tzinfo else None


class WebhookSender:
    def __init__(
        self,
        store: Store,
        secrets: Secrets,
        policy: FetchPolicy,
        render: Callable[[Due], dict[str, Any]],
        config: SenderConfig,
    ) -> None:
        self.store = store
        self.secrets = secrets
        self.policy = policy
        self.render = render
        self.config = config
        self.id = f"{socket.gethostname()}:{os.getpid()}:webhooks:{str(ULID())[-6:]}"
        self._stop = threading.Event()
        self._loops = Supervisor(self._stop, prefix="vidgate-webhooks")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._in_flight: dict[str, int] = defaultdict(int)
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self.store.db.on_notify(WEBHOOKS, self.wake)
        self._loops.start("sender", self._run)
        self._loops.start("listener", self.store.db.listen, WEBHOOKS, self._stop, self.wake)

    def wake(self) -> None:
        """Deliveries were recorded: claim them now rather than at the next poll."""
        loop, wakeup = self._loop, self._wakeup
        if loop is not None and wakeup is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (stopping)
                loop.call_soon_threadsafe(wakeup.set)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop claiming; deliveries in flight are abandoned, to be sent again once their lease
        runs out (by this process's successor or another)."""
        self._stop.set()
        self.wake()
        self._loops.join(timeout)

    def health(self) -> list[LoopHealth]:
        return self._loops.health()

    # --- the loop ----------------------------------------------------------------------------
    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop, self._wakeup = asyncio.get_running_loop(), asyncio.Event()
        # a thread per delivery in flight for its blocking parts (the database, name lookups), so
        # that a slow one never holds up another's
        self._loop.set_default_executor(ThreadPoolExecutor(self.config.concurrency + 4, "vidgate-webhooks-io"))
        outage = Outage("webhook sender: claiming deliveries", logger=log)
        timeout = httpx.Timeout(self.config.timeout)
        limits = httpx.Limits(max_connections=self.config.concurrency * 2)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, limits=limits, trust_env=False) as client:
            try:
                while not self._stop.is_set():
                    wait = POLL_S
                    room = self.config.concurrency - len(self._tasks)
                    if room > 0:
                        try:
                            due = await asyncio.to_thread(self._claim, room)
                        except Exception as exc:  # noqa: BLE001 - wait, then claim again
                            due, wait = [], outage.failed(exc)
                        else:
                            outage.recovered()
                        for delivery in due:
                            self._in_flight[delivery.target] += 1
                            task = asyncio.create_task(self._deliver(client, delivery))
                            self._tasks.add(task)
                            task.add_done_callback(self._done(delivery.target))
                        if len(due) == room:
                            wait = 0
                    if wait:
                        self._wakeup.clear()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wakeup.wait(), wait)
            finally:
                for task in self._tasks:
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                self._loop = self._wakeup = None

    def _claim(self, room: int) -> list[Due]:
        free = {target: self.config.per_target - n for target, n in self._in_flight.items() if n}
        lease = 2 * self.config.timeout + 5.0  # the attempt, and the bookkeeping around it
        return self.store.outbox.claim(self.id, free=free, room=room, per_target=self.config.per_target, lease=lease)

    def _done(self, target: str) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            self._in_flight[target] -= 1
            if self._in_flight[target] <= 0:
                del self._in_flight[target]
            if self._wakeup is not None:
                self._wakeup.set()  # a place is free

        return done

    # --- one attempt -------------------------------------------------------------------------
    async def _deliver(self, client: httpx.AsyncClient, due: Due) -> None:
        try:
            await self._attempt(client, due)
        except asyncio.CancelledError:
            raise
        except Unavailable as exc:  # the database: its lease runs out and it is sent again
            log.warning("webhook delivery %s: %s; it is retried when its lease runs out", due.id, exc)
        except Exception:
            log.exception("webhook delivery %s: not recorded; it is retried when its lease runs out", due.id)

    async def _attempt(self, client: httpx.AsyncClient, due: Due) -> None:
        target = await asyncio.to_thread(self.secrets.target_of, due)
        if target.gone is not None:  # the endpoint was deleted or disabled: nothing to send
            attempt = Attempt(time.time(), None, f"not sent: {target.gone}", 0)
            await asyncio.to_thread(self.store.outbox.finish, due.id, self.id, attempt, retry_at=None, state=FAILED)
            return
        body = due.body if due.body is not None else await asyncio.to_thread(self._keep_body, due)
        started = time.time()
        status, error, retry_after = await self._send(client, due, target.url, target.secret, body)
        attempt = Attempt(started, status, error, round((time.time() - started) * 1000))
        if status is not None and 200 <= status < 300:
            state, retry_at = DELIVERED, None
        elif status == 410:  # the receiver wants no more: the endpoint is disabled, a callback given up
            if due.endpoint_id is not None:
                await asyncio.to_thread(self.store.webhooks.disable, due.endpoint_id, "the receiver answered 410 Gone")
            state, retry_at = FAILED, None
        else:
            wait = next_wait(due.attempts + 1, self.config.retry_scale, retry_after)
            state, retry_at = (FAILED, None) if wait is None else (PENDING, time.time() + wait)
        await asyncio.to_thread(self.store.outbox.finish, due.id, self.id, attempt, retry_at=retry_at, state=state)
        if retry_at is not None and self._loop is not None and self._wakeup is not None:
            self._loop.call_later(max(0.0, retry_at - time.time()), self._wakeup.set)  # due before the next poll

    def _keep_body(self, due: Due) -> str:
        body = {
            "type": due.type,
            "timestamp": datetime.fromtimestamp(due.created_at, UTC).isoformat().replace("+00:00", "Z"),
            "data": self.render(due),
        }
        return self.store.outbox.keep_body(due.event_id, json.dumps(body, separators=(",", ":")))

    async def _send(
        self, client: httpx.AsyncClient, due: Due, url: str, secret: str, body: str
    ) -> tuple[int | None, str | None, float | None]:
        """POST ``body``: (HTTP status, None, Retry-After) or (None, what went wrong, None)."""
        try:
            parsed, addresses = await asyncio.to_thread(webhook_target, url, self.policy)
        except TargetRefused as exc:
            return None, f"not sent: {exc}", None
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": "vidgate-webhooks",
            "webhook-id": due.event_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(due.event_id, now, body),
        }
        try:
            response = await asyncio.wait_for(self._post(client, parsed, addresses, headers, body), self.config.timeout)
        except TimeoutError:
            return None, f"no answer within {self.config.timeout:g} s", None
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, None
        return response.status_code, None, retry_after_seconds(response.headers.get("retry-after"), time.time())

    async def _post(
        self, client: httpx.AsyncClient, url: httpx.URL, addresses: list[IPAddress], headers: dict[str, str], body: str
    ) -> httpx.Response:
        """To the first of the checked ``addresses`` that takes the connection, naming the URL's
        host (Host header, TLS SNI and certificate), so the name is not resolved a second time."""
        failure: Exception | None = None
        extensions: dict[str, Any] = {}
        if url.scheme == "https" and host_address(normalise_host(url.host)) is None:
            extensions["sni_hostname"] = url.raw_host.decode("ascii")
        for address in addresses:
            request = client.build_request(
                "POST",
                url.copy_with(host=str(address)),
                headers={**headers, "host": url.netloc.decode("ascii")},
                content=body.encode(),
                extensions=extensions,
            )
            try:
                response = await client.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                failure = exc
                continue
            await response.aclose()  # the answer's body is not read
            return response
        assert failure is not None
        raise failure
