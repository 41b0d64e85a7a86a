"""The account's webhook operations, as the API offers them: endpoints (create, list, read,
update, delete, rotate the secret), the default secret, deliveries and redelivery. Every call
names the caller's account; another account's endpoint answers exactly like an unknown one.
Also what an event's body shows of its task (``renderer``) and the sender of a process
(``build_sender``)."""

from __future__ import annotations

from typing import Any

from ulid import ULID

from vidgate.config import Settings
from vidgate.errors import InvalidRequest, NotFound
from vidgate.i18n import Message
from vidgate.media.fetch import FetchPolicy, check_callback_url
from vidgate.media.signing import UrlSigner
from vidgate.openai_api.video import video_object
from vidgate.secretbox import SecretBox
from vidgate.store import Store
from vidgate.store.outbox import EVENT_TYPES, TASK_EVENTS, VIDEO_EVENTS, Delivery, Due
from vidgate.store.webhooks import Endpoint
from vidgate.tasks.model import Status, Task
from vidgate.tasks.view import task_object
from vidgate.webhooks.secrets import Secrets, new_secret
from vidgate.webhooks.sender import SenderConfig, WebhookSender

#: result links in event bodies when VIDGATE_PUBLIC_URL is unset (a process sending an event
#: has no request to take its address from)
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
#: the id that names the account's default target (its tasks' callback URLs) in the routes
DEFAULT = "default"


def endpoint_object(endpoint: Endpoint, secret: str | None = None) -> dict[str, Any]:
    """An endpoint as the API shows it; its secret only when just made (create, rotate)."""
    out: dict[str, Any] = {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": endpoint.events,
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "created": int(endpoint.created_at),
        "updated": int(endpoint.updated_at),
    }
    if secret is not None:
        out["secret"] = secret
    return out


def delivery_object(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "type": delivery.type,
        "task_id": delivery.task_id,
        "url": delivery.url,
        "state": delivery.state,
        "created": int(delivery.created_at),
        "next_attempt": int(delivery.next_attempt_at) if delivery.next_attempt_at is not None else None,
        "attempts": [
            {"time": a.at, "status": a.http_status, "error": a.error, "duration_ms": a.duration_ms}
            for a in delivery.attempts
        ],
    }


