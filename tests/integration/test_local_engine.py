"""Local engines: a real server with workers, on PostgreSQL, whose channels file points at tiny
randomly initialised diffusers pipelines (Wan text to video, Wan image to video, LTX-Video)
saved as an operator's folders are; the videos it makes are decoded. On the CPU, 2 steps, small
generation sizes: the pipelines' real code runs, only their weights are random."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from diffusers import LTXVideoTransformer3DModel, WanTransformer3DModel
from PIL import Image

from tests.conftest import Calls, make_settings
from tests.databases import fresh_postgres
from tests.e2e.test_end_to_end import download, wait_until_ended
from tests.local_pipelines import TINY_AREA
from tests.server import Running, running_server
from tests.video_checks import decode
from vidgate.cli import main
from vidgate.providers.base import RenderJob
from vidgate.providers.local.engine import LocalEngine
from vidgate.providers.local.render import render
from vidgate.providers.local.settings import LocalSettings

pytestmark = pytest.mark.slow


def local_toml(name: str, folder: Path, family: str, models: list[str], *, steps: int = 2, priority: int = 10) -> str:
    listed = ", ".join(f'"{m}"' for m in models)
    return (
        f'[[channels]]\nname = "{name}"\nprovider = "local"\nmodels = [{listed}]\npriority = {priority}\n'
        f'[channels.local]\nfamily = "{family}"\nfolder = "{folder.as_posix()}"\ndevice = "cpu"\n'
        f'dtype = "float32"\nsteps = {steps}\nguidance = 3.0\nfps = 4\nmax_area = {TINY_AREA}\n\n'
    )


def data_uri(colour: tuple[int, int, int], size: tuple[int, int] = (64, 36)) -> str:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


RED, BLUE = data_uri((220, 30, 30)), data_uri((30, 30, 220))


class Steps:
    """Denoising calls of a transformer class, counted and slowed down (so a test can watch
    progress, cancel mid-generation), or failing as a device out of memory does."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, cls: type, *, delay: float = 0.0) -> None:
        self.count, self.delay, self.oom_once = 0, delay, False
        real = cls.forward

        def forward(module: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            if self.oom_once:
                self.oom_once = False
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
            time.sleep(self.delay)
            return real(module, *args, **kwargs)

        monkeypatch.setattr(cls, "forward", forward)


@pytest.fixture(scope="module")
def server(tiny_pipelines: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp("local")
    channels = (
        local_toml("wan-t2v", tiny_pipelines["wan-t2v"], "wan", ["kling-v3"])
        + local_toml("wan-i2v", tiny_pipelines["wan-i2v"], "wan", ["kling-v3"])
        + local_toml("wan-slow", tiny_pipelines["wan-t2v"], "wan", ["kling-v2-6"], steps=8)
        + local_toml("ltx", tiny_pipelines["ltx"], "ltx", ["Omni-Flash-Ext"])
    )
    (folder / "channels.toml").write_text(channels)
    with fresh_postgres() as url:
        settings = make_settings(folder, channels_file=folder / "channels.toml", database_url=url)
        with running_server(settings) as running:
            yield running


def submit(client: httpx.Client, body: dict[str, Any]) -> str:
    r = client.post("/v1/videos/generations", json=body)
    assert r.status_code == 200, r.text
    return str(r.json()["data"][0]["task_id"])


def completed_video(client: httpx.Client, task_id: str, tmp_path: Path) -> tuple[dict[str, Any], Any]:
    task, _ = wait_until_ended(client, task_id, timeout=90)
    assert task["status"] == "completed", task
    return task, decode(download(task["result"]["videos"][0]["url"][0], tmp_path / f"{task_id}.mp4"))


def test_text_to_video_is_generated_by_the_local_engine_at_the_size_promised(
    server: Running, calls: Calls, tmp_path: Path
) -> None:
    _, key = server.new_account("10")
    with server.client(key) as client:
        body = {"model": "kling-v3", "prompt": "a red boat at night", "negative_prompt": "blue", "duration": 3}
        task, video = completed_video(client, submit(client, body), tmp_path)
    assert (video.width, video.height, video.frames, video.video_codec) == (1280, 720, 72, "h264")
    assert video.audio_codec is None
    assert task["cost"] > 0 and isinstance(task["seed"], int)  # the seed is recorded: the result can be made again
    [gen] = calls.of("wan-t2v")
    assert (gen.prompt, gen.negative_prompt, gen.seed, gen.image) == ("a red boat at night", "blue", task["seed"], None)
    # 3 s at the pipeline's 4 fps is 12 frames; Wan takes 4k+1: 13, at 16:9 within 32x32 pixels
    assert (gen.shape.frames, gen.shape.width, gen.shape.height) == (13, 32, 16)
    # the recorded seed makes the same video again, with the engine's settings
    [record] = [c for c in server.store.channels.list() if c.name == "wan-t2v"]
    engine = LocalEngine("again", LocalSettings.model_validate(record.settings))
    job = RenderJob(
        task_id="again", model="kling-v3", prompt=gen.prompt, width=1280, height=720, fps=24, frames=72, audio=False,
        negative_prompt="blue",
    )  # fmt: skip
    render(engine, job, tmp_path / "again.mp4", lambda _: None, seed=task["seed"], preset="ultrafast")
    again = decode(tmp_path / "again.mp4")
    assert np.array_equal(again.first_frame, video.first_frame) and np.array_equal(again.last_frame, video.last_frame)


def test_first_frame_and_first_plus_last_frame_go_to_the_image_to_video_pipeline(
    server: Running, calls: Calls, tmp_path: Path
) -> None:
    _, key = server.new_account("10")
    with server.client(key) as client:
        one = submit(client, {"model": "kling-v3", "prompt": "the cat", "duration": 3, "image_urls": [RED]})
        two = submit(client, {"model": "kling-v3", "prompt": "the dog", "duration": 3, "image_urls": [RED, BLUE]})
        for task_id in (one, two):
            _, video = completed_video(client, task_id, tmp_path)
            assert (video.width, video.height, video.frames) == (1280, 720, 72)
    made = {g.prompt: g for g in calls.of("wan-i2v")}
    assert not calls.of("wan-t2v")  # it refuses images: routing chose the engine that takes them
    assert made["the cat"].image is not None and made["the cat"].last_image is None
    assert made["the dog"].image is not None and made["the dog"].last_image is not None
    assert made["the dog"].last_image.getpixel((0, 0))[2] > 150  # the blue one is the last frame


def test_ltx_makes_text_to_video_and_image_to_video(server: Running, calls: Calls, tmp_path: Path) -> None:
    _, key = server.new_account("10")
    with server.client(key) as client:
        text = submit(client, {"model": "Omni-Flash-Ext", "prompt": "the sea", "duration": 4})
        image = submit(
            client, {"model": "Omni-Flash-Ext", "prompt": "the sea at night", "duration": 4, "image_urls": [BLUE]}
        )
        for task_id in (text, image):
            _, video = completed_video(client, task_id, tmp_path)
            assert (video.width, video.height, video.frames) == (1280, 720, 96)
    made = {g.prompt: g for g in calls.of("ltx")}
    assert made["the sea"].image is None and made["the sea at night"].image is not None
    assert made["the sea"].shape.width % 32 == 0 and made["the sea"].shape.height % 32 == 0


def test_multi_shot_is_one_generation_per_shot_joined(server: Running, calls: Calls, tmp_path: Path) -> None:
    _, key = server.new_account("10")
    body = {
        "model": "kling-v3",
        "multi_shot": True,
        "shot_type": "customize",
        "duration": 3,
        "multi_prompt": [
            {"index": 1, "prompt": "a dog", "duration": 2},
            {"index": 2, "prompt": "a cat", "duration": 1},
        ],
    }
    with server.client(key) as client:
        task, video = completed_video(client, submit(client, body), tmp_path)
    assert video.frames == 72
    first, second = calls.of("wan-t2v")
    assert (first.prompt, second.prompt) == ("a dog", "a cat")
    assert (first.seed, second.seed) == (task["seed"], task["seed"] + 1)
    assert (first.shape.frames, second.shape.frames) == (9, 5)  # 2 s and 1 s at 4 fps, as 4k+1


def test_what_no_engine_does_is_refused_at_submit_naming_the_engine(server: Running) -> None:
    account, key = server.new_account("10")
    before = server.balance(account)
    refused = [
        ({"model": "kling-v3", "prompt": "a dog", "audio": True}, ("wan-t2v", "audio")),
        ({"model": "kling-v3", "prompt": "a dog", "watermark": True}, ("wan-t2v", "watermark")),
        ({"model": "Omni-Flash-Ext", "prompt": "a dog", "image_urls": [RED, RED, BLUE]}, ("ltx", "reference")),
        ({"model": "kling-v2-6", "prompt": "a dog", "image_urls": [RED]}, ("wan-slow", "first frame")),
    ]
    with server.client(key) as client:
        for body, words in refused:
            r = client.post("/v1/videos/generations", json=body)
            assert r.status_code == 400, r.text
            error = r.json()["error"]
            assert error["code"] == "unsupported_combination", error
            assert all(w in error["message"] for w in words), error["message"]
        models = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
    assert server.balance(account) == before  # nothing held
    assert "audio" in models["kling-v3"]["unsupported"]
    assert "reference_images" in models["Omni-Flash-Ext"]["unsupported"]
    assert {e["channel"] for e in models["kling-v3"]["engines"]} == {"wan-t2v", "wan-i2v"}
    env = {"VIDGATE_API_KEY": key, "VIDGATE_BASE_URL": server.url}
    listing = CliRunner().invoke(main, ["models"], env=env).output  # the command line shows it too
    [line] = [line for line in listing.splitlines() if line.startswith("kling-v3 ")]
    assert "local (wan-i2v, wan-t2v)" in line and "refused: audio" in line, listing
    one = CliRunner().invoke(main, ["models", "kling-v3"], env=env).output
    assert "local engine wan-i2v refuses: text_to_video" in one, one


def test_progress_rises_with_the_denoising_steps(
    server: Running, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    Steps(monkeypatch, WanTransformer3DModel, delay=0.2)
    _, key = server.new_account("10")
    with server.client(key) as client:
        task, seen = wait_until_ended(client, submit(client, {"model": "kling-v2-6", "prompt": "a dog"}), timeout=90)
    assert task["status"] == "completed", task
    generating = [p for p in seen if 10 < p < 100]
    assert len(set(generating)) >= 3, seen  # 8 steps, reported as they are done
    assert generating == sorted(generating), seen


def test_cancel_stops_the_generation_at_its_next_step(server: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    steps = Steps(monkeypatch, WanTransformer3DModel, delay=0.3)
    account, key = server.new_account("10")
    before = server.balance(account)
    with server.client(key) as client:
        task_id = submit(client, {"model": "kling-v2-6", "prompt": "a dog"})
        deadline = time.monotonic() + 60
        while client.get(f"/v1/tasks/{task_id}").json()["data"]["progress"] <= 20:
            assert time.monotonic() < deadline, "the generation did not start"
            time.sleep(0.05)
        assert client.post(f"/v1/tasks/{task_id}/cancel").status_code == 200
        at_cancel = steps.count
        task, _ = wait_until_ended(client, task_id, timeout=30)
    assert task["status"] == "cancelled", task
    assert steps.count - at_cancel <= 4  # the step under way (with its guidance pass), then it stopped: not 16
    assert server.balance(account) == before


def test_out_of_memory_fails_the_task_at_no_cost_and_the_engine_goes_on(
    server: Running, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    steps = Steps(monkeypatch, WanTransformer3DModel)
    steps.oom_once = True
    account, key = server.new_account("10")
    before = server.balance(account)
    with server.client(key) as client:
        body = {"model": "kling-v3", "prompt": "a dog", "duration": 3}
        failed, _ = wait_until_ended(client, submit(client, body), timeout=60)
        assert failed["status"] == "failed", failed
        assert failed["error"]["reason"] == "out_of_memory"
        assert "wan-t2v ran out of memory on cpu" in failed["error"]["message"], failed["error"]
        assert server.balance(account) == before and failed["cost"] == 0
        task, video = completed_video(client, submit(client, body), tmp_path)
    assert video.frames == 72 and task["seed"] is not None  # the same engine, usable again


def test_two_engines_first_then_an_upstream_channel_as_overflow(
    tiny_pipelines: dict[str, Path], monkeypatch: pytest.MonkeyPatch, calls: Calls, tmp_path: Path
) -> None:
    from tests.e2e.test_upstream_e2e import channel_toml, start_fake, upstream_of

    Steps(monkeypatch, LTXVideoTransformer3DModel, delay=0.4)  # both engines stay busy while the third is placed
    with ExitStack() as stack:
        fake = start_fake(stack, "apimart")
        channels = (
            local_toml("ltx-a", tiny_pipelines["ltx"], "ltx", ["Omni-Flash-Ext"])
            + local_toml("ltx-b", tiny_pipelines["ltx"], "ltx", ["Omni-Flash-Ext"])
            + channel_toml("overflow", fake, ["Omni-Flash-Ext"], priority=0)
        )
        (tmp_path / "channels.toml").write_text(channels)
        settings = make_settings(
            tmp_path,
            channels_file=tmp_path / "channels.toml",
            worker_concurrency=3,
            upstream_poll_interval=0.2,
            upstream_first_poll=0.1,
        )
        running = stack.enter_context(running_server(settings))
        _, key = running.new_account("10")
        with running.client(key) as client:
            ids = [submit(client, {"model": "Omni-Flash-Ext", "prompt": f"shot {n}", "duration": 4}) for n in range(3)]
            tasks = [wait_until_ended(client, task_id, timeout=90)[0] for task_id in ids]
        assert all(t["status"] == "completed" for t in tasks), tasks
        local = [t for t in tasks if "seed" in t]
        upstream = [t for t in tasks if "seed" not in t]
        assert len(local) == 2 and len(upstream) == 1, tasks
        assert upstream_of(running, upstream[0]["id"])[1]  # really made upstream
        assert {name for name, _ in calls.seen} == {"ltx-a", "ltx-b"}  # one task on each engine


def test_an_engine_that_cannot_load_is_benched_and_its_task_goes_upstream(
    tiny_pipelines: dict[str, Path], tmp_path: Path
) -> None:
    from tests.e2e.test_upstream_e2e import channel_toml, start_fake, upstream_of

    with ExitStack() as stack:
        fake = start_fake(stack, "apimart")
        gpu = local_toml("gpu0", tiny_pipelines["ltx"], "ltx", ["Omni-Flash-Ext"]).replace('"cpu"', '"cuda:0"')
        (tmp_path / "channels.toml").write_text(gpu + channel_toml("overflow", fake, ["Omni-Flash-Ext"], priority=0))
        settings = make_settings(
            tmp_path,
            channels_file=tmp_path / "channels.toml",
            retry_backoff_seconds=0.2,
            upstream_poll_interval=0.2,
            upstream_first_poll=0.1,
        )
        running = stack.enter_context(running_server(settings))
        _, key = running.new_account("10")
        with running.client(key) as client:
            task, _ = wait_until_ended(client, submit(client, {"model": "Omni-Flash-Ext", "prompt": "x"}), timeout=60)
        assert task["status"] == "completed" and "seed" not in task, task
        assert upstream_of(running, task["id"])[1]  # its second attempt, upstream
        [gpu0] = [c for c in running.store.channels.list() if c.name == "gpu0"]
        assert gpu0.benched_until is not None and "CUDA" in (gpu0.bench_reason or ""), gpu0  # no GPU here
