"""The log's two formats: one JSON object per line with the event's context, or readable text."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from vidgate import logs


@pytest.fixture()
def restored() -> Iterator[None]:
    """``logs.configure`` sets up the process's root logger: put the test runner's back after."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    uvicorn = logging.getLogger("uvicorn.error")
    saved_uvicorn = (uvicorn.handlers[:], uvicorn.propagate)
    parent = logging.getLogger("uvicorn")
    saved_parent = (parent.handlers[:], parent.propagate)
    try:
        yield
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        uvicorn.handlers[:], uvicorn.propagate = saved_uvicorn
        parent.handlers[:], parent.propagate = saved_parent


def test_json_lines_carry_the_context_that_applies(restored: None, capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("json")
    log = logging.getLogger("vidgate.test")
    log.info("no context")
    token = logs.request_id.set("req-1")
    try:
        with logs.task_context("task_1", account="acct_1", via="kling-sg"):
            log.warning("in a task: %s", "detail", extra={"event": "failed", "reason": "timeout"})
        log.info("after the task", extra={"task_id": "task_2"})
    finally:
        logs.request_id.reset(token)
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("with a traceback")
    logging.getLogger("uvicorn.error").warning("uvicorn's own")  # its level is uvicorn's to set
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["message"] for line in lines] == [
        "no context",
        "in a task: detail",
        "after the task",
        "with a traceback",
        "uvicorn's own",
    ]
    for line in lines:
        assert {"timestamp", "level", "logger", "message"} <= line.keys()
    assert not {"request_id", "task_id", "account_id", "channel"} & lines[0].keys()
    assert lines[1]["level"] == "WARNING" and lines[1]["logger"] == "vidgate.test"
    assert {k: lines[1][k] for k in ("request_id", "task_id", "account_id", "channel", "event", "reason")} == {
        "request_id": "req-1",
        "task_id": "task_1",
        "account_id": "acct_1",
        "channel": "kling-sg",
        "event": "failed",
        "reason": "timeout",
    }
    assert lines[2]["task_id"] == "task_2" and "account_id" not in lines[2]  # the task's context ended
    assert "ValueError: boom" in lines[3]["exc_info"]
    assert lines[4]["logger"] == "uvicorn.error"


def test_text_stays_the_default(restored: None, capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure()
    logging.getLogger("vidgate.test").info("readable")
    err = capsys.readouterr().err
    assert err.rstrip().endswith("INFO vidgate.test: readable") and not err.startswith("{")
