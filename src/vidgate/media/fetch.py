"""Fetch media inputs without letting a URL reach what it must not (SSRF-safe).

Every input goes through here, twice: :func:`check_url` at submit time (syntax only: scheme,
data URI shape and size, literal addresses however they are spelled, never DNS or network) and
:meth:`Fetcher.fetch` in a worker, which repeats those checks on the URL and on every redirect,
resolves the host once, refuses every non-public address it resolves to, and then connects to
exactly the address it checked (the ``Host`` header and TLS SNI keep the real name), so a DNS
answer that changes between check and connect cannot redirect the request. Bodies are capped
while streaming, and what arrived is checked by its bytes (:mod:`vidgate.media.probe`), never by
its name or Content-Type, before it is moved into place.

At submit a refused URL is :class:`~vidgate.errors.InvalidMediaUrl` (HTTP 400); in a worker
every failure is :class:`~vidgate.errors.MediaError`, which fails the task.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import httpx

from vidgate import metrics
from vidgate.errors import InvalidRequest, MediaError
from vidgate.i18n import Message
from vidgate.media.addresses import IPAddress, host_address, normalise_host
from vidgate.media.probe import ImageInfo, VideoInfo, probe_image, probe_video
from vidgate.media.urls import (
    MB,
    FetchPolicy,
    MediaKind,
    Refused,
    check_address,
    check_http_url,
    check_url,
    decode_data_uri,
    in_megabytes,
    is_data_uri,
    plural,
    port_of,
    redirect_target,
    shown_url,
)

__all__ = ["MB", "FetchPolicy", "Fetched", "Fetcher", "MediaKind", "check_url", "resolve"]

Resolver = Callable[[str, int], list[str]]
# --- fetching -------------------------------------------------------------------------------


def resolve(host: str, port: int) -> list[str]:
    """The system resolver: every address of ``host``, in the order to try them."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Fetched:
    """A fetched input: where it was written and what it measured."""

    path: Path
    info: ImageInfo | VideoInfo


