"""The operator's view of channels: create, change, list, delete. Credentials go in sealed and
never come out: answers show whether they are set, not what they are."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from vidgate.errors import Conflict, InvalidRequest, NotFound
from vidgate.i18n import Message
from vidgate.routing.registry import to_channel
from vidgate.routing.spec import ChannelSpec
from vidgate.secretbox import SecretBox
from vidgate.store import Store
from vidgate.store.channels import ChannelRecord


class ChannelPatch(BaseModel):
    """Any subset of a channel's fields; credentials left out are kept as they are."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    provider: str | None = None
    base_url: str | None = None
    models: list[str] | None = None
    priority: int | None = None
    weight: int | None = None
    max_concurrent: int | None = None
    enabled: bool | None = None
    api_key: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    local: dict[str, Any] | None = None  # a local engine's settings: only the keys given change


class ChannelService:
    def __init__(self, store: Store, box: SecretBox) -> None:
        self.store = store
        self.box = box

    def list(self) -> list[dict[str, Any]]:
        in_flight = self.store.channels.in_flight()
        return [self._public(r, in_flight) for r in self.store.channels.list()]

    def get(self, channel_id: str) -> dict[str, Any]:
        return self._public(self._record(channel_id), self.store.channels.in_flight())

    def create(self, spec: ChannelSpec) -> dict[str, Any]:
        if any(r.name == spec.name for r in self.store.channels.list()):
            raise Conflict(
                Message("a channel named {name!r} exists already; change it instead", name=spec.name),
                code="channel_exists",
            )
        record = self.store.channels.upsert(spec.sealed(self.box))
        return self._public(record, {})

    def update(self, channel_id: str, patch: ChannelPatch) -> dict[str, Any]:
        current = to_channel(self._record(channel_id), self.box)
        merged = {
            "name": current.name,
            "provider": current.provider,
            "base_url": current.base_url,
            "models": sorted(current.models),
            "priority": current.priority,
            "weight": current.weight,
            "max_concurrent": current.max_concurrent,
            "enabled": current.enabled,
            "api_key": current.credentials.api_key,
            "access_key": current.credentials.access_key,
            "secret_key": current.credentials.secret_key,
            **patch.model_dump(exclude_unset=True),
        }
        if current.local or patch.local is not None:
            merged["local"] = {**(current.settings or {}), **(patch.local or {})}
        if merged.get("provider") == "local":
            for key in ("api_key", "access_key", "secret_key", "base_url"):
                merged.pop(key, None)
        try:
            spec = ChannelSpec.model_validate(merged)
        except ValidationError as exc:
            raise InvalidRequest(
                Message("invalid channel: {detail}", detail=exc.errors()[0]["msg"]), code="invalid_channel"
            ) from None
        fields = spec.sealed(self.box)
        if not patch.model_fields_set & {"api_key", "access_key", "secret_key", "enabled"}:
            del fields["credentials"]  # unchanged: keep the bench state as it is
            del fields["enabled"]
        record = self.store.channels.update(channel_id, fields)
        if record is None:  # deleted meanwhile
            raise NotFound(Message("no channel {channel_id!r}", channel_id=channel_id), code="channel_not_found")
        return self._public(record, self.store.channels.in_flight())

    def delete(self, channel_id: str) -> None:
        self._record(channel_id)
        if not self.store.channels.delete(channel_id):
            raise Conflict(
                Message(
                    "this channel still has tasks in flight; disable it (enabled: false) and delete it once they end"
                ),
                code="channel_busy",
            )

    def _record(self, channel_id: str) -> ChannelRecord:
        record = self.store.channels.get(channel_id)
        if record is None:
            raise NotFound(Message("no channel {channel_id!r}", channel_id=channel_id), code="channel_not_found")
        return record

    def _public(self, record: ChannelRecord, in_flight: dict[str, int]) -> dict[str, Any]:
        return {**to_channel(record, self.box).public(), "in_flight": in_flight.get(record.id, 0)}
