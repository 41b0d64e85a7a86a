"""A local engine's frame and size rules (pure): the family's frame-count rule, the latent
grid's multiples within the operator's area, and the generated clip spread over the output."""

from __future__ import annotations

import numpy as np

from vidgate.providers.local.frames import Geometry, generated_frames, generated_size, spread

WAN = Geometry(fps=16, frame_step=4, size_step=16)
LTX = Geometry(fps=24, frame_step=8, size_step=32)


def test_durations_become_frame_counts_the_family_allows() -> None:
    assert generated_frames(5, WAN) == 81  # Wan's 81 frames: 4k+1 at 16 fps
    assert generated_frames(3, WAN) == 49
    assert generated_frames(5, LTX) == 121  # 8k+1 at 24 fps
    assert generated_frames(0.1, WAN) == 5  # never fewer than one step
    assert all((generated_frames(s, WAN) - 1) % 4 == 0 for s in range(1, 16))


def test_sizes_are_the_nearest_the_latent_grid_holds_within_the_area() -> None:
    assert generated_size(1280, 720, WAN, 1280 * 720) == (1280, 720)
    assert generated_size(1920, 1080, WAN, 1280 * 720) == (1280, 720)  # scaled down to the area
    assert generated_size(1280, 720, WAN, 832 * 480) == (832, 480)  # Wan 480p models' own size
    assert generated_size(1280, 720, WAN, 32 * 32) == (32, 16)  # tiny: the nearest aspect ratio
    assert generated_size(1280, 720, Geometry(16, 4, 32), 64 * 32) == (64, 32)
    assert generated_size(720, 1280, LTX, 1280 * 720) == (704, 1280)  # multiples of 32
    w, h = generated_size(3840, 2160, LTX, 768 * 512)
    assert w % 32 == 0 and h % 32 == 0 and w * h <= 768 * 512


def test_the_generated_clip_is_spread_over_the_output() -> None:
    index = spread(81, 120)  # 81 frames at 16 fps over 5 s at 24 fps
    assert index[0] == 0 and index[-1] == 80 and len(index) == 120
    assert np.all(np.diff(index) >= 0)
    assert spread(1, 24).tolist() == [0] * 24
