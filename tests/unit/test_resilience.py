"""Loops outlive their faults: backoff, one log line per outage, restarts the health shows."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from vidgate.resilience import MAX_WAIT_S, Outage, Supervisor, Unavailable, backoff_delay, retry_while_unavailable


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_delay(n, 0.1, 5) for n in (1, 2, 3, 4)] == pytest.approx([0.1, 0.2, 0.4, 0.8])
    assert backoff_delay(10_000, 0.1, 5) == 5


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(caplog: pytest.LogCaptureFixture) -> None:
    outage = Outage("claiming")
    with caplog.at_level(logging.DEBUG, logger="vidgate.resilience"):
        waits = [outage.failed(Unavailable("the database is unavailable")) for _ in range(50)]
        outage.recovered()
        outage.recovered()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "unavailable" in lines[0] and "recovered" in lines[1]
    assert max(waits) == MAX_WAIT_S and waits == sorted(waits)
    assert not caplog.records[0].exc_info  # an outage is no bug: no traceback


def test_any_other_failure_is_logged_once_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    outage = Outage("sweeping")
    with caplog.at_level(logging.DEBUG, logger="vidgate.resilience"):
        for _ in range(5):
            outage.failed(ValueError("a bug"))
    assert len(caplog.records) == 1 and caplog.records[0].exc_info


def test_a_write_is_retried_while_unavailable_and_given_up_on_stop() -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise Unavailable("down")
        return "done"

    stop = threading.Event()
    assert retry_while_unavailable(flaky, stop=stop, outage=Outage("w", first=0.001)) == "done"
    assert len(calls) == 4
    stop.set()
    with pytest.raises(Unavailable):
        retry_while_unavailable(lambda: (_ for _ in ()).throw(Unavailable("down")), stop=stop, outage=Outage("w"))


def test_a_loop_that_dies_is_restarted_and_the_health_says_so() -> None:
    stop = threading.Event()
    runs: list[int] = []

    def fragile() -> None:
        runs.append(1)
        if len(runs) <= 2:
            raise RuntimeError("boom")
        stop.wait()

    supervisor = Supervisor(stop)
    supervisor.start("fragile", fragile)
    deadline = time.monotonic() + 10
    while len(runs) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    [health] = supervisor.health()
    assert len(runs) == 3 and health.alive and health.restarts == 2
    assert health.last_error == "RuntimeError: boom"
    assert health.healthy  # two restarts in a minute: not yet a loop that keeps dying
    stop.set()
    supervisor.join(5)


def test_a_loop_that_keeps_dying_is_reported_unhealthy() -> None:
    stop = threading.Event()

    def doomed() -> None:
        raise RuntimeError("always")

    supervisor = Supervisor(stop)
    supervisor.start("doomed", doomed)
    deadline = time.monotonic() + 15
    while supervisor.health()[0].restarts < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not supervisor.health()[0].healthy
    stop.set()
    supervisor.join(5)


def test_a_loop_that_returns_early_is_restarted_too() -> None:
    stop = threading.Event()
    runs: list[int] = []

    def quits() -> None:
        runs.append(1)
        if len(runs) > 1:
            stop.wait()

    supervisor = Supervisor(stop)
    supervisor.start("quits", quits)
    deadline = time.monotonic() + 10
    while len(runs) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert supervisor.health()[0].restarts == 1
    stop.set()
    supervisor.join(5)
