from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from vidgate.errors import Gone, PermissionDenied, RateLimited
from vidgate.limits import RateLimiter
from vidgate.media.signing import UrlSigner

SIGNER = UrlSigner(b"k" * 32)
KEY = "results/task_1/video.mp4"


def parts(url: str) -> tuple[str, str, str]:
    u = urlparse(url)
    q = parse_qs(u.query)
    return u.path.removeprefix("/files/"), q["expires"][0], q["signature"][0]


def test_signed_url_verifies_until_it_expires() -> None:
    key, expires, sig = parts(SIGNER.url("http://h:1/", KEY, 2000))
    assert key == KEY
    SIGNER.verify(key, expires, sig, now=1999)
    with pytest.raises(Gone):
        SIGNER.verify(key, expires, sig, now=2000)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda k, e, s: ("results/task_2/video.mp4", e, s),
        lambda k, e, s: (k, str(int(e) + 1), s),
        lambda k, e, s: (k, e, s[:-1] + ("0" if s[-1] != "0" else "1")),
        lambda k, e, s: (k, e, None),
        lambda k, e, s: (k, "soon", s),
        lambda k, e, s: (k, "\u00b2", s),  # a digit to str.isdigit, not to int
        lambda k, e, s: (k, "\uff12\uff10\uff10\uff10", s),  # fullwidth 2000: int reads it, the signer never wrote it
        lambda k, e, s: (k, "9" * 5000, s),  # more digits than int converts
        lambda k, e, s: (k, e, "\u00e9" + s[1:]),  # hmac cannot compare non-ASCII text
    ],
)
def test_tampered_url_is_refused(tamper) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied):
        SIGNER.verify(*tamper(*parts(SIGNER.url("http://h", KEY, 2000))), now=1000)


def test_other_key_signs_differently() -> None:
    assert UrlSigner(b"a").signature(KEY, 1) != UrlSigner(b"b").signature(KEY, 1)


def test_rate_limit_allows_the_limit_then_says_when_to_retry() -> None:
    limiter = RateLimiter(per_minute=60)
    for _ in range(60):
        limiter.check("k", now=100.0)
    with pytest.raises(RateLimited) as err:
        limiter.check("k", now=100.0)
    assert err.value.retry_after == 1
    assert err.value.headers["Retry-After"] == "1"
    limiter.check("k", now=101.0)  # one interval later there is room for one more
    limiter.check("other", now=100.0)  # keys are independent
