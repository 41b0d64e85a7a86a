"""Local engines configured like channels: in the channels file and through the admin API, the
folder checked at start (naming what is missing: nothing is downloaded), and a server without
the ``local`` extra that says what to install (and never imports torch to start)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from tests.e2e.test_end_to_end import wait_until_ended
from tests.integration.test_local_engine import local_toml
from tests.server import free_port, running_server
from vidgate.app import create_app
from vidgate.catalog import parse_request
from vidgate.errors import TaskFailure
from vidgate.routing.local import LocalRouter
from vidgate.routing.registry import REFRESH_S, ChannelRegistry
from vidgate.routing.spec import ChannelsFileError, ChannelSpec, load_channels_file, sync_channels
from vidgate.secretbox import SecretBox
from vidgate.store import Store

ADMIN = "admin-token-for-tests-0123456789"


def incomplete(tiny_pipelines: dict[str, Path], tmp_path: Path, without: str) -> Path:
    folder = tmp_path / f"without-{without.replace('/', '-')}"
    shutil.copytree(tiny_pipelines["wan-t2v"], folder)
    target = folder / without
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink()
    return folder


def test_a_missing_or_incomplete_folder_is_an_error_at_start_naming_what_is_missing(
    tiny_pipelines: dict[str, Path], tmp_path: Path
) -> None:
    cases = {
        tmp_path / "nowhere": "does not exist",
        incomplete(tiny_pipelines, tmp_path, "vae"): "missing: vae/ (AutoencoderKLWan)",
        incomplete(tiny_pipelines, tmp_path, "transformer/diffusion_pytorch_model.safetensors"): "transformer/ weights",
        incomplete(tiny_pipelines, tmp_path, "model_index.json"): "no model_index.json",
    }
    for folder, words in cases.items():
        (tmp_path / "channels.toml").write_text(local_toml("gpu0", folder, "wan", ["kling-v3"]))
        with pytest.raises(ChannelsFileError, match="gpu0") as caught:
            create_app(make_settings(tmp_path, channels_file=tmp_path / "channels.toml"))
        assert words in str(caught.value), caught.value
    (tmp_path / "channels.toml").write_text(local_toml("gpu0", tiny_pipelines["ltx"], "wan", ["kling-v3"]))
    with pytest.raises(ChannelsFileError, match="holds a LTXPipeline, not a Wan 2.1 / 2.2 pipeline"):
        load_channels_file(tmp_path / "channels.toml")
    (tmp_path / "channels.toml").write_text(local_toml("gpu0", tiny_pipelines["ltx"], "cogvideox", ["kling-v3"]))
    with pytest.raises(ChannelsFileError, match="CogVideoX family is not supported by vidgate's local engine yet"):
        load_channels_file(tmp_path / "channels.toml")


def test_the_admin_api_creates_and_changes_a_local_engine(tiny_pipelines: dict[str, Path], tmp_path: Path) -> None:
    engine = {
        "name": "gpu0",
        "provider": "local",
        "models": ["kling-v3"],
        "priority": 10,
        "local": {"family": "wan", "folder": str(tiny_pipelines["wan-t2v"]), "device": "cuda:0", "steps": 30},
    }
    with (
        running_server(make_settings(tmp_path, admin_token=ADMIN, workers=False)) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {ADMIN}"}) as client,
    ):
        r = client.post("/admin/v1/channels", json=engine)
        assert r.status_code == 200, r.text
        made = r.json()["data"]
        assert made["max_concurrent"] == 1 and made["credentials"] == "none"  # one task at a time on its device
        assert made["local"]["pipeline"] == "WanPipeline" and made["local"]["dtype"] == "bfloat16"
        changed = client.patch(f"/admin/v1/channels/{made['id']}", json={"local": {"steps": 12, "cpu_offload": True}})
        assert changed.status_code == 200, changed.text
        local = changed.json()["data"]["local"]
        assert (local["steps"], local["cpu_offload"], local["device"]) == (12, True, "cuda:0")
        broken = {**engine, "name": "gpu1", "local": {**engine["local"], "folder": str(tmp_path / "nowhere")}}
        r = client.post("/admin/v1/channels", json=broken)
        assert r.status_code == 400 and "does not exist" in r.text, r.text
        r = client.post("/admin/v1/channels", json={**engine, "name": "gpu2", "max_concurrent": 2})
        assert r.status_code == 400 and "max_concurrent must be 1" in r.text, r.text


BLOCK_TORCH = """
import importlib.abc, sys

