"""The fakes' injectable faults, for demos: content rejection and slow completion by rate (not only
by prompt keyword), rate limits and server errors; and ``vidgate fake-upstream`` passing its flags
on to a real process answering over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tests.server import free_port
from vidgate.cli import main
from vidgate.providers.upstream.fakes import FakeConfig, FakeState, create_fake_apimart_app, create_fake_kling_app
from vidgate.providers.upstream.fakes.apimart import MODERATION_MESSAGE
from vidgate.providers.upstream.fakes.server import serving
from vidgate.providers.upstream.kling_auth import KlingTokens

FAST = (0.01, 0.05)
TASKS = 5
#: the subprocess's environment: no vidgate settings from the caller
ENV = {name: value for name, value in os.environ.items() if not name.startswith("VIDGATE_")}


class Client:
    """Raw HTTP to one fake: submit a text task, read its status, as its own API spells them."""

    def __init__(self, kind: str, url: str, config: FakeConfig) -> None:
        self.kind, self.url = kind, url
        secret = KlingTokens().token(config.access_key, config.secret_key) if kind == "kling" else config.api_key
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {secret}"}, timeout=10)

    def post(self, prompt: str = "a red fox in the snow") -> httpx.Response:
        if self.kind == "kling":
            body = {"model_name": "kling-v2-6", "prompt": prompt, "mode": "std", "duration": "5", "sound": "off"}
            return self.http.post("/v1/videos/text2video", json=body)
        return self.http.post("/v1/videos/generations", json={"model": "Omni-Flash-Ext", "prompt": prompt})

    def submit(self, prompt: str = "a red fox in the snow") -> str:
        answer = self.post(prompt)
        assert answer.status_code == 200, answer.text
        data = answer.json()["data"]
        return data["task_id"] if self.kind == "kling" else data[0]["task_id"]

    def status(self, task_id: str) -> tuple[str, str]:
        """(status word, failure message) as the fake answers them."""
        if self.kind == "kling":
            data = self.http.get(f"/v1/videos/text2video/{task_id}").json()["data"]
            return data["task_status"], data["task_status_msg"]
        data = self.http.get(f"/v1/tasks/{task_id}").json()["data"]
        return data["status"], data.get("error", {}).get("message", "")


#: the status word of a completed task
DONE = {"kling": "succeed", "apimart": "completed"}


@contextmanager
def fake(kind: str, **config: Any) -> Iterator[tuple[Client, FakeState]]:
    cfg = FakeConfig(delay_s=FAST, **config)
    app = (create_fake_kling_app if kind == "kling" else create_fake_apimart_app)(cfg)
    with serving(app) as url:
        client = Client(kind, url, cfg)
        with client.http:
            yield client, app.state.fake


# --- content rejection ---------------------------------------------------------------------------


def test_kling_reject_rate_one_refuses_every_submit_as_unsafe() -> None:
    with fake("kling", reject_rate=1.0) as (client, state):
        answers = [client.post() for _ in range(TASKS)]
        assert all(a.status_code == 400 and a.json()["code"] == 1301 for a in answers), [a.text for a in answers]
        assert state.counters["rejected"] == TASKS and not state.tasks


def test_apimart_reject_rate_one_fails_every_task_moderation() -> None:
    with fake("apimart", reject_rate=1.0) as (client, state):
        ids = [client.submit() for _ in range(TASKS)]  # accepted, as apimart does ...
        state.advance(FAST[1])
        # ... then failed with the same message as a REJECT prompt
        assert {client.status(task_id) for task_id in ids} == {("failed", MODERATION_MESSAGE)}
        assert state.counters["rejected"] == TASKS


@pytest.mark.parametrize("kind", ["kling", "apimart"])
def test_reject_rate_zero_refuses_nothing_and_the_keyword_still_works(kind: str) -> None:
    with fake(kind, reject_rate=0.0) as (client, state):
        ids = [client.submit() for _ in range(TASKS)]
        state.advance(FAST[1])
        assert {client.status(task_id)[0] for task_id in ids} == {DONE[kind]}
        assert state.counters["rejected"] == 0
        if kind == "kling":
            assert client.post("please REJECT this").json()["code"] == 1301
        else:
            rejected = client.submit("please REJECT this")
            state.advance(FAST[1])
            assert client.status(rejected) == ("failed", MODERATION_MESSAGE)
        assert state.counters["rejected"] == 1


def test_reject_rate_refuses_about_that_share() -> None:
    with fake("kling", reject_rate=0.5, seed=7) as (client, _):
        refused = sum(client.post().status_code == 400 for _ in range(40))
    assert 8 <= refused <= 32


# --- slow completion ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["kling", "apimart"])
def test_slow_rate_one_holds_every_task_for_the_slow_delay(kind: str) -> None:
    with fake(kind, slow_rate=1.0, slow_delay_s=120.0) as (client, state):
        ids = [client.submit() for _ in range(TASKS)]
        state.advance(FAST[1] + 1)  # well past the normal delay
        assert all(client.status(task_id)[0] not in (DONE[kind], "failed") for task_id in ids)
        state.advance(120.0)
        assert {client.status(task_id)[0] for task_id in ids} == {DONE[kind]}


@pytest.mark.parametrize("kind", ["kling", "apimart"])
def test_slow_rate_zero_keeps_the_normal_delay(kind: str) -> None:
    with fake(kind, slow_rate=0.0) as (client, state):
        ids = [client.submit() for _ in range(TASKS)]
        state.advance(FAST[1])
        assert {client.status(task_id)[0] for task_id in ids} == {DONE[kind]}


def test_slow_rate_is_decided_per_task_by_the_seed() -> None:
    first, second = FakeState(FakeConfig(slow_rate=0.5, seed=3)), FakeState(FakeConfig(slow_rate=0.5, seed=3))
    ids = [f"task-{n}" for n in range(40)]
    slow = [first.delay_for(task_id, "") == first.config.slow_delay_s for task_id in ids]
    assert slow == [second.delay_for(task_id, "") == second.config.slow_delay_s for task_id in ids]
    assert 8 <= sum(slow) <= 32


# --- rate limits and server errors ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["kling", "apimart"])
@pytest.mark.parametrize(("rate", "status"), [("rate_limit_rate", 429), ("server_error_rate", 500)])
def test_fault_rate_one_answers_every_request_with_it(kind: str, rate: str, status: int) -> None:
    with fake(kind, **{rate: 1.0}) as (client, state):
        assert [client.post().status_code for _ in range(3)] == [status] * 3
        assert not state.tasks


# --- the CLI passes its flags on ------------------------------------------------------------------


@contextmanager
def cli_fake(*flags: str) -> Iterator[Client]:
    """``vidgate fake-upstream apimart`` in its own process, with these flags, until the block ends."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidgate", "fake-upstream", "apimart", "--port", str(port), *flags],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{url}/files/none.mp4", timeout=1)  # any answer: it is listening
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("vidgate fake-upstream did not start") from None
                time.sleep(0.05)
        client = Client("apimart", url, FakeConfig())
        with client.http:
            yield client
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_cli_reject_and_slow_flags_reach_the_fake() -> None:
    # every task is rejected and slow: still running after the normal delay, failed after --slow-delay
    with cli_fake("--reject-rate", "1", "--slow-rate", "1", "--slow-delay", "2", "--delay", "0.1", "0.1") as client:
        task_id = client.submit()
        time.sleep(0.3)
        assert client.status(task_id)[0] in ("pending", "processing")
        time.sleep(2.0)
        assert client.status(task_id) == ("failed", MODERATION_MESSAGE)


def test_cli_rate_limit_flag_reaches_the_fake() -> None:
    with cli_fake("--rate-limit-rate", "1") as client:
        answer = client.post()
        assert answer.status_code == 429 and answer.headers["Retry-After"], answer.text


def test_cli_refuses_rates_outside_zero_to_one_and_a_zero_slow_delay() -> None:
    runner = CliRunner()
    for flags in (["--reject-rate", "1.5"], ["--slow-rate", "-0.1"], ["--slow-delay", "0"]):
        assert runner.invoke(main, ["fake-upstream", "kling", *flags]).exit_code == 2, flags
