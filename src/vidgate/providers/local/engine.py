"""A loaded diffusers pipeline on one device, and one generation with it.

The only module that imports torch and diffusers, when a local engine first runs a task. The
pipeline is loaded from the operator's folder alone (``local_files_only``, and the hub offline
for this process): nothing is ever downloaded. The pipelines of the other modes (image to video
beside text to video; LTX-Video's conditions at the first and the last frame) are made from the
loaded one's components (``from_pipe``): no second copy.
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vidgate.providers.local.frames import Geometry, Shape, to_uint8
from vidgate.providers.local.settings import FAMILIES, LocalSettings

log = logging.getLogger(__name__)

#: loading is one at a time in a process: diffusers loads through accelerate's empty-weights
#: context, which patches torch for the whole process (two loads at once leave meta tensors)
_LOADING = threading.Lock()
#: called after each denoising step with (steps done, steps in all); may raise to stop
StepFn = Callable[[int, int], None]


def _diffusers() -> Any:
    """diffusers, imported when an engine first runs (its functions are not typed)."""
    return importlib.import_module("diffusers")


class OutOfMemory(Exception):
    """The device ran out of memory; its memory was given back and the engine stays usable."""


class LoadFailed(Exception):
    """The pipeline could not be loaded onto its device (a driver, a device, a broken file)."""


class GenerationFailed(Exception):
    """The pipeline refused or failed one generation (a size or length the model cannot take)."""


@dataclass(frozen=True)
class Generation:
    """One call of the pipeline."""

    prompt: str
    negative_prompt: str | None
    shape: Shape
    seed: int
    image: Image.Image | None = None
    last_image: Image.Image | None = None


class LocalEngine:
    """One pipeline, loaded on first use and kept loaded between tasks."""

    def __init__(self, name: str, settings: LocalSettings) -> None:
        self.name = name
        self.settings = settings
        self.family = FAMILIES[settings.family]
        self._pipes: dict[str, Any] = {}  # pipeline class name -> pipeline (sharing components)
        self._lock = threading.Lock()
        self.load_seconds = 0.0

    def load(self) -> None:
        """Load the folder's pipeline onto the device (once)."""
        with self._lock, _LOADING:
            if self._pipes:
                return
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # and from_pretrained is told: local files only
            import time

            import torch

            diffusers = _diffusers()

            started = time.perf_counter()
            s = self.settings
            try:
                pipe = diffusers.DiffusionPipeline.from_pretrained(
                    Path(s.folder), dtype=getattr(torch, s.dtype), local_files_only=True
                )
                if s.cpu_offload:
                    pipe.enable_model_cpu_offload(device=s.device)
                else:
                    pipe.to(s.device)
            except Exception as exc:  # whatever torch or the driver raise: the engine cannot work
                self._free()
                raise LoadFailed(f"{type(exc).__name__}: {exc}") from exc
            pipe.set_progress_bar_config(disable=True)
            self._pipes[type(pipe).__name__] = pipe
            self.load_seconds = time.perf_counter() - started
            log.info(
                "local engine %s: %s loaded on %s in %.1fs", self.name, type(pipe).__name__, s.device, self.load_seconds
            )

    def geometry(self) -> Geometry:
        self.load()
        pipe = next(iter(self._pipes.values()))
        if self.family.name == "wan":
            frame_step = int(pipe.vae_scale_factor_temporal)
            size_step = int(pipe.vae_scale_factor_spatial) * int(pipe.transformer.config.patch_size[1])
        else:  # LTX-Video: its checks want multiples of 32 whatever the VAE
            frame_step = int(pipe.vae_temporal_compression_ratio)
            size_step = max(32, int(pipe.vae_spatial_compression_ratio) * int(pipe.transformer_spatial_patch_size))
        return Geometry(fps=self.settings.frame_rate, frame_step=frame_step, size_step=size_step)

    def generate(self, gen: Generation, on_step: StepFn) -> np.ndarray:
        """The generated frames, (n, h, w, 3) 8-bit RGB. Raises OutOfMemory when the device ran out."""
        import torch

        if gen.last_image is not None:
            wanted = self.family.first_last
        else:
            wanted = self.family.image_to_video if gen.image is not None else self.family.text_to_video
        pipe = self._pipeline(wanted)
        steps = self.settings.steps

        def callback(_pipe: Any, step: int, _timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            on_step(step + 1, steps)  # raising here (a cancel) stops the pipeline at this step
            return kwargs

        kwargs: dict[str, Any] = {
            "prompt": gen.prompt,
            "negative_prompt": gen.negative_prompt,
            "height": gen.shape.height,
            "width": gen.shape.width,
            "num_frames": gen.shape.frames,
            "num_inference_steps": steps,
            "guidance_scale": self.settings.guidance,
            "generator": torch.Generator(device="cpu").manual_seed(gen.seed),
            "output_type": "np",
            "callback_on_step_end": callback,
        }
        if self.family.fps_argument:
            kwargs["frame_rate"] = self.settings.frame_rate
        if gen.last_image is not None and wanted != self.family.image_to_video:  # LTX: frame conditions
            kwargs["image"] = [gen.image, gen.last_image]
            kwargs["frame_index"] = [0, gen.shape.frames - 1]
        elif gen.image is not None:
            kwargs["image"] = gen.image
            if gen.last_image is not None:
                kwargs["last_image"] = gen.last_image
        try:
            with torch.inference_mode():
                frames = pipe(**kwargs).frames[0]
        except torch.OutOfMemoryError as exc:
            self._free()
            raise OutOfMemory(str(exc).splitlines()[0] if str(exc) else "out of memory") from None
        except (RuntimeError, ValueError, TypeError, IndexError) as exc:  # not a cancel: that is a TaskFailure
            self._free()
            raise GenerationFailed(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
        return to_uint8(np.asarray(frames))

    def _pipeline(self, wanted: str) -> Any:
        """The pipeline of class ``wanted``: the loaded one, or one made from its components."""
        self.load()
        with self._lock, _LOADING:
            if wanted not in self._pipes:
                diffusers = _diffusers()
                loaded = next(iter(self._pipes.values()))
                pipe = getattr(diffusers, wanted).from_pipe(loaded)
                pipe.set_progress_bar_config(disable=True)
                self._pipes[wanted] = pipe
            return self._pipes[wanted]

    def _free(self) -> None:
        """Give back what a failed generation held, so the next task finds the device usable."""
        import torch

        gc.collect()
        if self.settings.device.startswith("cuda") and torch.cuda.is_available():
            torch.cuda.empty_cache()

    def unload(self) -> None:
        with self._lock:
            self._pipes.clear()
        self._free()
