"""Channels as the engine uses them: read from the store, credentials unsealed, cached briefly
so that routing a task or polling a round costs no extra query; and what the engine learns of
their health written back (the cache then read afresh)."""

from __future__ import annotations

import logging
import threading
import time

from vidgate import metrics
from vidgate.providers.upstream.base import Credentials
from vidgate.routing.channels import AUTH_BENCH_S, COOL_DOWN_S, FAILURES_TO_BENCH, Channel, ChannelAction
from vidgate.secretbox import SecretBox
from vidgate.store import Store
from vidgate.store.channels import ChannelRecord

log = logging.getLogger(__name__)

REFRESH_S = 2.0


def to_channel(record: ChannelRecord, box: SecretBox) -> Channel:
    secrets = box.open(record.sealed_credentials)
    return Channel(
        id=record.id,
        name=record.name,
        provider=record.provider,
        base_url=record.base_url,
        models=frozenset(record.models),
        priority=record.priority,
        weight=record.weight,
        max_concurrent=record.max_concurrent,
        enabled=record.enabled,
        benched_until=record.benched_until,
        bench_reason=record.bench_reason,
        failures=record.failures,
        settings=record.settings,
        credentials=Credentials(
            base_url=record.base_url,
            api_key=secrets.get("api_key"),
            access_key=secrets.get("access_key"),
            secret_key=secrets.get("secret_key"),
        ),
    )


class ChannelRegistry:
    def __init__(self, store: Store, box: SecretBox, *, refresh: float = REFRESH_S) -> None:
        self.store = store
        self.box = box
        self.refresh = refresh
        self._channels: list[Channel] = []
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def channels(self) -> list[Channel]:
        with self._lock:
            if time.monotonic() - self._loaded_at > self.refresh:
                self._channels = [to_channel(r, self.box) for r in self.store.channels.list()]
                self._loaded_at = time.monotonic()
            return self._channels

    def get(self, channel_id: str) -> Channel | None:
        found = next((c for c in self.channels() if c.id == channel_id), None)
        if found is None:  # made moments ago in another process
            self.invalidate()
            found = next((c for c in self.channels() if c.id == channel_id), None)
        return found

    def serves(self, model: str) -> bool:
        """Whether an enabled upstream channel serves ``model`` (local engines are not upstream)."""
        return any(c.enabled and not c.local and model in c.models for c in self.channels())

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = float("-inf")

    def apply(self, channel: Channel, action: ChannelAction, reason: str = "") -> None:
        """Record what calls to ``channel`` showed (``reason``: the failure's message); the next
        read sees it. Blocking: the store is written."""
        if action is ChannelAction.NOTHING:
            return
        if action is ChannelAction.BENCH:
            log.error("channel %s benched: %s", channel.name, reason, extra={"channel": channel.name})
            self.store.channels.bench(channel.id, time.time() + AUTH_BENCH_S, reason)
            metrics.upstream_benches.labels(channel.name).inc()
        elif action is ChannelAction.RECORD_FAILURE:
            log.warning("channel %s failed: %s", channel.name, reason, extra={"channel": channel.name})
            if self.store.channels.record_failure(
                channel.id, threshold=FAILURES_TO_BENCH, cool_down=COOL_DOWN_S, reason=reason
            ):
                log.error(
                    "channel %s benched for %gs after %d failures in a row",
                    channel.name,
                    COOL_DOWN_S,
                    FAILURES_TO_BENCH,
                    extra={"channel": channel.name},
                )
                metrics.upstream_benches.labels(channel.name).inc()
        else:  # CLEAR_FAILURES
            self.store.channels.clear_failures(channel.id)
        self.invalidate()
