"""The SDK's and the CLI's task listing and live progress against a real server:
``client.tasks.list/iter/stream`` (sync and async), ``vidgate tasks list`` and ``vidgate tasks
watch``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result
from httpx_sse import ServerSentEvent

from tests.conftest import make_settings
from tests.server import Running, running_server
from vidgate.cli import main
from vidgate.sdk import APIConnectionError, AsyncClient, Client, InvalidRequestError, NotFoundError, TaskStatus
from vidgate.sdk.streaming import Follow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """Workers in process; tasks take a second and report progress on the way."""
    settings = make_settings(tmp_path_factory.mktemp("sdk-list"), provider="instant", instant_seconds=1.0)
    with running_server(settings) as running:
        yield running


def vidgate(running: Running, key: str, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"VIDGATE_API_KEY": key, "VIDGATE_BASE_URL": running.url})


def test_list_and_iter_page_through_the_accounts_tasks(server: Running) -> None:
    _, secret = server.new_account()
    with Client(secret, server.url) as client:
        ids = [client.videos.generate("kling-v3", "a fox").id for _ in range(5)]
        page = client.tasks.list(limit=2)
        assert [t.id for t in page.data] == ids[::-1][:2] and page.has_more and page.last_id == ids[3]
        assert page.data[0].model == "kling-v3"
        rest = client.tasks.list(limit=10, after=page.last_id)
        assert [t.id for t in rest.data] == ids[::-1][2:] and not rest.has_more
        assert [t.id for t in client.tasks.iter(limit=2)] == ids[::-1]
        assert [t.id for t in client.tasks.iter(limit=2, model="kling-v2-6")] == []
        with pytest.raises(InvalidRequestError) as refused:
            client.tasks.list(status="finished")
        assert refused.value.param == "status"


def test_stream_yields_each_change_and_ends_with_the_final_state(server: Running) -> None:
    _, secret = server.new_account()
    with Client(secret, server.url) as client:
        task = client.videos.generate("kling-v3", "a fox")
        states = list(client.tasks.stream(task.id))
        assert states[-1].status == TaskStatus.COMPLETED and states[-1].video_url
        assert all(not s.ended for s in states[:-1]) and len(states) >= 3
        assert [s.progress for s in states] == sorted(s.progress for s in states)
        with pytest.raises(NotFoundError):
            next(client.tasks.stream("task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ"))


def test_the_async_client_lists_and_streams_too(server: Running) -> None:
    _, secret = server.new_account()

    async def run() -> tuple[list[str], list[str], list[TaskStatus]]:
        async with AsyncClient(secret, server.url) as client:
            ids = [(await client.videos.generate("kling-v3", "a fox")).id for _ in range(3)]
            page = await client.tasks.list(limit=2)
            every = [t.id async for t in client.tasks.iter(limit=2)]
            states = [t.status async for t in client.tasks.stream(ids[-1])]
            assert [t.id for t in page.data] == ids[::-1][:2]
            return ids, every, states

    ids, every, states = asyncio.run(run())
    assert every == ids[::-1]
    assert states[-1] == TaskStatus.COMPLETED


def test_a_stream_takes_news_only_and_gives_up_after_its_retries() -> None:
    follow = Follow("task_x", max_retries=2)
    event = ServerSentEvent(event="task", data=json.dumps({"id": "task_x", "status": "processing", "progress": 5}))
    assert follow.take(ServerSentEvent(event="other", data="{}")) is None
    first = follow.take(event)
    assert first is not None and first.progress == 5
    assert follow.take(event) is None  # the same state again (a stream opened anew): not news
    assert follow.reconnect_after(None) >= 0 and follow.reconnect_after(None) >= 0
    with pytest.raises(APIConnectionError, match="ended before the task did"):
        follow.reconnect_after(None)


def test_cli_tasks_list_pages_and_all(server: Running) -> None:
    _, secret = server.new_account()
    with Client(secret, server.url) as client:
        ids = [client.videos.generate("kling-v3", "a fox").id for _ in range(3)]
    shown = vidgate(server, secret, "tasks", "list", "--limit", "2")
    assert shown.exit_code == 0, shown.output
    assert [line.split()[0] for line in shown.stdout.splitlines()] == ids[::-1][:2]
    assert f"--after {ids[1]}" in shown.stderr
    as_json = vidgate(server, secret, "tasks", "list", "--limit", "2", "--json")
    page = json.loads(as_json.stdout)
    assert [t["id"] for t in page["data"]] == ids[::-1][:2] and page["has_more"] and page["last_id"] == ids[1]
    every = vidgate(server, secret, "tasks", "list", "--all", "--limit", "1", "--json")
    assert [json.loads(line)["id"] for line in every.stdout.splitlines()] == ids[::-1]
    bad = vidgate(server, secret, "tasks", "list", "--model", "sora-2")
    assert bad.exit_code == 2 and "unknown model" in bad.stderr
    usage = vidgate(server, secret, "tasks", "list", "--limit", "101")
    assert usage.exit_code == 2


def test_cli_tasks_watch_follows_to_the_end(server: Running) -> None:
    _, secret = server.new_account()
    with Client(secret, server.url) as client:
        task = client.videos.generate("kling-v3", "a fox")
        cancelled = client.videos.generate("kling-v3", "a fox")
        client.tasks.cancel(cancelled.id)
    watched = vidgate(server, secret, "tasks", "watch", task.id)
    assert watched.exit_code == 0, watched.output
    assert f"{task.id}  completed  100%" in watched.stdout
    lines = vidgate(server, secret, "tasks", "watch", task.id, "--json").stdout.splitlines()
    assert [json.loads(line)["status"] for line in lines] == ["completed"]  # ended: one state
    ended = vidgate(server, secret, "tasks", "watch", cancelled.id)
    assert ended.exit_code in (0, 1)
    final = Client(secret, server.url).tasks.get(cancelled.id)
    assert ended.exit_code == (1 if final.status == TaskStatus.CANCELLED else 0)
    missing = vidgate(server, secret, "tasks", "watch", "task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ")
    assert missing.exit_code == 2 and "no task" in missing.stderr