class Fetcher:
    """Downloads media inputs for workers (synchronous; one call per input; thread-safe).

    ``resolver`` maps (host, port) to addresses (default: the system resolver). ``transport``
    replaces the network transport of httpx (default: a fresh one per fetch, so that no
    connection made for one host name is ever reused for another name on the same address); the
    Fetcher sends each request through it itself (no httpx.Client: no redirects, cookies or proxy
    settings of its own) and never closes it. Both hooks exist for tests. The TLS settings (the
    CA bundle, read once: ~30 ms of processor time each time) are shared by every fetch.
    """

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        resolver: Resolver | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.policy = policy
        self._resolver = resolver or resolve
        self._transport = transport
        self._tls: ssl.SSLContext | None = None
        self._tls_lock = threading.Lock()
        self._timeout = httpx.Timeout(
            connect=policy.connect_timeout,
            read=policy.read_timeout,
            write=policy.read_timeout,
            pool=policy.connect_timeout,
        )

    def fetch(self, url: str, kind: MediaKind, dest: Path) -> Fetched:
        """Download ``url`` to ``dest`` and measure it (atomically: only checked content ever
        appears at ``dest``)."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        part = Path(name)
        try:
            with os.fdopen(handle, "wb") as out:
                self._download(url, kind, out)
            if kind == "image":
                info: ImageInfo | VideoInfo = probe_image(part, label=shown_url(url))
            else:
                info = probe_video(part, label=shown_url(url))
            os.replace(part, dest)
        except Refused as exc:
            metrics.fetch_failures.labels("url_refused").inc()
            raise MediaError(exc.msg, reason="url_refused") from None
        except MediaError as exc:
            metrics.fetch_failures.labels(exc.reason).inc()
            raise
        finally:
            part.unlink(missing_ok=True)
        return Fetched(dest, info)

    def _download(self, url: str, kind: MediaKind, out: BinaryIO) -> None:
        if is_data_uri(url):
            out.write(decode_data_uri(url, kind, self.policy))
            return
        deadline = time.monotonic() + self.policy.total_timeout
        transport = self._transport or httpx.HTTPTransport(verify=self._tls_context())
        try:
            response = self._open(transport, url, kind, deadline)
            try:
                self._check_response(response, url, kind)
                self._copy_body(response, url, kind, out, deadline)
            finally:
                response.close()
        except httpx.HTTPError as exc:
            raise self._network_failure(exc, url) from None
        finally:
            if transport is not self._transport:
                transport.close()

    def _tls_context(self) -> ssl.SSLContext:
        with self._tls_lock:
            if self._tls is None:
                self._tls = httpx.create_ssl_context()
            return self._tls

    def _open(self, transport: httpx.BaseTransport, url: str, kind: MediaKind, deadline: float) -> httpx.Response:
        """The final response after at most ``max_redirects`` redirects, each hop checked anew."""
        current = url
        for hop in range(self.policy.max_redirects + 1):
            try:
                target = check_http_url(current, kind, self.policy)
                addresses = self._addresses(target)
            except Refused as exc:
                if hop:
                    raise Refused(
                        Message("{refusal} (reached by a redirect from {url})", refusal=exc.msg, url=shown_url(url))
                    ) from None
                raise
            self._check_deadline(deadline, url)
            response = self._send(transport, target, addresses)
            if not response.has_redirect_location:
                return response
            response.close()
            current = redirect_target(target, response.headers["location"])
        raise MediaError(
            Message(
                "{url} redirects more than {count} times",
                url=shown_url(url),
                count=self.policy.max_redirects,
            ),
            reason="fetch_failed",
        )

    def _addresses(self, url: httpx.URL) -> list[IPAddress]:
        return checked_addresses(url, self.policy, self._resolver)

    def _send(self, transport: httpx.BaseTransport, url: httpx.URL, addresses: list[IPAddress]) -> httpx.Response:
        """GET ``url`` from the first of ``addresses`` that takes the connection."""
        for address in addresses:
            try:
                return transport.handle_request(self._request(url, address))
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                failure = exc
        raise failure

    def _request(self, url: httpx.URL, address: IPAddress) -> httpx.Request:
        """A GET sent to ``address`` but naming the URL's host, in the Host header and in TLS (SNI and
        certificate check), so that nothing resolves the name a second time."""
        extensions: dict[str, object] = {"timeout": self._timeout.as_dict()}
        if url.scheme == "https" and host_address(normalise_host(url.host)) is None:
            extensions["sni_hostname"] = url.raw_host.decode("ascii")
        headers = {"Host": url.netloc.decode("ascii"), "Accept-Encoding": "identity", "User-Agent": "vidgate"}
        return httpx.Request("GET", url.copy_with(host=str(address)), headers=headers, extensions=extensions)

    def _check_response(self, response: httpx.Response, url: str, kind: MediaKind) -> None:
        """Refuse a non-2xx answer, and a body whose declared length is over the cap, before reading it."""
        shown, limit = shown_url(url), self.policy.max_bytes(kind)
        if not response.is_success:
            raise MediaError(
                Message(
                    "{url} answered HTTP {status_code} {reason_phrase}; it must answer 200 with the file",
                    url=shown,
                    status_code=response.status_code,
                    reason_phrase=response.reason_phrase,
                ),
                reason="fetch_failed",
                retryable=response.status_code >= 500 or response.status_code in (408, 429),
            )
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise MediaError(
                Message(
                    "{url} is {size} (by its Content-Length), the limit for {kinds} is {limit}",
                    url=shown,
                    size=in_megabytes(int(declared)),
                    kinds=plural(kind),
                    limit=in_megabytes(limit),
                ),
                reason="too_large",
            )

    def _copy_body(self, response: httpx.Response, url: str, kind: MediaKind, out: BinaryIO, deadline: float) -> None:
        """Stream the body to ``out``, cut off at the cap and at the deadline."""
        limit, received = self.policy.max_bytes(kind), 0
        for chunk in response.iter_bytes():
            received += len(chunk)
            if received > limit:
                raise MediaError(
                    Message(
                        "{url} is larger than {limit}, the limit for {kinds}; the download was stopped",
                        url=shown_url(url),
                        limit=in_megabytes(limit),
                        kinds=plural(kind),
                    ),
                    reason="too_large",
                )
            self._check_deadline(deadline, url)
            out.write(chunk)

    def _check_deadline(self, deadline: float, url: str) -> None:
        if time.monotonic() > deadline:
            raise MediaError(
                Message(
                    "downloading {url} took longer than {seconds:g} s, the limit",
                    url=shown_url(url),
                    seconds=self.policy.total_timeout,
                ),
                reason="fetch_failed",
                retryable=True,
            )

    def _network_failure(self, exc: httpx.HTTPError, url: str) -> MediaError:
        shown = shown_url(url)
        if isinstance(exc, httpx.ConnectTimeout):
            message = Message(
                "could not connect to {url} within {seconds:g} s", url=shown, seconds=self.policy.connect_timeout
            )
        elif isinstance(exc, httpx.ReadTimeout):
            message = Message(
                "{url} sent nothing for {seconds:g} s; the download was abandoned",
                url=shown,
                seconds=self.policy.read_timeout,
            )
        elif isinstance(exc, httpx.ConnectError):
            message = Message("could not connect to {url} ({error})", url=shown, error=str(exc))
        else:
            message = Message("downloading {url} failed ({error})", url=shown, error=str(exc))
        return MediaError(message, reason="fetch_failed", retryable=True)


def checked_addresses(url: httpx.URL, policy: FetchPolicy, resolver: Resolver = resolve) -> list[IPAddress]:
    """The checked addresses to connect to: the literal one, or every address the name resolves
    to, each refused (Refused) unless public or exempt; MediaError if it cannot be resolved."""
    literal = host_address(normalise_host(url.host))
    if literal is not None:
        return [literal]
    host, shown = url.raw_host.decode("ascii"), shown_url(str(url))
    try:
        addresses = [ipaddress.ip_address(found) for found in resolver(host, port_of(url))]
    except UnicodeError as exc:  # the system resolver's idna codec: e.g. a label over 63 characters
        raise Refused(Message("{url} is not a valid host name ({error})", url=shown, error=str(exc))) from None
    except OSError as exc:
        raise MediaError(
            Message("the host of {url} could not be resolved ({error})", url=shown, error=str(exc)),
            reason="fetch_failed",
            retryable=True,
        ) from None
    if not addresses:
        raise MediaError(Message("the host of {url} has no address", url=shown), reason="fetch_failed", retryable=True)
    if not policy.allows_name(host, port_of(url)):
        for address in addresses:
            check_address(
                address,
                port_of(url),
                policy,
                Message("{url}: {host} resolves to {address}", url=shown, host=host, address=str(address)),
            )
    return addresses


# --- webhook targets ------------------------------------------------------------------------


class TargetRefused(Exception):
    """A webhook target that may not be sent to now (its reason in words)."""


def check_callback_url(url: str, policy: FetchPolicy, param: str = "callback_url") -> None:
    """Submit-time checks of a webhook target, as of a media URL (http or https only, no user
    info, no literal address that is not public unless exempt); no DNS. Raises InvalidRequest."""
    try:
        check_http_url(url, "video", policy)
    except Refused as exc:
        raise InvalidRequest(exc.msg, code="invalid_callback_url", param=param) from None


def webhook_target(url: str, policy: FetchPolicy, resolver: Resolver = resolve) -> tuple[httpx.URL, list[IPAddress]]:
    """Delivery-time checks of a webhook target: those of submit again, then its host resolved
    and every address it resolves to checked. Raises TargetRefused."""
    try:
        parsed = check_http_url(url, "video", policy)
        return parsed, checked_addresses(parsed, policy, resolver)
    except (Refused, MediaError) as exc:
        raise TargetRefused(str(exc)) from None
