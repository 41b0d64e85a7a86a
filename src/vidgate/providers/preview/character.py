"""Motion control: the character image moves and scales as the picture of the reference video
does, over a still backdrop in the prompt's colours.

The reference video is decoded as a stream alongside the rendering, never more than a frame or
two of it in memory. Output frame ``i`` follows the reference frame showing at ``i / fps``
seconds, so a reference at another frame rate is resampled by time; past its end the character
keeps its last pose.
"""

from __future__ import annotations

import math
from functools import lru_cache

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image, ImageOps

from vidgate.providers.preview.colour import Planes, frame_from_planes, planes_of
from vidgate.providers.preview.motion import SIZE, MotionTracker, Pose
from vidgate.providers.preview.overlay import Overlay

#: the character rests in the middle of the frame, fitted inside this share of its sides
REST_BOX = (0.6, 0.8)
SCALE_LIMITS = (0.4, 2.5)
_SCALE_STEP = 0.015  # character sizes go in steps of 1.5%, each drawn once
_TIME_SLACK = 1e-3  # seconds: a reference frame this close to an output frame's time counts as on it


class ReferenceMotion:
    """The pose of a reference video's picture at each output frame's time (see ``motion``)."""

    def __init__(self, container: av.container.InputContainer, fps: int) -> None:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        self._decoded = container.decode(stream)
        self._fps = fps
        self._scaler = VideoReformatter()
        self._start: float | None = None
        self._upcoming = next(self._decoded, None)
        self._tracker: MotionTracker | None = None
        self._pose = Pose()

    def pose_at(self, index: int) -> Pose:
        """The pose at output frame ``index``; call for 0, 1, 2, ... in order."""
        showing = None
        while self._upcoming is not None and self._seconds(self._upcoming) <= index / self._fps + _TIME_SLACK:
            showing, self._upcoming = self._upcoming, next(self._decoded, None)
        if showing is not None:
            grey = self._analysis_picture(showing)
            if self._tracker is None:
                self._tracker = MotionTracker(grey)
            else:
                self._pose = self._tracker.follow(grey)
        return self._pose

    def _seconds(self, frame: av.VideoFrame) -> float:
        """The frame's time from the start of the video."""
        assert frame.pts is not None and frame.time_base is not None  # every decoded frame has both
        time = float(frame.pts * frame.time_base)
        if self._start is None:
            self._start = time
        return time - self._start

    def _analysis_picture(self, frame: av.VideoFrame) -> np.ndarray:
        """The frame as a small grey square, turned the way it is displayed."""
        grey = self._scaler.reformat(frame, width=SIZE, height=SIZE, format="gray", interpolation="AREA")
        return np.rot90(grey.to_ndarray(), frame.rotation // 90)


class Character:
    """The character picture, ready to be drawn at any scale of its resting size."""

    def __init__(self, picture: Image.Image, width: int, height: int) -> None:
        box = (round(width * REST_BOX[0]), round(height * REST_BOX[1]))
        self.picture = ImageOps.contain(picture, box, Image.Resampling.LANCZOS)
        self._overlay_at_step = lru_cache(maxsize=4)(self._overlay_for_step)

    def overlay(self, scale: float) -> Overlay:
        """The character at ``scale`` times its resting size (to the nearest step)."""
        return self._overlay_at_step(round(math.log(scale) / _SCALE_STEP))

    def _overlay_for_step(self, step: int) -> Overlay:
        scale = math.exp(step * _SCALE_STEP)
        size = (max(2, round(self.picture.width * scale)), max(2, round(self.picture.height * scale)))
        return Overlay.from_rgba(self.picture.resize(size, Image.Resampling.BICUBIC))


class CharacterScene:
    """The character over the backdrop, placed by the reference video's motion: moved as far
    (relative to the frame) as its picture moved, and scaled as it zoomed."""

    def __init__(self, character: Character, motion: ReferenceMotion, backdrop: Planes) -> None:
        self.character = character
        self.motion = motion
        self.backdrop = backdrop

    def frame(self, index: int) -> av.VideoFrame:
        frame = frame_from_planes(self.backdrop)
        target = planes_of(frame)
        pose = self.motion.pose_at(index)
        sprite = self.character.overlay(float(np.clip(pose.scale, *SCALE_LIMITS)))
        x = np.clip(target.width / 2 + pose.dx * target.width / SIZE, 0, target.width)
        y = np.clip(target.height / 2 + pose.dy * target.height / SIZE, 0, target.height)
        sprite.draw(target, round(x - sprite.width / 2), round(y - sprite.height / 2))
        return frame
