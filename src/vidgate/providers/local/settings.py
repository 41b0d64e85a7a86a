"""A local engine's settings block, and what its pipeline folder must hold.

Nothing here imports torch or diffusers: the channels file is read, the admin API validates and
start-up checks with this module alone. The folder is what ``save_pretrained`` writes (say
``Wan-AI/Wan2.2-TI2V-5B-Diffusers``, downloaded beforehand): ``model_index.json`` names the
pipeline class and its components, each in a sub-folder of its own. Nothing is ever downloaded
at run time, so a folder that lacks any of it is refused at start, naming what is missing.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: what ``pip install 'vidgate[local]'`` brings, by import name
PACKAGES = ("torch", "diffusers", "transformers", "accelerate")
INSTALL_HINT = "pip install 'vidgate[local]'"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


@dataclass(frozen=True)
class Family:
    """A family of diffusers pipelines, and what vidgate does with it."""

    name: str
    title: str
    #: the pipeline classes a folder of this family may be saved as
    pipelines: tuple[str, ...]
    text_to_video: str  # the class that makes a video from text
    image_to_video: str  # the class that starts from a first frame
    first_last: str  # the class that goes from a first to a last frame
    fps: int  # the frame rate its models were trained at
    fps_argument: bool  # whether its call takes ``frame_rate``


FAMILIES: dict[str, Family] = {
    "wan": Family(
        name="wan",
        title="Wan 2.1 / 2.2",
        pipelines=("WanPipeline", "WanImageToVideoPipeline"),
        text_to_video="WanPipeline",
        image_to_video="WanImageToVideoPipeline",
        first_last="WanImageToVideoPipeline",  # with last_image
        fps=16,
        fps_argument=False,
    ),
    "ltx": Family(
        name="ltx",
        title="LTX-Video",
        pipelines=("LTXPipeline", "LTXImageToVideoPipeline", "LTXConditionPipeline"),
        text_to_video="LTXPipeline",
        image_to_video="LTXImageToVideoPipeline",
        first_last="LTXConditionPipeline",  # conditions at the first and the last frame
        fps=24,
        fps_argument=True,
    ),
}
#: families diffusers has that vidgate does not serve yet: named so the refusal says so
NOT_YET = {
    "ltx2": "LTX-2 (LTX2Pipeline, with audio)",
    "wan-animate": "Wan Animate (WanAnimatePipeline)",
    "hunyuanvideo": "HunyuanVideo",
    "cogvideox": "CogVideoX",
    "skyreels-v2": "SkyReels-V2",
}


class LocalSettings(BaseModel):
    """The ``local`` block of a channel of provider ``local``."""

    model_config = ConfigDict(extra="forbid")

    family: str = Field(description="the pipeline family: wan or ltx")
    folder: str = Field(min_length=1, description="the folder save_pretrained wrote (model_index.json and components)")
    device: str = Field(default="cuda:0", pattern=r"^(cpu|mps|cuda(:[0-9]+)?)$", description="cuda:0, cuda:1, ..., cpu")
    dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    cpu_offload: bool = Field(default=False, description="move each component to the device only while it runs")
    steps: int = Field(default=30, ge=1, le=200, description="denoising steps of every task")
    guidance: float = Field(default=5.0, ge=0, le=30, description="classifier-free guidance scale")
    fps: int | None = Field(default=None, ge=1, le=60, description="the pipeline's frame rate; the family's if unset")
    max_area: int = Field(
        default=1280 * 720,
        ge=16 * 16,
        le=3840 * 2160,
        description="the most pixels per frame the pipeline generates; the output is scaled to the size promised",
    )
    pipeline: str | None = Field(default=None, description="read from the folder's model_index.json")
    expand_timesteps: bool = Field(default=False, description="read from the folder (Wan 2.2 TI2V)")

    @field_validator("family")
    @classmethod
    def _family(cls, v: str) -> str:
        name = v.lower()
        if name in FAMILIES:
            return name
        if name in NOT_YET:
            raise ValueError(
                f"the {NOT_YET[name]} family is not supported by vidgate's local engine yet; "
                f"supported: {', '.join(FAMILIES)}"
            )
        raise ValueError(f"unknown pipeline family {v!r}; supported: {', '.join(FAMILIES)}")

    @model_validator(mode="after")
    def _folder(self) -> LocalSettings:
        index = check_folder(Path(self.folder))
        cls = str(index.get("_class_name", ""))
        family = FAMILIES[self.family]
        if cls not in family.pipelines:
            raise ValueError(
                f"{self.folder} holds a {cls or 'pipeline of no class'}, not a {family.title} pipeline "
                f"({', '.join(family.pipelines)})"
            )
        self.pipeline = cls
        self.expand_timesteps = bool(index.get("expand_timesteps", False))
        return self

    @property
    def frame_rate(self) -> int:
        return self.fps or FAMILIES[self.family].fps


def check_folder(folder: Path) -> dict[str, Any]:
    """The folder's ``model_index.json``, after checking that every component it names is there
    (a sub-folder, with its config and, for a model, its weights); ValueError naming what is missing."""
    if not folder.is_dir():
        raise ValueError(
            f"the pipeline folder {folder} does not exist (nothing is downloaded: save the pipeline there)"
        )
    index_path = folder / "model_index.json"
    try:
        index = json.loads(index_path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{folder} has no model_index.json: it is not a folder save_pretrained wrote") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{index_path} cannot be read: {exc}") from None
    if not isinstance(index, dict):
        raise ValueError(f"{index_path} is not a JSON object")
    missing = []
    for name, entry in sorted(index.items()):
        if name.startswith("_") or not (isinstance(entry, list) and len(entry) == 2 and entry[1]):
            continue  # a setting (expand_timesteps, ...) or an absent optional component
        part = folder / name
        files = [p.name for p in part.iterdir()] if part.is_dir() else []
        if not files:
            missing.append(f"{name}/ ({entry[1]})")
        elif "config.json" in files and not any(f.endswith(WEIGHT_SUFFIXES) for f in files):
            missing.append(f"{name}/ weights (*.safetensors)")
    if missing:
        raise ValueError(f"the pipeline folder {folder} is incomplete; missing: {', '.join(missing)}")
    return index


def missing_packages() -> list[str]:
    """The packages of the ``local`` extra that are not installed (found without importing them)."""
    return [name for name in PACKAGES if not _installed(name)]


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a finder that refuses it; a module left half-imported
        return False
