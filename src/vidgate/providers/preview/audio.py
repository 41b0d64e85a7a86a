"""Soundtracks, produced a chunk at a time: a gentle chord pad from the prompt's seed, or the
audio of a reference video carried over.

Every source hands out stereo float samples at 48 kHz on request and never holds more than a
decoded frame or two of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, Self

import av
import numpy as np

from vidgate.providers.base import RenderJob
from vidgate.providers.preview.seed import rng_for

SAMPLE_RATE = 48_000
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
_PROGRESSIONS = ((0, 5, 3, 4), (0, 3, 4, 3), (0, 4, 5, 3), (5, 3, 0, 4), (0, 2, 3, 4))
_VOICE_GAIN = 0.08  # four voices, two chords overlapping at most: peaks stay below 1.0
_FADE_IN, _FADE_OUT = 0.5, 0.8  # seconds


class AudioSource(Protocol):
    def read(self, count: int) -> np.ndarray:
        """The next ``count`` samples as a (2, count) float32 array."""
        ...


def samples_before(frame: int, fps: int) -> int:
    """How many audio samples play before video frame ``frame`` starts."""
    return frame * SAMPLE_RATE // fps


@contextmanager
def audio_for(job: RenderJob) -> Iterator[AudioSource | None]:
    """The job's soundtrack, or None when the video must have no audio track."""
    if not job.audio:
        yield None
    elif job.audio_from is not None:
        with ReferenceAudio(job.audio_from) as reference:
            yield reference
    else:
        prompt = job.prompt or " ".join(shot.prompt for shot in job.shots)
        yield ChordPad(rng_for(prompt, salt="audio"), samples_before(job.frames, job.fps))


class ChordPad:
    """Sine chords (a bass note and a triad) that swell in and out one after another over a
    seed-chosen key and progression, with a fade at both ends of the track."""

    def __init__(self, rng: np.random.Generator, total: int) -> None:
        self.total = total
        self.position = 0
        root = 45 + int(rng.integers(12))  # A2 .. G#3
        scale = _MINOR if rng.random() < 0.5 else _MAJOR
        progression = _PROGRESSIONS[int(rng.integers(len(_PROGRESSIONS)))]
        self.chords = [_chord(root, scale, degree) for degree in progression]
        self.chord_length = int(SAMPLE_RATE * float(rng.choice([1.5, 2.0, 2.5, 3.0])))
        self.pans = rng.uniform(0.25, 0.75, size=4)  # share of each voice on the right

    def read(self, count: int) -> np.ndarray:
        index = self.position + np.arange(count)
        steps = np.arange(count, dtype=np.float32)
        left = np.zeros(count, np.float32)
        right = np.zeros(count, np.float32)
        length, spill = self.chord_length, self.chord_length // 4
        first = max(0, (self.position - spill) // length)
        last = (self.position + count + spill) // length
        for number in range(first, last + 1):  # the chords that sound in this stretch
            span = (number * length - spill, (number + 1) * length + spill)
            swell = np.clip((index - span[0]) / (span[1] - span[0]), 0.0, 1.0)
            envelope = (np.sin(np.pi * swell) * _VOICE_GAIN).astype(np.float32)
            for frequency, pan in zip(self.chords[number % len(self.chords)], self.pans):
                # the phase at this read's first sample, in float64, then float32 steps from there
                step = 2 * np.pi * frequency / SAMPLE_RATE
                phase = np.float32(step * self.position % (2 * np.pi)) + np.float32(step) * steps
                tone = (np.sin(phase) + 0.25 * np.sin(2 * phase)) * envelope
                left += tone * np.float32(1 - pan)
                right += tone * np.float32(pan)
        seconds = index / SAMPLE_RATE
        fade = np.minimum(seconds / _FADE_IN, (self.total - index) / (_FADE_OUT * SAMPLE_RATE))
        gain = np.clip(fade, 0.0, 1.0).astype(np.float32)
        self.position += count
        return np.stack([left * gain, right * gain])


class ReferenceAudio:
    """The first audio track of a video file, as 48 kHz stereo; silence once it runs out (or
    throughout, if the file has no audio)."""

    def __init__(self, path: Path) -> None:
        self._container = av.open(str(path))
        streams = self._container.streams.audio
        self._chunks = self._decode(streams[0]) if streams else iter(())
        self._buffer = np.zeros((2, 0), np.float32)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._container.close()

    def read(self, count: int) -> np.ndarray:
        parts = [self._buffer]
        have = self._buffer.shape[1]
        for chunk in self._chunks:
            parts.append(chunk)
            have += chunk.shape[1]
            if have >= count:
                break
        data = np.concatenate(parts, axis=1)
        if data.shape[1] < count:
            data = np.pad(data, ((0, 0), (0, count - data.shape[1])))
        self._buffer = data[:, count:]
        return data[:, :count]

    def _decode(self, stream: av.audio.stream.AudioStream) -> Iterator[np.ndarray]:
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
        for frame in self._container.decode(stream):
            for converted in resampler.resample(frame):
                yield converted.to_ndarray()
        for converted in resampler.resample(None):
            yield converted.to_ndarray()


def _chord(root: int, scale: tuple[int, ...], degree: int) -> list[float]:
    """Bass note plus a triad an octave up, built on ``degree`` of the scale, in Hz."""

    def midi(step: int) -> int:
        return root + scale[step % 7] + 12 * (step // 7)

    notes = [midi(degree), *(midi(degree + offset) + 12 for offset in (0, 2, 4))]
    return [440.0 * 2 ** ((note - 69) / 12) for note in notes]
