"""Signed, expiring result URLs: ``/files/<key>?expires=<unix>&signature=<hmac>``.

The signature covers the key and the expiry, so neither can be changed; a link is refused with
403 when tampered with (an expiry that is not a plain Unix time in ASCII digits, or a signature
that does not match) and 410 once it has expired.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote, urlencode

from vidgate.errors import Gone, PermissionDenied
from vidgate.i18n import Message

FILES_PREFIX = "/files/"
#: an expiry longer than this is no Unix time a signer wrote (year 33658 and beyond)
MAX_EXPIRES_DIGITS = 12


#: signatures remembered (a polled result's link is signed again on every poll)
SIGNATURES_KEPT = 10_000


class UrlSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key
        self._signed: dict[tuple[str, int], str] = {}

    def signature(self, storage_key: str, expires: int) -> str:
        if (known := self._signed.get((storage_key, expires))) is not None:
            return known
        msg = f"{storage_key}\n{expires}".encode()
        signature = hmac.new(self._key, msg, hashlib.sha256).hexdigest()
        if len(self._signed) >= SIGNATURES_KEPT:
            self._signed.clear()
        self._signed[(storage_key, expires)] = signature
        return signature

    def url(self, base_url: str, storage_key: str, expires: int) -> str:
        query = urlencode({"expires": expires, "signature": self.signature(storage_key, expires)})
        return f"{base_url.rstrip('/')}{FILES_PREFIX}{quote(storage_key)}?{query}"

    def verify(self, storage_key: str, expires: str | None, signature: str | None, now: float | None = None) -> None:
        if not expires or not signature or not _is_unix_time(expires):
            raise PermissionDenied(Message("this link is not signed; use the URL from the task's result"))
        if not hmac.compare_digest(self.signature(storage_key, int(expires)).encode(), signature.encode()):
            raise PermissionDenied(Message("this link's signature does not match; use the URL from the task's result"))
        if int(expires) <= (time.time() if now is None else now):
            raise Gone(Message("this link has expired; results are kept until the task's expires_at"))


def _is_unix_time(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also takes "²" and other digits ``int`` refuses), and
    not absurdly many of them."""
    return text.isascii() and text.isdigit() and len(text) <= MAX_EXPIRES_DIGITS
