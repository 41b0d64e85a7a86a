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

import base64
import binascii
import ipaddress
import math
import os
import re
import socket
import ssl
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

import httpx

from vidgate.errors import InvalidMediaUrl, InvalidRequest, MediaError
from vidgate.media.addresses import (
    IPAddress,
    host_address,
    inet_aton,
    looks_numeric,
    normalise_host,
    refusal_reason,
)
from vidgate.media.allowlist import AllowList, parse_allow_hosts
from vidgate.media.probe import ImageInfo, VideoInfo, probe_image, probe_video

if TYPE_CHECKING:
    from vidgate.config import Settings

MediaKind = Literal["image", "video"]
Resolver = Callable[[str, int], list[str]]

MB = 1024 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PUBLIC_ONLY = "only public internet addresses can be fetched"
#: what httpx raises for a URL it cannot parse: InvalidURL, or (when its host is read) the idna
#: package's IDNAError, a UnicodeError and so a ValueError, for a host such as xn--a.com
_UNPARSABLE = (httpx.InvalidURL, ValueError)

# --- policy ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchPolicy:
    """Limits of fetching. ``allow_hosts`` (entries of ``VIDGATE_FETCH_ALLOW_HOSTS``: host names,
    addresses or CIDRs, each optionally with a port; see ``vidgate.media.allowlist``) are exempt
    from the address check, for local development and tests; by default nothing is."""

    allow_hosts: tuple[str, ...] = ()
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    total_timeout: float = 300.0
    max_image_bytes: int = 10 * MB
    max_video_bytes: int = 100 * MB
    max_redirects: int = 5

    def __post_init__(self) -> None:
        self._allowed  # noqa: B018  (reading it parses the entries: a malformed one fails at startup)

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchPolicy:
        return cls(
            allow_hosts=parse_allow_hosts(settings.fetch_allow_hosts),
            connect_timeout=settings.fetch_connect_timeout,
            read_timeout=settings.fetch_read_timeout,
        )

    def max_bytes(self, kind: MediaKind) -> int:
        return self.max_image_bytes if kind == "image" else self.max_video_bytes

    def allows_name(self, host: str, port: int | None = None) -> bool:
        """Whether the allow-list exempts the name ``host`` on ``port`` (None: a port-less entry)."""
        return self._allowed.allows_name(host, port)

    def allows_address(self, address: IPAddress, port: int | None = None) -> bool:
        return self._allowed.allows_address(address, port)

    @cached_property
    def _allowed(self) -> AllowList:
        return AllowList(self.allow_hosts)


# --- URLs -----------------------------------------------------------------------------------


class _Refused(Exception):
    """A URL that may not be fetched: InvalidMediaUrl at submit, MediaError in a worker."""


def check_url(url: str, kind: MediaKind, policy: FetchPolicy, param: str) -> None:
    """Submit-time checks of a media URL; no DNS, no network. Raises InvalidMediaUrl."""
    try:
        if _is_data_uri(url):
            _decode_data_uri(url, kind, policy)
        else:
            _check_http_url(url, kind, policy)
    except _Refused as exc:
        raise InvalidMediaUrl(str(exc), kind=kind, param=param) from None


def _check_http_url(url: str, kind: MediaKind, policy: FetchPolicy) -> httpx.URL:
    """The parsed URL if its scheme, user info and literal host may be fetched; else _Refused."""
    shown = _shown(url)
    parsed = _parse_url(url, policy)
    if parsed.scheme not in _DEFAULT_PORTS:
        also = " and data:image/...;base64 URIs" if kind == "image" else ""
        scheme = f"the scheme {parsed.scheme!r}" if parsed.scheme else "no scheme"
        raise _Refused(f"{shown} has {scheme}; only http and https URLs{also} are accepted")
    if parsed.userinfo:
        raise _Refused(f"{shown} contains a user name or password; give the URL without them")
    if not parsed.host:
        raise _Refused(f"{shown} has no host name")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise _Refused(f"{shown} has the port {parsed.port}; ports are 1-65535")
    _check_host(parsed.host, _port(parsed), shown, policy)
    return parsed


def _parse_url(url: str, policy: FetchPolicy) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
        _ = parsed.host  # an IDNA host ("xn--...") is decoded here, and may not be valid IDNA
        return parsed
    except _UNPARSABLE as exc:
        host = _host_as_written(url)
        address = inet_aton(host)
        if address is not None:  # the port of an unparsable URL is unknown: port-less entries only
            _check_address(address, None, policy, f"{_shown(url)} points to {address} (written {host!r})")
        raise _Refused(f"{_shown(url)} is not a valid URL ({exc})") from None


