"""Money under concurrency, over real HTTP against a real server on each backend: 50 submits at
once against a balance that covers exactly 10 tasks."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from tests.databases import fresh_database
from tests.server import running_server

TASK = {"model": "kling-v2-6", "prompt": "a cat", "duration": 5}  # 0.20 in the default table
SUBMITS = 50


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_fifty_simultaneous_submits_against_ten_tasks_worth_of_balance(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        settings = make_settings(tmp_path, database_url=url, workers=False)
        with running_server(settings) as server:
            account, key = server.new_account(balance="2.00")
            start = threading.Barrier(SUBMITS)
            limits = httpx.Limits(max_connections=SUBMITS, max_keepalive_connections=SUBMITS)
            with httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60, limits=limits
            ) as client:

                def submit(_: int) -> httpx.Response:
                    start.wait()
                    return client.post("/v1/videos/generations", json=TASK)

                with ThreadPoolExecutor(SUBMITS) as pool:
                    answers = list(pool.map(submit, range(SUBMITS)))

            statuses = [r.status_code for r in answers]
            assert statuses.count(200) == 10 and statuses.count(402) == 40, statuses
            assert {r.json()["error"]["code"] for r in answers if r.status_code == 402} == {"insufficient_balance"}
            assert server.balance(account) == 0
            kinds = [e["kind"] for e in server.store.accounts.ledger_entries(account)]
            assert kinds == ["topup"] + ["hold"] * 10
            assert server.store.accounts.verify_ledger() == []
