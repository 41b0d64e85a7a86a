"""Kling's API token: a JWT signed with the secret key, renewed a few minutes before it expires.

Kling's developer docs: HS256, header ``{"alg": "HS256", "typ": "JWT"}``, claims ``iss`` = the
access key, ``exp`` = now + 1800 s, ``nbf`` = now - 5 s; sent as ``Authorization: Bearer <jwt>``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt

TOKEN_TTL_S = 1800
NOT_BEFORE_SKEW_S = 5
RENEW_MARGIN_S = 300


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: int


class KlingTokens:
    """Signed tokens cached per (access key, secret key), renewed ``renew_margin`` s before expiry."""

    def __init__(
        self,
        *,
        ttl: int = TOKEN_TTL_S,
        renew_margin: int = RENEW_MARGIN_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ttl = ttl
        self.renew_margin = renew_margin
        self.clock = clock
        self._cache: dict[tuple[str, str], Token] = {}

    def token(self, access_key: str, secret_key: str) -> str:
        now = int(self.clock())
        cached = self._cache.get((access_key, secret_key))
        if cached is not None and cached.expires_at - now > self.renew_margin:
            return cached.value
        fresh = sign(access_key, secret_key, now, self.ttl)
        self._cache[(access_key, secret_key)] = fresh
        return fresh.value


def sign(access_key: str, secret_key: str, now: int, ttl: int = TOKEN_TTL_S) -> Token:
    claims = {"iss": access_key, "exp": now + ttl, "nbf": now - NOT_BEFORE_SKEW_S}
    value = jwt.encode(claims, secret_key, algorithm="HS256", headers={"alg": "HS256", "typ": "JWT"})
    return Token(value=value, expires_at=now + ttl)
