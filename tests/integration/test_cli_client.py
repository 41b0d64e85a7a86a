"""``vidgate generate`` and ``vidgate tasks`` against a real server: output, files and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import make_settings
from tests.media_fixtures import FixtureServer
from tests.server import Running, free_port, running_server
from tests.video_checks import decode
from vidgate.cli import main
from vidgate.sdk import Task
from vidgate.sdk.client import Tasks

FAST = ["--poll-interval", "0.2"]


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A server allowing two requests a minute per key."""
    settings = make_settings(tmp_path_factory.mktemp("limited"), workers=False, rate_limit_per_minute=2)
    with running_server(settings) as running:
        yield running


def vidgate(running: Running, key: str | None, *args: str) -> Result:
    env = {"VIDGATE_API_KEY": key, "VIDGATE_BASE_URL": running.url}
    return CliRunner().invoke(main, list(args), env=env)


def key_for(running: Running, balance: str = "100") -> str:
    return running.new_account(balance)[1]


def test_generate_wait_shows_progress_and_writes_a_playable_mp4(live: Running, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
    env |= {"VIDGATE_API_KEY": key_for(live), "VIDGATE_BASE_URL": live.url}
    command = ["generate", "--model", "kling-v3", "--prompt", "a paper boat", "--duration", "3", "--wait"]
    done = subprocess.run(
        [sys.executable, "-m", "vidgate", *command, "--output", "boat.mp4", *FAST],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "completed" in done.stderr and "100%" in done.stderr  # the progress bar's last state
    assert "completed  100%" in done.stdout and "saved boat.mp4" in done.stdout
    video = decode(tmp_path / "boat.mp4")
    assert (video.width, video.height, video.video_codec) == (1280, 720, "h264") and abs(video.duration - 3) < 0.2


def test_submit_then_get_and_wait_by_id_with_json(live: Running, tmp_path: Path) -> None:
    key = key_for(live)
    submitted = vidgate(
        live, key, "generate", "--model", "Omni-Flash-Ext", "--prompt", "rain", "--duration", "4", "--json"
    )
    assert submitted.exit_code == 0, submitted.output
    task = json.loads(submitted.stdout)
    assert task["status"] == "pending" and task["id"].startswith("task_")

    got = vidgate(live, key, "tasks", "get", task["id"], "--json")
    assert got.exit_code == 0 and json.loads(got.stdout)["id"] == task["id"]

    waited = vidgate(live, key, "tasks", "wait", task["id"], "--output", str(tmp_path), "--json", *FAST)
    assert waited.exit_code == 0, waited.output
    final = json.loads(waited.stdout)  # stdout is the task object alone
    assert final["status"] == "completed" and final["progress"] == 100
    assert isinstance(final["result"]["videos"][0]["url"], list)
    assert decode(tmp_path / f"{task['id']}.mp4").frames > 0


def test_a_failed_task_exits_1_with_its_reason(live: Running, tmp_path: Path) -> None:
    with FixtureServer() as media:
        not_an_image = media.serve("/photo.png", b"this is text", headers={"Content-Type": "image/png"})
        result = vidgate(
            live, key_for(live), "generate", "--model", "kling-v2-6", "--prompt", "x", "--image", not_an_image,
            "--wait", *FAST,
        )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "failed" in result.stdout and "error: " in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_cancel_then_cancel_again_then_get(api_only: Running) -> None:
    key = key_for(api_only)
    task_id = vidgate(api_only, key, "generate", "--model", "kling-v2-6", "--prompt", "stop me").stdout.strip()
    first = vidgate(api_only, key, "tasks", "cancel", task_id)
    assert first.exit_code == 0 and f"{task_id}  cancelled" in first.stdout
    again = vidgate(api_only, key, "tasks", "cancel", task_id, "--json")
    assert again.exit_code == 2
    assert json.loads(again.stderr)["error"]["code"] == "task_already_ended"
    assert vidgate(api_only, key, "tasks", "get", task_id).exit_code == 1  # a cancelled task


def test_insufficient_balance_exits_2_with_the_servers_message(api_only: Running) -> None:
    key = key_for(api_only, "0.01")
    result = vidgate(api_only, key, "generate", "--model", "kling-v2-6", "--prompt", "pricey", "--duration", "10")
    with api_only.client(key) as raw:
        body = {"model": "kling-v2-6", "prompt": "pricey", "duration": 10}
        expected = raw.post("/v1/videos/generations", json=body).json()["error"]["message"]
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == f"error: {expected} (402 payment_required/insufficient_balance)\n"


def test_validation_error_exits_2_with_the_servers_message(api_only: Running) -> None:
    args = ["generate", "--model", "kling-v2-6", "--prompt", "seven", "--duration", "7"]
    human = vidgate(api_only, key_for(api_only), *args)
    assert human.exit_code == 2
    assert "invalid duration 7, must be one of 5/10 (400 invalid_request_error/invalid_duration)" in human.stderr
    scripted = vidgate(api_only, key_for(api_only), *args, "--json")
    assert scripted.exit_code == 2 and scripted.stdout == ""
    assert json.loads(scripted.stderr)["error"] == {
        "status": 400,
        "type": "invalid_request_error",
        "code": "invalid_duration",
        "message": "invalid duration 7, must be one of 5/10",
        "param": "duration",
    }


def test_rate_limit_exits_2_with_the_servers_message(limited: Running) -> None:
    key = key_for(limited)
    args = ["tasks", "get", "task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ", "--max-retries", "0"]
    assert [vidgate(limited, key, *args).exit_code for _ in range(2)] == [2, 2]  # 404s use up the minute
    result = vidgate(limited, key, *args)
    assert result.exit_code == 2
    assert "too many requests for this key" in result.stderr
    assert "(429 rate_limit_error/rate_limited)" in result.stderr


def test_wait_timeout_exits_3_and_the_task_goes_on(api_only: Running) -> None:
    key = key_for(api_only)
    task_id = vidgate(api_only, key, "generate", "--model", "kling-v2-6", "--prompt", "slow").stdout.strip()
    result = vidgate(api_only, key, "tasks", "wait", task_id, "--timeout", "0.3", *FAST)
    assert result.exit_code == 3
    assert f"task {task_id} did not end within 0.3 s; it is pending" in result.stderr


def test_ctrl_c_while_waiting_exits_130_and_says_the_task_goes_on(
    api_only: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*_args: object, **_kwargs: object) -> Task:
        raise KeyboardInterrupt

    monkeypatch.setattr(Tasks, "wait", interrupted)
    result = vidgate(api_only, key_for(api_only), "generate", "--model", "kling-v2-6", "--prompt", "x", "--wait")
    assert result.exit_code == 130
    assert "interrupted; a task already submitted goes on" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "novalue"], "'novalue' is not KEY=VALUE"),
        (["--image", "a.png", "--image", "b.png", "--model", "kling-v3-motion-control"], "takes one image"),
        (
            ["--param", "video_url=dance.mp4", "--model", "kling-v3-motion-control"],
            "needs the reference video as an http(s) URL",
        ),
        (["--image", "nowhere.png"], "'nowhere.png' is neither a URL"),
    ],
    ids=["param syntax", "two characters", "local video", "missing image"],
)
def test_usage_errors_exit_2_before_anything_is_sent(args: list[str], message: str) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    env = {"VIDGATE_API_KEY": "sk-vg-any", "VIDGATE_BASE_URL": nowhere}
    result = CliRunner().invoke(main, ["generate", "--model", "kling-v3", "--prompt", "x", *args], env=env)
    assert result.exit_code == 2 and message in result.stderr


