"""The webhook outbox: events, their deliveries and every attempt at one.

Recording. Every status change of a task RETURNs :data:`TOLD` (whether the task has a
``callback_url`` or its account an enabled endpoint); for those that are, it calls
:func:`record` in the same transaction: the event (with the task as it is at that moment) and one
delivery per target (the task's ``callback_url``; each enabled endpoint of its account
subscribed to the event's type) are committed with the change or not at all, so a crash
between the two cannot lose one. A task no one is to hear of costs an indexed lookup within the
statement that changes it, and nothing is written. After the commit the writer tells the
senders (``WEBHOOKS`` on ``Database.notify``: this process at once, others by PostgreSQL NOTIFY).

Sending (``webhooks.sender``). A sender claims due deliveries with a guarded ``UPDATE`` (on
PostgreSQL of rows it locked with ``SKIP LOCKED``) that moves their next attempt to the end of
its lease: one sender per delivery at a time, and a delivery whose sender died is due again
when its lease runs out. Each attempt is recorded, with the delivery's next time, its success
or its end, by the sender that holds it only.
"""

from __future__ import annotations

import time
import urllib.parse
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from ulid import ULID

from vidgate.store.db import WEBHOOKS, Database
from vidgate.store.tables import (
    P,
    brief_columns,
    brief_of_row,
    tasks,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
    webhook_events,
)

TASK_EVENTS = ("task.processing", "task.completed", "task.failed", "task.cancelled")
#: OpenAI's video API's events, for account endpoints that subscribe to them (never a task's
#: callback_url): a task that completed, or failed or was cancelled; their data is the video object
VIDEO_EVENTS = ("video.completed", "video.failed")
EVENT_TYPES = TASK_EVENTS + VIDEO_EVENTS
_VIDEO_EVENT = {"completed": "video.completed", "failed": "video.failed", "cancelled": "video.failed"}
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
CHUNK = 500  # task ids per IN (...) list
#: the task's columns an event keeps: what the task object (``tasks.view``) shows
SNAPSHOT = (
    tasks.c.id,
    tasks.c.account_id,
    tasks.c.model,
    tasks.c.status,
    tasks.c.progress,
    tasks.c.hold,
    tasks.c.cost,
    tasks.c.estimated_time,
    tasks.c.created_at,
    tasks.c.started_at,
    tasks.c.completed_at,
    tasks.c.result_path,
    tasks.c.expires_at,
    tasks.c.error_code,
    tasks.c.error_message,
    tasks.c.attempts,
)
_HAS_ENDPOINT = (
    sa.select(webhook_endpoints.c.id)
    .where(webhook_endpoints.c.account_id == tasks.c.account_id, webhook_endpoints.c.enabled.is_(True))
    .exists()
)
#: whether anyone is to hear of a task's status change: what each status change RETURNs, so that
#: :func:`record` is called only when there is (no further statement otherwise)
TOLD = sa.or_(tasks.c.callback_url.is_not(None), _HAS_ENDPOINT).label("told")
_TOLD = (
    sa.select(*SNAPSHOT, tasks.c.callback_url, tasks.c.openai_fields, *brief_columns())
    .where(tasks.c.id.in_(P("ids", expanding=True)), TOLD)
    .order_by(tasks.c.id)
)


def target_of(endpoint_id: str | None, url: str) -> str:
    """The sender's unit of concurrency: the endpoint, or a callback URL's origin."""
    if endpoint_id is not None:
        return endpoint_id
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()[:300]


