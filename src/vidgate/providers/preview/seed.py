"""Stable seeds: the same text gives the same pictures and sounds in every process and run."""

from __future__ import annotations

import hashlib

import numpy as np


def stable_seed(text: str, salt: str = "") -> int:
    """A 64-bit seed from a SHA-256 of the text (Python's ``hash()`` is salted per process)."""
    digest = hashlib.sha256(f"{salt}\x00{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def rng_for(text: str, salt: str = "") -> np.random.Generator:
    return np.random.default_rng(stable_seed(text, salt))
