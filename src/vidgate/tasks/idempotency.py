"""A submit's ``Idempotency-Key`` header: what a key may be, and what makes two bodies the same.

The same key from the same account with the same body within 24 hours answers the task the
first submit made, and moves no money; with another body it is refused (409
``idempotency_key_reused``). Bodies are compared as parsed JSON, re-serialised canonically
(keys sorted, no whitespace, non-ASCII as itself): the order of keys and the spacing do not
matter, the values do, as they were written (``5`` and ``5.0`` differ, as do ``null`` and a
missing field).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from vidgate.errors import InvalidRequest
from vidgate.i18n import Message
from vidgate.store.idempotency import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_LENGTH = 255


def idempotency_key(header: str | None, body: Any) -> IdempotencyKey | None:
    """The key of a submit (None without the header), or a 400 naming the header."""
    if header is None:
        return None
    if not 1 <= len(header) <= MAX_LENGTH:
        if header:
            message = Message(
                "the {header} header is {length} characters long; give 1-{limit} printable ASCII characters "
                "(a UUID is a good choice)",
                header=HEADER,
                length=len(header),
                limit=MAX_LENGTH,
            )
        else:
            message = Message(
                "the {header} header is empty; give 1-{limit} printable ASCII characters (a UUID is a good choice)",
                header=HEADER,
                limit=MAX_LENGTH,
            )
        raise InvalidRequest(
            message,
            code="invalid_idempotency_key",
            param=HEADER,
        )
    if not all(" " <= c <= "~" for c in header):
        raise InvalidRequest(
            Message(
                "the {header} header may contain only printable ASCII characters (space to '~'); "
                "a UUID is a good choice",
                header=HEADER,
            ),
            code="invalid_idempotency_key",
            param=HEADER,
        )
    return IdempotencyKey(header, body_hash(body))


def body_hash(body: Any) -> str:
    """SHA-256 (hex) of the body's canonical JSON."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
