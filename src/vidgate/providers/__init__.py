"""Providers make the videos: ``preview`` (embedded procedural renderer) and upstream services."""

from __future__ import annotations

from vidgate.config import Settings
from vidgate.providers.base import Provider


def make_provider(settings: Settings) -> Provider:
    if settings.provider == "instant":
        from vidgate.providers.instant import InstantProvider

        return InstantProvider(seconds=settings.instant_seconds, journal=settings.data_dir / "instant-journal.log")
    from vidgate.providers.preview import PreviewProvider

    return PreviewProvider(preset=settings.preview_preset)
