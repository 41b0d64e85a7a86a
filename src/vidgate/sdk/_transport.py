"""The clients' HTTP transport: the TLS trust store is read at the first ``https://`` request,
not when a client is made.

Why: ``httpx.Client()`` builds its default transport in its constructor, and that transport
makes an ``SSLContext`` from certifi's CA bundle at once, 20-45 ms of processor time, whether
the client ever speaks TLS or not. A ``vidgate`` command talks to one server and is over in a
fraction of a second, most often to ``http://127.0.0.1:8000``; it paid for certificates it
never used on every run.

So the clients are given a transport that sends ``http://`` requests through an
``httpx.HTTPTransport`` whose TLS context trusts no certificate at all (it never does TLS; were
it ever asked to, every handshake would fail, never pass unchecked), and everything else
(``https://``, and any other scheme, which httpx refuses as before) through a normal verifying
``httpx.HTTPTransport()``, made once, under a lock, by the first request that needs it. The
client follows redirects itself and picks the transport for each URL it is sent to, so a
redirect from ``http://`` to ``https://`` is verified like any ``https://`` request. The
verifying transport is the one ``httpx.Client()`` makes (the same defaults: certifi's bundle,
or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set, since it trusts the environment); it just
reads them later.

Proxies: httpx reads ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` only when
it is given no ``transport=``, so the clients mount the environment's proxies themselves
(:func:`proxy_mounts`) as httpx's ``Client.__init__`` does: an ``httpx.HTTPTransport(proxy=...)``
per pattern, and ``None`` (the client's own transport) for each ``NO_PROXY`` entry. Those proxy
transports load the trust store when they are made, as before: only clients behind a proxy pay
it.
"""

from __future__ import annotations

import ssl
import threading

import httpx

__all__ = ["AsyncLazyTLSTransport", "LazyTLSTransport", "async_proxy_mounts", "proxy_mounts"]


def _no_trust_context() -> ssl.SSLContext:
    """A context that verifies and trusts nobody: the ``http://`` transport's, never used for TLS."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname by default


class LazyTLSTransport(httpx.BaseTransport):
    """``http://`` to a transport without certificates; the rest to a verifying
    ``httpx.HTTPTransport()`` made on first use."""

    def __init__(self) -> None:
        self._plain = httpx.HTTPTransport(verify=_no_trust_context())
        self._verifying: httpx.HTTPTransport | None = None
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "http":
            return self._plain.handle_request(request)
        return self._tls().handle_request(request)

    def _tls(self) -> httpx.HTTPTransport:
        with self._lock:
            if self._verifying is None:
                self._verifying = httpx.HTTPTransport()
            return self._verifying

    def close(self) -> None:
        self._plain.close()
        with self._lock:
            if self._verifying is not None:
                self._verifying.close()


class AsyncLazyTLSTransport(httpx.AsyncBaseTransport):
    """:class:`LazyTLSTransport` for ``httpx.AsyncClient``. Making the verifying transport does
    not await, so the lock is only held by a thread for those milliseconds."""

    def __init__(self) -> None:
        self._plain = httpx.AsyncHTTPTransport(verify=_no_trust_context())
        self._verifying: httpx.AsyncHTTPTransport | None = None
        self._lock = threading.Lock()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "http":
            return await self._plain.handle_async_request(request)
        return await self._tls().handle_async_request(request)

    def _tls(self) -> httpx.AsyncHTTPTransport:
        with self._lock:
            if self._verifying is None:
                self._verifying = httpx.AsyncHTTPTransport()
            return self._verifying

    async def aclose(self) -> None:
        await self._plain.aclose()
        with self._lock:
            verifying = self._verifying
        if verifying is not None:
            await verifying.aclose()


def proxy_mounts() -> dict[str, httpx.BaseTransport | None]:
    """The ``mounts`` for ``httpx.Client(transport=LazyTLSTransport(), ...)``: the proxies the
    environment names, mounted as ``httpx.Client()`` mounts them (see ``_environment_proxies``)."""
    return {pattern: None if url is None else httpx.HTTPTransport(proxy=url) for pattern, url in _environment_proxies()}


def async_proxy_mounts() -> dict[str, httpx.AsyncBaseTransport | None]:
    """:func:`proxy_mounts` for ``httpx.AsyncClient``."""
    return {
        pattern: None if url is None else httpx.AsyncHTTPTransport(proxy=url) for pattern, url in _environment_proxies()
    }


def _environment_proxies() -> list[tuple[str, str | None]]:
    """The URL patterns and proxies that ``httpx.Client(trust_env=True)`` reads from the
    environment when it is given no transport (``Client.__init__``, ``_get_proxy_map``): a proxy
    URL per pattern, None (the client's own transport) for each ``NO_PROXY`` entry. Read when
    the client is made, as httpx does, and with httpx's own function, so that both agree; it is
    not part of httpx's public API, so ``tests/integration/test_sdk_transport.py`` compares these
    mounts with the ones httpx makes itself, and a change in httpx shows there."""
    from httpx._utils import get_environment_proxies

    return list(get_environment_proxies().items())
