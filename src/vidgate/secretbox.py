"""Encrypt secrets at rest (upstream channel credentials) with a key derived from vidgate's own.

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``): the database alone never reveals a
credential; the key comes from ``VIDGATE_SECRET_KEY`` or the data dir's generated key.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    def __init__(self, key: bytes) -> None:
        derived = hashlib.sha256(b"vidgate channel credentials\n" + key).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, value: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(value, sort_keys=True).encode()).decode("ascii")

    def open(self, token: str) -> dict[str, Any]:
        try:
            opened: dict[str, Any] = json.loads(self._fernet.decrypt(token.encode("ascii")))
            return opened
        except InvalidToken:
            raise ValueError(
                "stored credentials cannot be decrypted with this server's secret key "
                "(VIDGATE_SECRET_KEY changed?); set the channel's credentials again"
            ) from None