class WebhookService:
    def __init__(self, store: Store, secrets: Secrets, policy: FetchPolicy) -> None:
        self.store = store
        self.secrets = secrets
        self.policy = policy

    def create(self, account_id: str, *, url: str, events: list[str] | None, description: str | None) -> dict[str, Any]:
        secret = new_secret()
        endpoint = self.store.webhooks.create(
            endpoint_id=f"wh_{ULID()}",
            account_id=account_id,
            url=self._url(url),
            events=self._events(events),
            sealed_secret=self.secrets.seal(secret),
            description=description,
        )
        return endpoint_object(endpoint, secret)

    def all(self, account_id: str) -> list[dict[str, Any]]:
        return [endpoint_object(e) for e in self.store.webhooks.list(account_id)]

    def get(self, account_id: str, endpoint_id: str) -> dict[str, Any]:
        return endpoint_object(self._endpoint(account_id, endpoint_id))

    def update(self, account_id: str, endpoint_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        self._endpoint(account_id, endpoint_id)
        if "url" in fields:
            fields["url"] = self._url(fields["url"])
        if "events" in fields:
            fields["events"] = self._events(fields["events"])
        updated = self.store.webhooks.update(endpoint_id, account_id, fields)
        return endpoint_object(updated or self._endpoint(account_id, endpoint_id))

    def delete(self, account_id: str, endpoint_id: str) -> dict[str, Any]:
        if not self.store.webhooks.delete(endpoint_id, account_id):
            raise self._not_found(endpoint_id)
        return {"id": endpoint_id, "deleted": True}

    def rotate_secret(self, account_id: str, endpoint_id: str) -> dict[str, Any]:
        secret = new_secret()
        endpoint = self.store.webhooks.rotate(endpoint_id, account_id, self.secrets.seal(secret))
        if endpoint is None:
            raise self._not_found(endpoint_id)
        return endpoint_object(endpoint, secret)

    def default_secret(self, account_id: str) -> dict[str, Any]:
        return {"secret": self.secrets.default_secret(account_id)}

    def deliveries(self, account_id: str, endpoint_id: str, limit: int) -> list[dict[str, Any]]:
        target = self._target(account_id, endpoint_id)
        return [delivery_object(d) for d in self.store.outbox.deliveries(account_id, target, limit=limit)]

    def redeliver(self, account_id: str, endpoint_id: str, delivery_id: str) -> dict[str, Any]:
        target = self._target(account_id, endpoint_id)
        if not self.store.outbox.redeliver(delivery_id, account_id, target):
            raise NotFound(
                Message("no delivery {delivery!r} to webhook {webhook!r}", delivery=delivery_id, webhook=endpoint_id),
                code="delivery_not_found",
            )
        return {"id": delivery_id, "state": "pending"}

    # --- helpers ---------------------------------------------------------------------------
    def _endpoint(self, account_id: str, endpoint_id: str) -> Endpoint:
        endpoint = self.store.webhooks.get(endpoint_id, account_id)
        if endpoint is None:
            raise self._not_found(endpoint_id)
        return endpoint

    def _target(self, account_id: str, endpoint_id: str) -> str | None:
        """The endpoint's id, or None for ``default`` (the account's callback URLs)."""
        return None if endpoint_id == DEFAULT else self._endpoint(account_id, endpoint_id).id

    @staticmethod
    def _not_found(endpoint_id: str) -> NotFound:
        return NotFound(
            Message("no webhook {webhook!r} for this account", webhook=endpoint_id), code="webhook_not_found"
        )

    def _url(self, url: str) -> str:
        check_callback_url(url, self.policy, param="url")
        return url

    @staticmethod
    def _events(events: list[str] | None) -> list[str]:
        if events is None:  # OpenAI's video events are asked for by name
            return list(TASK_EVENTS)
        if not events:
            raise InvalidRequest(
                Message("events is empty; give one or more of {types}", types=", ".join(EVENT_TYPES)),
                code="invalid_parameter",
                param="events",
            )
        for event in events:
            if event not in EVENT_TYPES:
                raise InvalidRequest(
                    Message(
                        "unknown event type {event!r}; the types are {types}", event=event, types=", ".join(EVENT_TYPES)
                    ),
                    code="invalid_parameter",
                    param="events",
                )
        return list(dict.fromkeys(events))


class Renderer:
    """An event's task, as GET /v1/tasks/{id} shows it (the same view), its result link signed and
    built on VIDGATE_PUBLIC_URL; without it, on the base URL the latest submit to this process
    came to (``seen``), as a poll would show it, else DEFAULT_PUBLIC_URL."""

    def __init__(self, settings: Settings) -> None:
        self.signer = UrlSigner(settings.signing_key())
        self.fixed = settings.public_url is not None
        self.base = settings.public_url or DEFAULT_PUBLIC_URL

    def seen(self, base: str) -> None:
        if not self.fixed:
            self.base = base

    def __call__(self, due: Due) -> dict[str, Any]:
        """The event's data: the task object, or for OpenAI's ``video.*`` events the video object."""
        fields = {**due.task, "status": Status(due.task["status"]), "request": {}}
        brief = fields.pop("brief", None) or {}
        if due.type in VIDEO_EVENTS:
            return video_object(Task(**fields), brief)
        fields.pop("openai_fields", None)
        base = self.base
        return task_object(Task(**fields), lambda key, expires: self.signer.url(base, key, expires))


def secrets_for(settings: Settings, store: Store) -> Secrets:
    return Secrets(store, SecretBox(settings.signing_key()))


def build_sender(settings: Settings, store: Store, render: Renderer | None = None) -> WebhookSender:
    """The webhook sender of ``vidgate serve`` and ``vidgate worker`` alike."""
    config = SenderConfig(
        concurrency=settings.webhook_concurrency,
        per_target=settings.webhook_target_concurrency,
        timeout=settings.webhook_timeout_seconds,
        retry_scale=settings.webhook_retry_scale,
    )
    return WebhookSender(
        store, secrets_for(settings, store), FetchPolicy.from_settings(settings), render or Renderer(settings), config
    )
