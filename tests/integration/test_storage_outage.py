"""The worker's side of an S3 bucket: a bucket that goes away while tasks are made sends them
back to the queue (after a backoff) instead of failing or losing them, and no loop of the
process ends; the janitor deletes an expired task's objects from the bucket."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from tests.integration.test_task_lifecycle import expire_now, wait_for
from tests.object_store import S3Server
from tests.server import Running, running_server


@pytest.fixture()
def on_s3(s3_server: S3Server, tmp_path: Path) -> Iterator[tuple[Running, str]]:
    bucket = s3_server.new_bucket()
    settings = make_settings(
        tmp_path,
        provider="instant",
        storage_url=f"s3://{bucket}/outage",
        s3_endpoint_url=s3_server.endpoint,
        retry_backoff_seconds=2.0,
        janitor_interval_seconds=0.2,
    )
    with running_server(settings) as running:
        yield running, bucket


def attempts(running: Running, task_id: str) -> int:
    task = running.store.tasks.get(task_id)
    assert task is not None
    return task.attempts


def test_a_bucket_away_mid_work_sends_tasks_back_and_they_complete_once_it_is_back(
    on_s3: tuple[Running, str], s3_server: S3Server
) -> None:
    running, bucket = on_s3
    account, key = running.new_account("1")
    s3_server.remove_bucket(bucket)
    with running.client(key) as client:
        r = client.post("/v1/videos/generations", json={"model": "kling-v2-6", "prompt": "a cat"})
        task_id = r.json()["data"][0]["task_id"]
        deadline = time.monotonic() + 20
        while (
            attempts(running, task_id) < 1 or client.get(f"/v1/tasks/{task_id}").json()["data"]["status"] != "pending"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        s3_server.client().create_bucket(Bucket=bucket)  # the bucket is back before the last attempt
        task = wait_for(client, task_id, {"completed", "failed"})
        assert task["status"] == "completed", task
        assert httpx.get(task["result"]["videos"][0]["url"][0]).status_code == 200
        ready = client.get("/readyz").json()["checks"]["loops"]
    assert ready["ok"] is True and all(loop["restarts"] == 0 for loop in ready["loops"])
    assert running.balance(account) == 1_000_000 - task["cost"] * 1_000_000


def test_the_janitor_deletes_an_expired_tasks_objects_from_the_bucket(
    on_s3: tuple[Running, str], s3_server: S3Server
) -> None:
    running, bucket = on_s3
    _, key = running.new_account("1")
    with running.client(key) as client:
        task_id = client.post("/v1/videos/generations", json={"model": "kling-v2-6", "prompt": "a"}).json()["data"][0][
            "task_id"
        ]
        task = wait_for(client, task_id, {"completed"})
        url = task["result"]["videos"][0]["url"][0]
        assert [k for k in s3_server.keys(bucket) if task_id in k] == [
            f"outage/{urllib.parse.unquote(urllib.parse.urlsplit(url).path).removeprefix('/files/')}"
        ]
        expire_now(running, task_id)
        deadline = time.monotonic() + 10
        while [k for k in s3_server.keys(bucket) if task_id in k]:
            assert time.monotonic() < deadline, "the janitor did not delete the result"
            time.sleep(0.1)
        assert httpx.get(url).status_code == 410  # its link, still within its expiry, finds nothing
        assert client.get(f"/v1/tasks/{task_id}").json()["data"]["status"] == "completed"  # the record stays