def _host_as_written(url: str) -> str:
    try:
        return urllib.parse.urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _check_host(host: str, port: int, shown: str, policy: FetchPolicy) -> None:
    """Refuse a host that is, however spelled, an address (or the name localhost) that may not be
    fetched, unless the allow-list exempts it on ``port``."""
    name = normalise_host(host)
    if policy.allows_name(name, port):
        return
    if name == "localhost" or name.endswith(".localhost"):
        raise _Refused(f"{shown} names {host}, which is always this machine (loopback); {_PUBLIC_ONLY}")
    address = host_address(name)
    if address is None:
        if looks_numeric(name):
            raise _Refused(f"{shown} has the host {host!r}, which is neither a valid IPv4 address nor a name")
        return
    written = "" if str(address) == host else f" (written {host!r})"
    _check_address(address, port, policy, f"{shown} points to {address}{written}")


def _check_address(address: IPAddress, port: int | None, policy: FetchPolicy, subject: str) -> None:
    if policy.allows_address(address, port):
        return
    reason = refusal_reason(address)
    if reason is not None:
        raise _Refused(f"{subject}, {reason}; {_PUBLIC_ONLY}")


def _is_data_uri(url: str) -> bool:
    return url[:5].lower() == "data:"


def _decode_data_uri(url: str, kind: MediaKind, policy: FetchPolicy) -> bytes:
    """The bytes of a ``data:image/...;base64,...`` URI, checked for shape and decoded size."""
    if kind != "image":
        raise _Refused("data: URIs are accepted for images only; give the video as an http or https URL")
    header, comma, payload = url[5:].partition(",")
    media_type, *parameters = (part.strip().lower() for part in header.split(";"))
    if not comma or not parameters or parameters[-1] != "base64":
        raise _Refused("the data URI must have the form data:image/<type>;base64,<data>")
    if not media_type.startswith("image/"):
        raise _Refused(f"the data URI has the media type {media_type!r}; only image/... is accepted")
    payload = re.sub(r"\s+", "", payload)
    padding = len(payload) - len(payload.rstrip("="))
    size = len(payload) * 3 // 4 - padding
    if size > policy.max_image_bytes:
        limit = _megabytes(policy.max_image_bytes)
        raise _Refused(f"the data URI image is {_megabytes(size)}, the limit is {limit}")
    try:
        return base64.b64decode(payload, validate=True)
    except binascii.Error:
        raise _Refused("the data URI is not valid base64") from None


def _shown(url: str) -> str:
    """A URL as error messages show it: data URIs by their type, long URLs shortened."""
    if _is_data_uri(url):
        return "the data URI"
    return url if len(url) <= 200 else url[:200] + "..."


