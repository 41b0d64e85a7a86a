"""Which media URLs may be fetched: the fetch policy (limits, the allow-list) and the checks of a
URL that need no network, made at submit (``check_url``) and again by the fetcher
(``vidgate.media.fetch``) on the URL and on every redirect: scheme, user info, port, literal
addresses however they are spelled, the shape and size of data URIs.

A refusal is :class:`Refused`, carrying its message; at submit it is answered as
:class:`~vidgate.errors.InvalidMediaUrl` (HTTP 400), in a worker it fails the task.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import urllib.parse
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Literal

import httpx

from vidgate.errors import InvalidMediaUrl
from vidgate.i18n import Message, Param
from vidgate.media.addresses import (
    IPAddress,
    host_address,
    inet_aton,
    looks_numeric,
    normalise_host,
    refusal_reason,
)
from vidgate.media.allowlist import AllowList, parse_allow_hosts

if TYPE_CHECKING:
    from vidgate.config import Settings

MediaKind = Literal["image", "video"]

MB = 1024 * 1024
DEFAULT_PORTS = {"http": 80, "https": 443}
_PUBLIC_ONLY = Message("only public internet addresses can be fetched")
#: what httpx raises for a URL it cannot parse: InvalidURL, or (when its host is read) the idna
#: package's IDNAError, a UnicodeError and so a ValueError, for a host such as xn--a.com
UNPARSABLE = (httpx.InvalidURL, ValueError)

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


class Refused(Exception):
    """A URL that may not be fetched: InvalidMediaUrl at submit, MediaError in a worker."""

    def __init__(self, message: Message) -> None:
        super().__init__(message.english)
        self.msg = message


def check_url(url: str, kind: MediaKind, policy: FetchPolicy, param: str) -> None:
    """Submit-time checks of a media URL; no DNS, no network. Raises InvalidMediaUrl."""
    try:
        if is_data_uri(url):
            decode_data_uri(url, kind, policy)
        else:
            check_http_url(url, kind, policy)
    except Refused as exc:
        raise InvalidMediaUrl(exc.msg, kind=kind, param=param) from None


def check_http_url(url: str, kind: MediaKind, policy: FetchPolicy) -> httpx.URL:
    """The parsed URL if its scheme, user info and literal host may be fetched; else Refused."""
    shown = shown_url(url)
    parsed = _parse_url(url, policy)
    if parsed.scheme not in DEFAULT_PORTS:
        if kind == "image":
            accepted = Message("only http and https URLs and data:image/...;base64 URIs are accepted")
        else:
            accepted = Message("only http and https URLs are accepted")
        if parsed.scheme:
            raise Refused(
                Message(
                    "{url} has the scheme {scheme!r}; {accepted}", url=shown, scheme=parsed.scheme, accepted=accepted
                )
            )
        raise Refused(Message("{url} has no scheme; {accepted}", url=shown, accepted=accepted))
    if parsed.userinfo:
        raise Refused(Message("{url} contains a user name or password; give the URL without them", url=shown))
    if not parsed.host:
        raise Refused(Message("{url} has no host name", url=shown))
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise Refused(Message("{url} has the port {port}; ports are 1-65535", url=shown, port=parsed.port))
    _check_host(parsed.host, port_of(parsed), shown, policy)
    return parsed


def _parse_url(url: str, policy: FetchPolicy) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
        _ = parsed.host  # an IDNA host ("xn--...") is decoded here, and may not be valid IDNA
        return parsed
    except UNPARSABLE as exc:
        host = _host_as_written(url)
        address = inet_aton(host)
        if address is not None:  # the port of an unparsable URL is unknown: port-less entries only
            check_address(
                address,
                None,
                policy,
                Message(
                    "{url} points to {address} (written {host!r})", url=shown_url(url), address=str(address), host=host
                ),
            )
        raise Refused(Message("{url} is not a valid URL ({error})", url=shown_url(url), error=str(exc))) from None


def _host_as_written(url: str) -> str:
    try:
        return urllib.parse.urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _check_host(host: str, port: int, shown: Param, policy: FetchPolicy) -> None:
    """Refuse a host that is, however spelled, an address (or the name localhost) that may not be
    fetched, unless the allow-list exempts it on ``port``."""
    name = normalise_host(host)
    if policy.allows_name(name, port):
        return
    if name == "localhost" or name.endswith(".localhost"):
        raise Refused(
            Message(
                "{url} names {host}, which is always this machine (loopback); {rule}",
                url=shown,
                host=host,
                rule=_PUBLIC_ONLY,
            )
        )
    address = host_address(name)
    if address is None:
        if looks_numeric(name):
            raise Refused(
                Message(
                    "{url} has the host {host!r}, which is neither a valid IPv4 address nor a name",
                    url=shown,
                    host=host,
                )
            )
        return
    if str(address) == host:
        subject = Message("{url} points to {address}", url=shown, address=str(address))
    else:
        subject = Message("{url} points to {address} (written {host!r})", url=shown, address=str(address), host=host)
    check_address(address, port, policy, subject)


def check_address(address: IPAddress, port: int | None, policy: FetchPolicy, subject: Message) -> None:
    if policy.allows_address(address, port):
        return
    reason = refusal_reason(address)
    if reason is not None:
        raise Refused(Message("{subject}, {reason}; {rule}", subject=subject, reason=reason, rule=_PUBLIC_ONLY))


def is_data_uri(url: str) -> bool:
    return url[:5].lower() == "data:"


def decode_data_uri(url: str, kind: MediaKind, policy: FetchPolicy) -> bytes:
    """The bytes of a ``data:image/...;base64,...`` URI, checked for shape and decoded size."""
    if kind != "image":
        raise Refused(Message("data: URIs are accepted for images only; give the video as an http or https URL"))
    header, comma, payload = url[5:].partition(",")
    media_type, *parameters = (part.strip().lower() for part in header.split(";"))
    if not comma or not parameters or parameters[-1] != "base64":
        raise Refused(Message("the data URI must have the form data:image/<type>;base64,<data>"))
    if not media_type.startswith("image/"):
        raise Refused(
            Message("the data URI has the media type {media_type!r}; only image/... is accepted", media_type=media_type)
        )
    payload = re.sub(r"\s+", "", payload)
    padding = len(payload) - len(payload.rstrip("="))
    size = len(payload) * 3 // 4 - padding
    if size > policy.max_image_bytes:
        limit = in_megabytes(policy.max_image_bytes)
        raise Refused(
            Message("the data URI image is {size}, the limit is {limit}", size=in_megabytes(size), limit=limit)
        )
    try:
        return base64.b64decode(payload, validate=True)
    except binascii.Error:
        raise Refused(Message("the data URI is not valid base64")) from None


def shown_url(url: str) -> Param:
    """A URL as error messages show it: data URIs by their type, long URLs shortened."""
    if is_data_uri(url):
        return Message("the data URI")
    return url if len(url) <= 200 else url[:200] + "..."


def plural(kind: MediaKind) -> Message:
    return Message("images") if kind == "image" else Message("videos")


def in_megabytes(size: int) -> str:
    """Rounded up to 0.1 MB, so that a size over a limit never reads as equal to it."""
    return f"{math.ceil(size * 10 / MB) / 10:g} MB"


def port_of(url: httpx.URL) -> int:
    return url.port or DEFAULT_PORTS[url.scheme]


def redirect_target(current: httpx.URL, location: str) -> str:
    try:
        return str(current.join(location))
    except UNPARSABLE:
        raise Refused(
            Message(
                "{url} redirects to {location!r}, which is not a valid URL",
                url=shown_url(str(current)),
                location=location,
            )
        ) from None
