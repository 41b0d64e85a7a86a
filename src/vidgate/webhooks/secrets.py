"""Webhook signing secrets: made, sealed at rest (``vidgate.secretbox``), opened to sign, and
where each delivery goes with which secret."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from vidgate.secretbox import SecretBox
from vidgate.store import Store
from vidgate.store.outbox import Due

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


@dataclass(frozen=True)
class Target:
    url: str
    secret: str
    gone: str | None = None  # why nothing is to be sent (the endpoint was deleted or disabled)


class Secrets:
    def __init__(self, store: Store, box: SecretBox) -> None:
        self.store = store
        self.box = box

    def seal(self, secret: str) -> str:
        return self.box.seal({"secret": secret})

    def open(self, sealed: str) -> str:
        return str(self.box.open(sealed)["secret"])

    def default_secret(self, account_id: str) -> str:
        """The account's secret for its callback_url deliveries, made on first need."""
        return self.open(self.store.webhooks.default_secret(account_id, self.seal(new_secret())))

    def target_of(self, due: Due) -> Target:
        """Where ``due`` goes now and the secret that signs it: the endpoint's current URL and
        secret, or the task's callback URL and the account's default secret."""
        if due.endpoint_id is None:
            return Target(due.url, self.default_secret(due.account_id))
        endpoint = self.store.webhooks.get_any(due.endpoint_id)
        if endpoint is None:
            return Target(due.url, "", gone="the endpoint was deleted")
        if not endpoint.enabled:
            return Target(endpoint.url, "", gone=f"the endpoint is disabled ({endpoint.disabled_reason})")
        return Target(endpoint.url, self.open(endpoint.sealed_secret))