def _megabytes(size: int) -> str:
    """Rounded up to 0.1 MB, so that a size over a limit never reads as equal to it."""
    return f"{math.ceil(size * 10 / MB) / 10:g} MB"


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
                info: ImageInfo | VideoInfo = probe_image(part, label=_shown(url))
            else:
                info = probe_video(part, label=_shown(url))
            os.replace(part, dest)
        except _Refused as exc:
            raise MediaError(str(exc), reason="url_refused") from None
        finally:
            part.unlink(missing_ok=True)
        return Fetched(dest, info)

    def _download(self, url: str, kind: MediaKind, out: BinaryIO) -> None:
        if _is_data_uri(url):
            out.write(_decode_data_uri(url, kind, self.policy))
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
                target = _check_http_url(current, kind, self.policy)
                addresses = self._addresses(target)
            except _Refused as exc:
                if hop:
                    raise _Refused(f"{exc} (reached by a redirect from {_shown(url)})") from None
                raise
            self._check_deadline(deadline, url)
            response = self._send(transport, target, addresses)
            if not response.has_redirect_location:
                return response
            response.close()
            current = _redirect_target(target, response.headers["location"])
        raise MediaError(f"{_shown(url)} redirects more than {self.policy.max_redirects} times", reason="fetch_failed")

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
        shown, limit = _shown(url), self.policy.max_bytes(kind)
        if not response.is_success:
            raise MediaError(
                f"{shown} answered HTTP {response.status_code} {response.reason_phrase}; "
                "it must answer 200 with the file",
                reason="fetch_failed",
                retryable=response.status_code >= 500 or response.status_code in (408, 429),
            )
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise MediaError(
                f"{shown} is {_megabytes(int(declared))} (by its Content-Length), "
                f"the limit for {kind}s is {_megabytes(limit)}",
                reason="too_large",
            )

    def _copy_body(self, response: httpx.Response, url: str, kind: MediaKind, out: BinaryIO, deadline: float) -> None:
        """Stream the body to ``out``, cut off at the cap and at the deadline."""
        limit, received = self.policy.max_bytes(kind), 0
        for chunk in response.iter_bytes():
            received += len(chunk)
            if received > limit:
                raise MediaError(
                    f"{_shown(url)} is larger than {_megabytes(limit)}, the limit for {kind}s; "
                    "the download was stopped",
                    reason="too_large",
                )
            self._check_deadline(deadline, url)
            out.write(chunk)

    def _check_deadline(self, deadline: float, url: str) -> None:
        if time.monotonic() > deadline:
            raise MediaError(
                f"downloading {_shown(url)} took longer than {self.policy.total_timeout:g} s, the limit",
                reason="fetch_failed",
                retryable=True,
            )

    def _network_failure(self, exc: httpx.HTTPError, url: str) -> MediaError:
        shown = _shown(url)
        if isinstance(exc, httpx.ConnectTimeout):
            message = f"could not connect to {shown} within {self.policy.connect_timeout:g} s"
        elif isinstance(exc, httpx.ReadTimeout):
            message = f"{shown} sent nothing for {self.policy.read_timeout:g} s; the download was abandoned"
        elif isinstance(exc, httpx.ConnectError):
            message = f"could not connect to {shown} ({exc})"
        else:
            message = f"downloading {shown} failed ({exc})"
        return MediaError(message, reason="fetch_failed", retryable=True)


def checked_addresses(url: httpx.URL, policy: FetchPolicy, resolver: Resolver = resolve) -> list[IPAddress]:
    """The checked addresses to connect to: the literal one, or every address the name resolves
    to, each refused (_Refused) unless public or exempt; MediaError if it cannot be resolved."""
    literal = host_address(normalise_host(url.host))
    if literal is not None:
        return [literal]
    host, shown = url.raw_host.decode("ascii"), _shown(str(url))
    try:
        addresses = [ipaddress.ip_address(found) for found in resolver(host, _port(url))]
    except UnicodeError as exc:  # the system resolver's idna codec: e.g. a label over 63 characters
        raise _Refused(f"{shown} is not a valid host name ({exc})") from None
    except OSError as exc:
        raise MediaError(
            f"the host of {shown} could not be resolved ({exc})", reason="fetch_failed", retryable=True
        ) from None
    if not addresses:
        raise MediaError(f"the host of {shown} has no address", reason="fetch_failed", retryable=True)
    if not policy.allows_name(host, _port(url)):
        for address in addresses:
            _check_address(address, _port(url), policy, f"{shown}: {host} resolves to {address}")
    return addresses


# --- webhook targets ------------------------------------------------------------------------


class TargetRefused(Exception):
    """A webhook target that may not be sent to now (its reason in words)."""


def check_callback_url(url: str, policy: FetchPolicy, param: str = "callback_url") -> None:
    """Submit-time checks of a webhook target, as of a media URL (http or https only, no user
    info, no literal address that is not public unless exempt); no DNS. Raises InvalidRequest."""
    try:
        _check_http_url(url, "video", policy)
    except _Refused as exc:
        raise InvalidRequest(str(exc), code="invalid_callback_url", param=param) from None


def webhook_target(url: str, policy: FetchPolicy, resolver: Resolver = resolve) -> tuple[httpx.URL, list[IPAddress]]:
    """Delivery-time checks of a webhook target: those of submit again, then its host resolved
    and every address it resolves to checked. Raises TargetRefused."""
    try:
        parsed = _check_http_url(url, "video", policy)
        return parsed, checked_addresses(parsed, policy, resolver)
    except (_Refused, MediaError) as exc:
        raise TargetRefused(str(exc)) from None


def _port(url: httpx.URL) -> int:
    return url.port or _DEFAULT_PORTS[url.scheme]


def _redirect_target(current: httpx.URL, location: str) -> str:
    try:
        return str(current.join(location))
    except _UNPARSABLE:
        raise _Refused(f"{current} redirects to {location!r}, which is not a valid URL") from None