def test_missing_api_key_exits_2_and_says_how_to_give_one(api_only: Running) -> None:
    result = vidgate(api_only, None, "tasks", "get", "task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ")
    assert result.exit_code == 2 and "VIDGATE_API_KEY" in result.stderr


def test_generate_with_an_idempotency_key_answers_the_same_task_twice(api_only: Running) -> None:
    account_id, key = api_only.new_account("10")
    args = ["generate", "--model", "kling-v2-6", "--prompt", "a boat", "--idempotency-key", "cli-order-1"]
    first, again = vidgate(api_only, key, *args), vidgate(api_only, key, *args)
    assert first.exit_code == again.exit_code == 0 and first.stdout == again.stdout
    assert api_only.balance(account_id) == 10_000_000 - 200_000  # held once
    other = vidgate(api_only, key, *args[:-2], "--duration", "10", "--idempotency-key", "cli-order-1")
    assert other.exit_code == 2 and "different request body" in other.stderr
    unkeyed = vidgate(api_only, key, *args[:-2])  # a fresh key of its own: a new task
    assert unkeyed.exit_code == 0 and unkeyed.stdout != first.stdout


@pytest.mark.parametrize("bad", ["", "x" * 256, "caf\u00e9"])
def test_a_bad_idempotency_key_is_a_usage_error(bad: str) -> None:
    env = {"VIDGATE_API_KEY": "sk-vg-any", "VIDGATE_BASE_URL": f"http://127.0.0.1:{free_port()}"}
    args = ["generate", "--model", "kling-v3", "--prompt", "x", "--idempotency-key", bad]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 2 and "--idempotency-key" in result.stderr and "printable ASCII" in result.stderr


