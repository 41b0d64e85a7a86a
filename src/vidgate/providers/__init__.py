"""Providers make the videos: ``preview`` (embedded procedural renderer) and upstream services."""
