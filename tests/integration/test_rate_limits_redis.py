"""Rate limits shared through Redis: two real ``vidgate serve`` processes on one PostgreSQL
database hold a key to its per-minute limit together, and ``Retry-After`` is right to the second."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from tests.databases import fresh_postgres
from tests.server import free_port
from vidgate.errors import RateLimited
from vidgate.limits import RedisRateLimiter
from vidgate.store import Store

REDIS_URL = os.environ.get("VIDGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LIMIT = 12  # per minute: one request every 5 s once the burst is spent
UNKNOWN_TASK = "/v1/tasks/task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ"


def unique_prefix() -> str:
    return f"vidgate-test-{uuid.uuid4().hex[:12]}:"


def test_limiters_sharing_redis_share_one_limit_per_key() -> None:
    prefix = unique_prefix()
    one = RedisRateLimiter.from_url(REDIS_URL, LIMIT, prefix=prefix)
    two = RedisRateLimiter.from_url(REDIS_URL, LIMIT, prefix=prefix)
    try:
        allowed = 0
        for n in range(LIMIT + 5):
            try:
                (one if n % 2 else two).check("key_a")
                allowed += 1
            except RateLimited as exc:
                assert exc.retry_after == 5  # the burst took well under a second of the 5 s interval
        assert allowed == LIMIT
        one.check("key_b")  # keys are independent
        one.check("key_c", per_minute=1)  # a per-call (per-account) limit
        with pytest.raises(RateLimited) as err:
            two.check("key_c", per_minute=1)
        assert err.value.retry_after == 60
    finally:  # what they wrote in Redis expires within the minute
        one.close()
        two.close()


def test_an_unreachable_redis_falls_back_to_this_process_limit() -> None:
    limiter = RedisRateLimiter.from_url(f"redis://127.0.0.1:{free_port()}/0", 2)
    limiter.check("k")
    limiter.check("k")
    with pytest.raises(RateLimited):
        limiter.check("k")


def test_two_api_processes_sharing_redis_hold_a_burst_to_the_limit(tmp_path: Path) -> None:
    with fresh_postgres() as database_url:
        store = Store.from_url(database_url)
        try:
            account = store.accounts.create_account("burst", 1_000_000)
            _, key = store.accounts.create_key(account.id)
        finally:
            store.close()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")},
            "VIDGATE_DATABASE_URL": database_url,
            "VIDGATE_REDIS_URL": REDIS_URL,
            "VIDGATE_REDIS_PREFIX": unique_prefix(),
            "VIDGATE_RATE_LIMIT_PER_MINUTE": str(LIMIT),
        }
        with ExitStack() as stack:
            urls = [stack.enter_context(serving(tmp_path / name, env)) for name in ("a", "b")]
            clients = [
                stack.enter_context(httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30))
                for url in urls
            ]

            def request(n: int) -> int:
                return clients[n % 2].get(UNKNOWN_TASK).status_code

            with ThreadPoolExecutor(10) as pool:
                burst = list(pool.map(request, range(3 * LIMIT)))
            assert set(burst) == {404, 429}
            assert LIMIT <= burst.count(404) <= LIMIT + 1

            sent = time.monotonic()
            refused = clients[0].get(UNKNOWN_TASK)
            assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
            retry_after = int(refused.headers["Retry-After"])
            assert 1 <= retry_after <= 5

            wait_until(sent + retry_after - 1)  # a second too early: still refused, by the other process too
            assert clients[1].get(UNKNOWN_TASK).status_code == 429
            wait_until(sent + retry_after + 0.1)  # on time: allowed
            assert clients[1].get(UNKNOWN_TASK).status_code == 404


def wait_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


@contextmanager
def serving(data_dir: Path, env: dict[str, str]) -> Iterator[str]:
    """A ``vidgate serve --no-workers`` process; yields its URL once it answers."""
    port = free_port()
    data_dir.mkdir()
    log = (data_dir / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidgate", "serve", "--no-workers", "--port", str(port), "--data-dir", str(data_dir)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        "vidgate serve did not start:\n" + (data_dir / "serve.log").read_text()
                    ) from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
