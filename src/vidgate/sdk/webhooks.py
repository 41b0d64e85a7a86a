"""Webhooks in the SDK: checking a delivery (``verify``) and managing the account's endpoints
(``client.webhooks``, sync and async alike).

    from vidgate.sdk.webhooks import verify

    event = verify(secret, request_body, request_headers)  # raises WebhookVerificationError
    if event["type"] == "task.completed":
        video = event["data"]["result"]["videos"][0]["url"][0]

Deliveries follow the Standard Webhooks specification; this is its reference library's check
(signature, and a timestamp within five minutes). An event may arrive more than once (the same
``webhook-id`` each time): receivers should treat a repeat as done.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from vidgate.sdk import _http

if TYPE_CHECKING:
    from vidgate.sdk.aclient import AsyncClient
    from vidgate.sdk.client import Client

__all__ = ["AsyncWebhooks", "WebhookVerificationError", "Webhooks", "verify"]

PATH = "/v1/webhooks"
EVENT_TYPES = ("task.processing", "task.completed", "task.failed", "task.cancelled", "video.completed", "video.failed")


def verify(secret: str, body: bytes | str, headers: Mapping[str, str]) -> dict[str, Any]:
    """The event a delivery carries, once its signature and timestamp are checked with
    ``secret`` (``whsec_...``); raises WebhookVerificationError if they do not hold."""
    event: dict[str, Any] = Webhook(secret).verify(body, {k.lower(): v for k, v in headers.items()})
    return event


def _path(webhook_id: str, *rest: str) -> str:
    return "/".join([PATH, quote(webhook_id, safe=""), *(quote(part, safe="") for part in rest)])


def _new(url: str, events: list[str] | None, description: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url}
    if events is not None:
        body["events"] = events
    if description is not None:
        body["description"] = description
    return body


class Webhooks:
    """``client.webhooks``: the account's endpoints (each a dict, as the API answers)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return _http.data_of(self._client._api(method, path, **kwargs))

    def create(self, url: str, events: list[str] | None = None, *, description: str | None = None) -> dict[str, Any]:
        """A new endpoint (every event type unless ``events``); its ``secret`` is in this answer only."""
        return dict(self._call("POST", PATH, json=_new(url, events, description)))

    def list(self) -> builtins.list[dict[str, Any]]:
        return list(self._call("GET", PATH))

    def get(self, webhook_id: str) -> dict[str, Any]:
        return dict(self._call("GET", _path(webhook_id)))

    def update(self, webhook_id: str, **fields: Any) -> dict[str, Any]:
        """Change ``url``, ``events``, ``description`` or ``enabled``."""
        return dict(self._call("PATCH", _path(webhook_id), json=fields))

    def delete(self, webhook_id: str) -> dict[str, Any]:
        return dict(self._call("DELETE", _path(webhook_id)))

    def rotate_secret(self, webhook_id: str) -> dict[str, Any]:
        return dict(self._call("POST", _path(webhook_id, "rotate-secret")))

    def deliveries(self, webhook_id: str, *, limit: int = 100) -> builtins.list[dict[str, Any]]:
        """The newest deliveries, each with its attempts; ``"default"``: the callback_url ones."""
        return list(self._call("GET", _path(webhook_id, "deliveries"), params={"limit": limit}))

    def redeliver(self, webhook_id: str, delivery_id: str) -> dict[str, Any]:
        return dict(self._call("POST", _path(webhook_id, "deliveries", delivery_id, "redeliver")))

    def default_secret(self) -> str:
        """The secret that signs the account's callback_url deliveries."""
        return str(self._call("GET", _path("default", "secret"))["secret"])


class AsyncWebhooks:
    """``AsyncClient.webhooks``: as ``Webhooks``, awaited."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return _http.data_of(await self._client._api(method, path, **kwargs))

    async def create(
        self, url: str, events: list[str] | None = None, *, description: str | None = None
    ) -> dict[str, Any]:
        return dict(await self._call("POST", PATH, json=_new(url, events, description)))

    async def list(self) -> builtins.list[dict[str, Any]]:
        return list(await self._call("GET", PATH))

    async def get(self, webhook_id: str) -> dict[str, Any]:
        return dict(await self._call("GET", _path(webhook_id)))

    async def update(self, webhook_id: str, **fields: Any) -> dict[str, Any]:
        return dict(await self._call("PATCH", _path(webhook_id), json=fields))

    async def delete(self, webhook_id: str) -> dict[str, Any]:
        return dict(await self._call("DELETE", _path(webhook_id)))

    async def rotate_secret(self, webhook_id: str) -> dict[str, Any]:
        return dict(await self._call("POST", _path(webhook_id, "rotate-secret")))

    async def deliveries(self, webhook_id: str, *, limit: int = 100) -> builtins.list[dict[str, Any]]:
        return list(await self._call("GET", _path(webhook_id, "deliveries"), params={"limit": limit}))

    async def redeliver(self, webhook_id: str, delivery_id: str) -> dict[str, Any]:
        return dict(await self._call("POST", _path(webhook_id, "deliveries", delivery_id, "redeliver")))

    async def default_secret(self) -> str:
        return str((await self._call("GET", _path("default", "secret")))["secret"])