def test_models_lists_the_offer_and_shows_one_models_parameters(api_only: Running) -> None:
    key = key_for(api_only)
    listing = vidgate(api_only, key, "models")
    as_json = vidgate(api_only, key, "models", "--json")
    one = vidgate(api_only, key, "models", "Omni-Flash-Ext")
    unknown = vidgate(api_only, key, "models", "gpt-4o")
    assert listing.exit_code == as_json.exit_code == one.exit_code == 0
    lines = listing.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [m["id"] for m in json.loads(as_json.stdout)]
    assert any(line.startswith("kling-v3 ") and "preview" in line and "std, pro, 4k" in line for line in lines)
    assert "duration (integer) default 6 values: [4, 6, 8, 10]" in one.stdout
    assert "resolution" in one.stdout and "price 720p" in one.stdout
    assert unknown.exit_code == 2 and "model_not_found" not in unknown.stdout and "gpt-4o" in unknown.stderr


#: what ``vidgate tasks get`` must not load: the server, the database layer, the workers'
#: libraries, the async client and the request catalogue
NOT_FOR_TASKS_GET = (
    "vidgate.app",
    "vidgate.serving",
    "vidgate.store",
    "vidgate.providers",
    "vidgate.config",
    "vidgate.catalog",
    "vidgate.sdk.aclient",
    "vidgate.cli.server",
    "vidgate.cli.operator",
    "uvicorn",
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "av",
    "numpy",
    "boto3",
    "redis",
)


def test_tasks_get_shows_the_task_and_loads_only_the_client(api_only: Running) -> None:
    key = key_for(api_only)
    task_id = vidgate(api_only, key, "generate", "--model", "kling-v2-6", "--prompt", "quick").stdout.strip()
    script = (
        "import json, sys\nfrom vidgate.cli import main\n"
        "try:\n    main(sys.argv[1:], prog_name='vidgate')\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print(json.dumps([code, sorted(sys.modules)]), file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
    env |= {"VIDGATE_API_KEY": key, "VIDGATE_BASE_URL": api_only.url}
    done = subprocess.run(
        [sys.executable, "-c", script, "tasks", "get", task_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    code, loaded = json.loads(done.stderr.splitlines()[-1])
    assert code == 0 and done.stdout.startswith(f"{task_id}  pending  0%")
    assert "vidgate.sdk.client" in loaded
    assert [
        m for m in loaded if m in NOT_FOR_TASKS_GET or m.startswith(tuple(f"{n}." for n in NOT_FOR_TASKS_GET))
    ] == []