def record(conn: Connection, task_ids: Sequence[str]) -> int:
    """In the transaction that just changed these tasks' status: their events and deliveries.
    Returns how many deliveries were recorded."""
    rows = [
        row
        for i in range(0, len(task_ids), CHUNK)
        for row in conn.execute(_TOLD, {"ids": list(task_ids[i : i + CHUNK])}).mappings().all()
    ]
    if not rows:
        return 0
    endpoints: dict[str, list[Any]] = defaultdict(list)
    for endpoint in conn.execute(
        sa.select(
            webhook_endpoints.c.id, webhook_endpoints.c.account_id, webhook_endpoints.c.url, webhook_endpoints.c.events
        )
        .where(
            webhook_endpoints.c.account_id.in_({r["account_id"] for r in rows}),
            webhook_endpoints.c.enabled.is_(True),
        )
        .order_by(webhook_endpoints.c.id)
    ):
        endpoints[endpoint.account_id].append(endpoint)
    now = time.time()
    events: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    for row, kind, targets in _targets(rows, endpoints):
        event_id = f"msg_{ULID()}"
        snapshot = {column.name: row[column.name] for column in SNAPSHOT}
        if kind in VIDEO_EVENTS:  # what the video object shows besides the task object's
            snapshot |= {"openai_fields": row["openai_fields"], "brief": brief_of_row(row)}
        events.append(
            {"id": event_id, "account_id": row["account_id"], "task_id": row["id"], "type": kind, "task": snapshot}
        )
        deliveries += [
            {
                "id": f"whd_{ULID()}",
                "event_id": event_id,
                "account_id": row["account_id"],
                "endpoint_id": endpoint_id,
                "url": url,
                "target": target_of(endpoint_id, url),
                "state": PENDING,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for endpoint_id, url in targets
        ]
    if deliveries:
        conn.execute(sa.insert(webhook_events), [{**e, "created_at": now} for e in events])
        conn.execute(sa.insert(webhook_deliveries), deliveries)
        Database.notify_after_commit(conn, WEBHOOKS)
    return len(deliveries)


def _targets(rows: list[Any], endpoints: dict[str, list[Any]]) -> list[tuple[Any, str, list[tuple[str | None, str]]]]:
    """Each event the status changes of ``rows`` make, with where it goes: ``task.<status>`` to
    the task's callback_url and the endpoints subscribed to it, ``video.*`` to the endpoints
    subscribed to that."""
    out: list[tuple[Any, str, list[tuple[str | None, str]]]] = []
    for row in rows:
        kind = f"task.{row['status']}"
        if kind in TASK_EVENTS:
            targets: list[tuple[str | None, str]] = [(None, row["callback_url"])] if row["callback_url"] else []
            targets += [(e.id, e.url) for e in endpoints[row["account_id"]] if kind in e.events]
            if targets:
                out.append((row, kind, targets))
        video = _VIDEO_EVENT.get(row["status"])
        if video is not None:
            subscribed: list[tuple[str | None, str]] = [
                (e.id, e.url) for e in endpoints[row["account_id"]] if video in e.events
            ]
            if subscribed:
                out.append((row, video, subscribed))
    return out


@dataclass(frozen=True)
class Due:
    """A delivery a sender holds: what to send, where, and how many attempts came before."""

    id: str
    event_id: str
    account_id: str
    endpoint_id: str | None
    url: str
    target: str
    attempts: int
    type: str
    task: dict[str, Any]
    body: str | None
    created_at: float


@dataclass(frozen=True)
class Attempt:
    at: float
    http_status: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True)
class Delivery:
    id: str
    event_id: str
    type: str
    task_id: str
    endpoint_id: str | None
    url: str
    state: str
    attempts: list[Attempt]
    next_attempt_at: float | None
    created_at: float


class OutboxStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- the sender's ----------------------------------------------------------------------
    def claim(self, sender: str, *, free: dict[str, int] | None, room: int, per_target: int, lease: float) -> list[Due]:
        """Up to ``room`` due deliveries, at most ``per_target`` of one target (fewer where
        ``free`` says this sender has fewer places left for it), each held by ``sender`` for
        ``lease`` seconds. Deliveries another sender holds or is claiming are skipped."""
        now = time.time()
        free = free or {}
        full = [target for target, places in free.items() if places <= 0]
        due = (webhook_deliveries.c.state == PENDING, webhook_deliveries.c.next_attempt_at <= now)
        with self.db.read() as conn:
            candidates = conn.execute(
                sa.select(webhook_deliveries.c.id, webhook_deliveries.c.target)
                .where(*due, webhook_deliveries.c.target.not_in(full or [""]))
                .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.id)
                .limit(max(room * 4, 50))
            ).all()
        picked: list[str] = []
        taken: dict[str, int] = defaultdict(int)
        for candidate in candidates:
            if len(picked) >= room:
                break
            if taken[candidate.target] < min(per_target, free.get(candidate.target, per_target)):
                taken[candidate.target] += 1
                picked.append(candidate.id)
        if not picked:
            return []
        locked = (
            sa.select(webhook_deliveries.c.id)
            .where(webhook_deliveries.c.id.in_(picked), *due)
            .with_for_update(skip_locked=True)
        )
        with self.db.write() as conn:
            rows = conn.execute(
                sa.update(webhook_deliveries)
                .where(webhook_deliveries.c.id.in_(locked), *due)
                .values(leased_by=sender, lease_until=now + lease, next_attempt_at=now + lease, updated_at=now)
                .returning(*webhook_deliveries.c)
            ).all()
            if not rows:
                return []
            events = {
                e.id: e
                for e in conn.execute(
                    sa.select(webhook_events).where(webhook_events.c.id.in_({r.event_id for r in rows}))
                )
            }
        return [
            Due(
                id=r.id,
                event_id=r.event_id,
                account_id=r.account_id,
                endpoint_id=r.endpoint_id,
                url=r.url,
                target=r.target,
                attempts=int(r.attempts),
                type=events[r.event_id].type,
                task=dict(events[r.event_id].task),
                body=events[r.event_id].body,
                created_at=events[r.event_id].created_at,
            )
            for r in sorted(rows, key=lambda r: (r.created_at, r.id))
        ]

    def keep_body(self, event_id: str, body: str) -> str:
        """The event's body: ``body`` if none was stored yet, else the one stored (which every
        sender then sends, byte for byte, on every attempt)."""
        with self.db.write() as conn:
            conn.execute(
                sa.update(webhook_events)
                .where(webhook_events.c.id == event_id, webhook_events.c.body.is_(None))
                .values(body=body)
            )
            return str(
                conn.execute(sa.select(webhook_events.c.body).where(webhook_events.c.id == event_id)).scalar_one()
            )

    def finish(
        self, delivery_id: str, sender: str, attempt: Attempt | None, *, retry_at: float | None, state: str
    ) -> bool:
        """Record ``attempt`` (None: nothing was sent) and what follows it: ``state`` pending
        with ``retry_at``, delivered, or failed for good. Only while ``sender`` holds it."""
        now = time.time()
        held = (
            webhook_deliveries.c.id == delivery_id,
            webhook_deliveries.c.leased_by == sender,
            webhook_deliveries.c.state == PENDING,
        )
        values: dict[str, Any] = {
            "state": state,
            "next_attempt_at": retry_at if state == PENDING else None,
            "leased_by": None,
            "lease_until": None,
            "updated_at": now,
        }
        if attempt is not None:
            values |= {
                "attempts": webhook_deliveries.c.attempts + 1,
                "last_status": attempt.http_status,
                "last_error": attempt.error[:500] if attempt.error else None,
            }
        with self.db.write() as conn:
            if conn.execute(sa.update(webhook_deliveries).where(*held).values(**values)).rowcount != 1:
                return False
            if attempt is not None:
                conn.execute(
                    sa.insert(webhook_attempts).values(
                        delivery_id=delivery_id,
                        attempted_at=attempt.at,
                        http_status=attempt.http_status,
                        error=attempt.error[:500] if attempt.error else None,
                        duration_ms=attempt.duration_ms,
                    )
                )
        return True

    def next_due(self) -> float | None:
        """When the earliest pending delivery is due (None: none is pending)."""
        with self.db.read() as conn:
            return conn.execute(
                sa.select(sa.func.min(webhook_deliveries.c.next_attempt_at)).where(
                    webhook_deliveries.c.state == PENDING
                )
            ).scalar()

    # --- the account's ---------------------------------------------------------------------
    def deliveries(self, account_id: str, endpoint_id: str | None, *, limit: int = 100) -> list[Delivery]:
        """The newest deliveries to the endpoint (None: to the account's callback URLs), with
        every attempt at each, newest first."""
        d, e = webhook_deliveries, webhook_events
        to = d.c.endpoint_id.is_(None) if endpoint_id is None else d.c.endpoint_id == endpoint_id
        with self.db.read() as conn:
            rows = (
                conn.execute(
                    sa.select(d, e.c.type, e.c.task_id)
                    .join(e, e.c.id == d.c.event_id)
                    .where(d.c.account_id == account_id, to)
                    .order_by(d.c.id.desc())
                    .limit(limit)
                )
                .mappings()
                .all()
            )
            attempts: dict[str, list[Attempt]] = defaultdict(list)
            if rows:
                for a in conn.execute(
                    sa.select(webhook_attempts)
                    .where(webhook_attempts.c.delivery_id.in_([r["id"] for r in rows]))
                    .order_by(webhook_attempts.c.id)
                ):
                    attempts[a.delivery_id].append(Attempt(a.attempted_at, a.http_status, a.error, a.duration_ms))
        return [
            Delivery(
                id=r["id"],
                event_id=r["event_id"],
                type=r["type"],
                task_id=r["task_id"],
                endpoint_id=r["endpoint_id"],
                url=r["url"],
                state=r["state"],
                attempts=attempts[r["id"]],
                next_attempt_at=r["next_attempt_at"],
                created_at=r["created_at"],
            )
            for r in rows
        ]

    def redeliver(self, delivery_id: str, account_id: str, endpoint_id: str | None) -> bool:
        """Send the delivery again now, with the same webhook-id and body (and again on the
        schedule should that fail). False: no such delivery to this endpoint of the account."""
        d = webhook_deliveries
        to = d.c.endpoint_id.is_(None) if endpoint_id is None else d.c.endpoint_id == endpoint_id
        now = time.time()
        with self.db.write() as conn:
            updated = conn.execute(
                sa.update(d)
                .where(d.c.id == delivery_id, d.c.account_id == account_id, to)
                .values(
                    state=PENDING, attempts=0, next_attempt_at=now, leased_by=None, lease_until=None, updated_at=now
                )
            ).rowcount
            if updated:
                Database.notify_after_commit(conn, WEBHOOKS)
        return updated == 1