class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "diffusers"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, NoTorch())
"""


def run_python(code: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIDGATE_CHANNELS_FILE": str(tmp_path / "channels.toml"), "VIDGATE_DATA_DIR": str(tmp_path)}
    env.pop("VIDGATE_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_without_the_extra_a_configured_engine_says_what_to_install(
    tiny_pipelines: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "channels.toml").write_text(local_toml("gpu0", tiny_pipelines["wan-t2v"], "wan", ["kling-v3"]))
    run = run_python(BLOCK_TORCH + "from vidgate.cli import main\nmain()", tmp_path, "worker")
    assert run.returncode != 0
    assert "the local engine gpu0 needs torch, diffusers" in run.stderr, run.stderr
    assert "pip install 'vidgate[local]'" in run.stderr, run.stderr


def test_starting_a_server_imports_no_torch(tiny_pipelines: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "channels.toml").write_text(local_toml("gpu0", tiny_pipelines["wan-t2v"], "wan", ["kling-v3"]))
    code = """
        import sys
        from vidgate.app import create_app
        from vidgate.config import load_settings
        create_app(load_settings())
        loaded = sorted(m for m in ("torch", "diffusers", "transformers") if m in sys.modules)
        print("loaded:", loaded)
    """
    run = run_python(code, tmp_path)
    assert run.returncode == 0, run.stderr
    assert "loaded: []" in run.stdout, run.stdout


def test_an_engine_added_to_a_server_without_the_extra_fails_its_tasks_saying_what_to_install(
    tiny_pipelines: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "channels.toml").write_text("")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")},
        "VIDGATE_DATA_DIR": str(tmp_path),
        "VIDGATE_ADMIN_TOKEN": ADMIN,
        "VIDGATE_POLL_INTERVAL_SECONDS": "0.2",
    }
    code = BLOCK_TORCH + "from vidgate.cli import main\nmain()"
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([sys.executable, "-c", code, "serve", "--port", str(port)], env=env, stderr=log)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            started = time.monotonic() < deadline and server.poll() is None
            assert started, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        engine = {
            "name": "gpu0",
            "provider": "local",
            "models": ["kling-v3"],
            "local": {"family": "wan", "folder": str(tiny_pipelines["wan-t2v"]), "device": "cpu"},
        }
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN}"}) as admin:
            assert admin.post("/admin/v1/channels", json=engine).status_code == 200
            account = admin.post("/admin/v1/accounts", json={"name": "a", "balance": 10}).json()["data"]
            key = admin.post(f"/admin/v1/accounts/{account['id']}/keys", json={"name": "k"}).json()["data"]["secret"]
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:
            time.sleep(REFRESH_S)  # the workers' view of the channels is read afresh this often
            r = client.post("/v1/videos/generations", json={"model": "kling-v3", "prompt": "x", "duration": 3})
            task, _ = wait_until_ended(client, r.json()["data"][0]["task_id"], timeout=60)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert task["status"] == "failed" and task["error"]["reason"] == "local_engine_error", task
    assert "pip install 'vidgate[local]'" in task["error"]["message"] and task["cost"] == 0, task


def test_a_task_no_engine_would_make_any_more_fails_instead_of_waiting(
    store: Store, tiny_pipelines: dict[str, Path]
) -> None:
    """Accepted while an engine made it; the engine changed before a worker took it."""
    box = SecretBox(b"k" * 32)
    engine = local_toml("gpu0", tiny_pipelines["wan-i2v"], "wan", ["kling-v3"])  # first frames only
    sync_channels(store, box, [ChannelSpec.model_validate(tomllib.loads(engine)["channels"][0])])
    router = LocalRouter(store, ChannelRegistry(store, box), preset="ultrafast")
    text = parse_request({"model": "kling-v3", "prompt": "a dog", "duration": 3})
    assert router.place("task_x", "w", text) is None
    with pytest.raises(TaskFailure, match="does not do text to video") as failed:
        router.wait_for_room(text)
    assert failed.value.reason == "unsupported_combination"
    image = parse_request({"model": "kling-v3", "prompt": "a dog", "image_urls": ["https://example.com/a.png"]})
    router.wait_for_room(image)  # it would: the task waits for the engine's room
