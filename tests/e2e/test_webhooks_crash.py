"""Webhooks survive kill -9: real worker processes on the real PostgreSQL, a real receiver. The
first worker finishes the tasks (recording their events with each status change) and is
killed with SIGKILL while its sender is in the middle of delivering them; a worker started
afterwards delivers every event, each verified with ``standardwebhooks``."""

from __future__ import annotations

import json
import signal
import time
from collections import defaultdict
from pathlib import Path

import sqlalchemy as sa
from ulid import ULID

from tests.databases import fresh_postgres
from tests.processes import Processes
from tests.receiver import Answer, receiver
from vidgate.config import load_settings
from vidgate.store.tables import tasks
from vidgate.webhooks.service import secrets_for

TASKS = 4
REQUEST = {"model": "Omni-Flash-Ext", "prompt": "webhooks", "duration": 4}


def test_events_recorded_before_a_kill_are_delivered_after_restart(tmp_path: Path) -> None:
    hanging = True
    with fresh_postgres() as url, receiver() as rec:
        rec.answer = lambda n, r: Answer(200, delay=60.0) if hanging else Answer(200)
        cluster = Processes(
            url,
            tmp_path,
            VIDGATE_WEBHOOK_TIMEOUT_SECONDS="2",
            VIDGATE_WEBHOOK_RETRY_SCALE="0.01",
            VIDGATE_FETCH_ALLOW_HOSTS="127.0.0.1",
            VIDGATE_PUBLIC_URL="http://vidgate.test",
        )
        try:
            account = cluster.store.accounts.create_account("hooks", 10_000_000)
            key, _ = cluster.store.accounts.create_key(account.id)
            ids = [f"task_{ULID()}" for _ in range(TASKS)]
            for task_id in ids:
                cluster.store.tasks.insert_with_hold(
                    task_id=task_id,
                    account_id=account.id,
                    key_id=key.id,
                    model=REQUEST["model"],
                    request={**REQUEST, "callback_url": rec.url},
                    hold=1000,
                    estimated_time=5,
                )
            first = cluster.vidgate("worker")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with cluster.store.db.read() as conn:
                    ended = conn.execute(
                        sa.select(sa.func.count()).where(tasks.c.id.in_(ids), tasks.c.status == "completed")
                    ).scalar_one()
                if ended == TASKS and rec.received:
                    break
                time.sleep(0.05)
            else:
                raise AssertionError(f"the first worker did not finish; see {tmp_path}/worker-0.log")
            first.send_signal(signal.SIGKILL)  # mid-delivery: its sender holds deliveries it never finished
            first.wait()
            hanging = False
            cluster.vidgate("worker")
            secret = secrets_for(load_settings(data_dir=tmp_path), cluster.store).default_secret(account.id)
            expected = {(task_id, kind) for task_id in ids for kind in ("task.processing", "task.completed")}
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                seen = {(p["data"]["id"], p["type"]) for p in rec.verified(secret)}
                if seen >= expected:
                    break
                time.sleep(0.2)
            assert seen == expected
            ids_of: dict[tuple[str, str], set[str]] = defaultdict(set)
            for r in rec.received:
                payload = json.loads(r.body)
                ids_of[(payload["data"]["id"], payload["type"])].add(r.headers["webhook-id"])
            assert all(len(webhook_ids) == 1 for webhook_ids in ids_of.values())  # a retry is the same message
        finally:
            cluster.close()
