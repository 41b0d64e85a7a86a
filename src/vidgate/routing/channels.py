"""Channels and how one is chosen (pure: no I/O).

A channel is a provider + base URL + credentials + the models it serves + priority + weight +
the most tasks it may have in flight. For a new task: among the healthy channels of the highest
priority that serve the model and have room, pick by weight. A channel that keeps failing is
benched for a cool-down; one whose credentials or account are refused is benched until fixed.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field
from typing import Any

from vidgate.providers.upstream.base import Credentials

#: consecutive transient failures after which a channel is benched for a cool-down
FAILURES_TO_BENCH = 3
COOL_DOWN_S = 60.0
#: a channel whose credentials or account were refused waits this long before it is tried again
AUTH_BENCH_S = 15 * 60.0


class ChannelAction(enum.Enum):
    """What the outcome of calls to a channel means for it (the engine's ``health`` decides,
    :meth:`vidgate.routing.registry.ChannelRegistry.apply` records it)."""

    NOTHING = "nothing"  # nothing to record: the channel is fine, or merely at its limit
    RECORD_FAILURE = "record_failure"  # failed once more: FAILURES_TO_BENCH in a row bench it for COOL_DOWN_S
    BENCH = "bench"  # it cannot work until fixed (credentials, account): benched for AUTH_BENCH_S
    CLEAR_FAILURES = "clear_failures"  # it answered: its run of failures is over


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    provider: str  # "kling" | "apimart" | "local"
    base_url: str
    models: frozenset[str]
    priority: int = 0
    weight: int = 1
    max_concurrent: int = 10
    enabled: bool = True
    benched_until: float | None = None
    bench_reason: str | None = None
    failures: int = 0
    credentials: Credentials = field(default_factory=lambda: Credentials(""), repr=False, compare=False)
    #: a local engine's settings block (``providers.local.LocalSettings``), as stored
    settings: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def local(self) -> bool:
        """A local engine (the worker renders with it), not an upstream service."""
        return self.provider == "local"

    def healthy(self, now: float) -> bool:
        return self.enabled and (self.benched_until is None or self.benched_until <= now)

    def public(self) -> dict[str, object]:
        """What operators see: everything but the credentials."""
        out: dict[str, object] = {
            "id": self.id,
            "name": self.name,
            "provider": self.provider,
            "base_url": self.base_url,
            "models": sorted(self.models),
            "priority": self.priority,
            "weight": self.weight,
            "max_concurrent": self.max_concurrent,
            "enabled": self.enabled,
            "benched_until": self.benched_until,
            "bench_reason": self.bench_reason,
            "failures": self.failures,
            "credentials": "set" if (self.credentials.api_key or self.credentials.access_key) else "missing",
        }
        if self.local:
            out["credentials"] = "none"
            out["local"] = self.settings
        return out


def choose(
    channels: list[Channel],
    model: str,
    in_flight: dict[str, int],
    *,
    now: float,
    exclude: frozenset[str] = frozenset(),
    rng: random.Random | None = None,
) -> Channel | None:
    """The channel for a new task of ``model``, or None when no channel can take it now."""
    ready = [
        c
        for c in channels
        if model in c.models and c.id not in exclude and c.healthy(now) and in_flight.get(c.id, 0) < c.max_concurrent
    ]
    if not ready:
        return None
    top = max(c.priority for c in ready)
    group = [c for c in ready if c.priority == top]
    return (rng or random).choices(group, weights=[max(1, c.weight) for c in group])[0]


def upstream(channels: list[Channel]) -> list[Channel]:
    """The channels that are upstream services (not local engines)."""
    return [c for c in channels if not c.local]


def serving(channels: list[Channel], model: str) -> list[Channel]:
    """Every enabled channel configured for ``model`` (healthy or not)."""
    return [c for c in channels if c.enabled and model in c.models]
