"""Local engines' pipelines on their own, as a worker renders with them: LTX-Video from a first
to a last frame (``LTXConditionPipeline``), and Wan 2.2 TI2V (text and first frame from one
folder). Tiny randomly initialised pipelines on the CPU; the videos are decoded."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from tests.conftest import Calls
from tests.integration.test_local_engine import BLUE, RED
from tests.local_pipelines import TINY_AREA
from tests.video_checks import decode
from vidgate.catalog import parse_request
from vidgate.media.probe import probe_image
from vidgate.providers.base import InputMedia, RenderJob
from vidgate.providers.local.capabilities import refusal
from vidgate.providers.local.engine import LocalEngine
from vidgate.providers.local.render import render
from vidgate.providers.local.settings import LocalSettings


def test_ltx_goes_from_a_first_to_a_last_frame(tiny_pipelines: dict[str, Path], tmp_path: Path) -> None:
    settings = LocalSettings(
        family="ltx",
        folder=str(tiny_pipelines["ltx"]),
        device="cpu",
        dtype="float32",
        steps=2,
        fps=4,
        max_area=TINY_AREA,
    )
    body = {"model": "kling-v3", "prompt": "the sea", "duration": 3, "image_urls": [RED, BLUE]}
    assert refusal(settings, "ltx", parse_request(body)) is None  # so routing may send it there
    inputs = []
    for n, (role, colour) in enumerate([("first_frame", (220, 30, 30)), ("last_frame", (30, 30, 220))]):
        path = tmp_path / f"{n}.png"
        Image.new("RGB", (64, 36), colour).save(path)
        inputs.append(InputMedia(role=role, path=path, info=probe_image(path)))  # type: ignore[arg-type]
    job = RenderJob(
        task_id="t", model="kling-v3", prompt="the sea", width=1280, height=720, fps=24, frames=72, audio=False,
        inputs=tuple(inputs),
    )  # fmt: skip
    engine = LocalEngine("ltx", settings)
    render(engine, job, tmp_path / "out.mp4", lambda _: None, seed=7, preset="ultrafast")
    video = decode(tmp_path / "out.mp4")
    assert (video.width, video.height, video.frames) == (1280, 720, 72)
    assert "LTXConditionPipeline" in engine._pipes  # conditions at the first and the last frame


def test_wan_2_2_ti2v_makes_text_and_first_frame_videos_from_one_folder(
    tiny_pipelines: dict[str, Path], calls: Calls, tmp_path: Path
) -> None:
    settings = LocalSettings(
        family="wan", folder=str(tiny_pipelines["wan-ti2v"]), device="cpu", dtype="float32", steps=2, fps=4,
        max_area=64 * 32,
    )  # fmt: skip
    assert settings.expand_timesteps and settings.pipeline == "WanPipeline"
    last = {"model": "kling-v3", "prompt": "the sea", "duration": 3, "image_urls": [RED, BLUE]}
    assert "first and a last frame" in str(refusal(settings, "ti2v", parse_request(last)))
    first = tmp_path / "first.png"
    Image.new("RGB", (64, 36), (220, 30, 30)).save(first)
    engine = LocalEngine("ti2v", settings)
    for name, inputs in [
        ("text", ()),
        ("image", (InputMedia(role="first_frame", path=first, info=probe_image(first)),)),
    ]:
        job = RenderJob(
            task_id=name, model="kling-v3", prompt="the sea", width=1280, height=720, fps=24, frames=72, audio=False,
            inputs=inputs,
        )  # fmt: skip
        render(engine, job, tmp_path / f"{name}.mp4", lambda _: None, seed=3, preset="ultrafast")
        video = decode(tmp_path / f"{name}.mp4")
        assert (video.width, video.height, video.frames) == (1280, 720, 72)
    text, image = calls.of("ti2v")
    assert text.image is None and image.image is not None
    assert (text.shape.width, text.shape.height) == (64, 32)  # its latent grid: multiples of 32
    assert set(engine._pipes) == {"WanPipeline", "WanImageToVideoPipeline"}
