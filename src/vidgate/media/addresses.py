"""Which addresses a URL may reach: only public internet ones.

:func:`refusal_reason` classifies an address (loopback, private, link-local and the cloud
metadata address, CGNAT, multicast, reserved, unique-local, and every IPv6 form that embeds a
refused IPv4 address: IPv4-mapped, IPv4-translated, IPv4-compatible, NAT64, 6to4, ISATAP,
Teredo); :func:`host_address` reads a host the way a C resolver would, so ``127.1``,
``2130706433``, ``0177.0.0.1`` and ``0x7f.0.0.1`` are all recognised as loopback.
"""

from __future__ import annotations

import ipaddress
import re

from vidgate.i18n import Message

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def normalise_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


_REFUSED_IPV4 = tuple(
    (ipaddress.IPv4Network(network), label)
    for network, label in (
        ("0.0.0.0/8", Message("an unspecified ('this host') address")),
        ("10.0.0.0/8", Message("a private address")),
        ("100.64.0.0/10", Message("a carrier-grade NAT address")),
        ("127.0.0.0/8", Message("a loopback address")),
        ("169.254.169.254/32", Message("the cloud metadata address")),
        ("169.254.0.0/16", Message("a link-local address")),
        ("172.16.0.0/12", Message("a private address")),
        ("192.0.0.0/24", Message("an IETF protocol address")),
        ("192.0.2.0/24", Message("a documentation address")),
        ("192.168.0.0/16", Message("a private address")),
        ("198.18.0.0/15", Message("a benchmarking address")),
        ("198.51.100.0/24", Message("a documentation address")),
        ("203.0.113.0/24", Message("a documentation address")),
        ("224.0.0.0/4", Message("a multicast address")),
        ("255.255.255.255/32", Message("the broadcast address")),
        ("240.0.0.0/4", Message("a reserved address")),
    )
)
_REFUSED_IPV6 = tuple(
    (ipaddress.IPv6Network(network), label)
    for network, label in (
        ("::/128", Message("an unspecified address")),
        ("::1/128", Message("a loopback address")),
        ("fc00::/7", Message("a unique-local (private) address")),
        ("fe80::/10", Message("a link-local address")),
        ("fec0::/10", Message("a site-local address")),
        ("ff00::/8", Message("a multicast address")),
        ("2001:db8::/32", Message("a documentation address")),
        ("3fff::/20", Message("a documentation address")),
        ("100::/64", Message("a discard-only address")),
        ("64:ff9b:1::/48", Message("a local-use NAT64 address")),
    )
)
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
_ISATAP_IDS = (0x00005EFE, 0x02005EFE)  # interface identifier ::0:5efe:a.b.c.d / ::200:5efe:a.b.c.d
_NUMERIC_LABEL = re.compile(r"^(0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*)$")


def refusal_reason(address: IPAddress) -> Message | None:
    """Why ``address`` may not be fetched from (e.g. "a loopback address"), or None if it is public."""
    if isinstance(address, ipaddress.IPv4Address):
        return _ipv4_refusal(address)
    return _ipv6_refusal(address)


def _ipv4_refusal(address: ipaddress.IPv4Address) -> Message | None:
    for network, label in _REFUSED_IPV4:
        if address in network:
            return label
    return None if address.is_global else Message("a non-public address")


def _ipv6_refusal(address: ipaddress.IPv6Address) -> Message | None:
    """IPv6 ranges that are not public; then every form that embeds an IPv4 address, refused when
    that address is (NAT64, 6to4, ISATAP) or always (the IPv4-mapped, -translated and
    -compatible forms are not meant to be on the wire, and Teredo tunnels through addresses of
    its own); then anything outside the global unicast range."""
    for network, label in _REFUSED_IPV6:
        if address in network:
            return label
    if address.teredo is not None:
        server, client = address.teredo
        client_reason = _ipv4_refusal(client)
        if client_reason is not None:
            return Message(
                "a non-public Teredo tunnel address, client {client} ({reason}), server {server}",
                client=str(client),
                reason=client_reason,
                server=str(server),
            )
        return Message(
            "a non-public Teredo tunnel address, client {client}, server {server}",
            client=str(client),
            server=str(server),
        )
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        form, inner, always = embedded
        inner_reason = _ipv4_refusal(inner)
        if inner_reason is not None:
            return Message("{form} of {address}, {reason}", form=form, address=str(inner), reason=inner_reason)
        if always:
            return Message(
                "{form} of {address}, a form that is refused; use {address} itself", form=form, address=str(inner)
            )
        if address in _NAT64:
            return None  # a public IPv4 address through the well-known NAT64 prefix
    if address not in _GLOBAL_UNICAST:
        return Message("a reserved address (outside 2000::/3, the global unicast range)")
    return None if address.is_global else Message("a non-public address")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[Message, ipaddress.IPv4Address, bool] | None:
    """The IPv4 address an IPv6 address carries, with its form and whether that form is refused
    even around a public address."""
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.ipv4_mapped is not None:
        return Message("an IPv4-mapped form"), address.ipv4_mapped, True
    if address in _IPV4_TRANSLATED:
        return Message("an IPv4-translated form"), low32, True
    if address in _IPV4_COMPATIBLE:
        return Message("an IPv4-compatible form"), low32, True
    if address.sixtofour is not None:
        return Message("a 6to4 form"), address.sixtofour, False
    if address in _NAT64:
        return Message("a NAT64 form"), low32, False
    if (int(address) >> 32) & 0xFFFFFFFF in _ISATAP_IDS:
        return Message("an ISATAP form"), low32, False
    return None


def host_address(host: str) -> IPAddress | None:
    """The address a URL host spells, in any form a C resolver accepts (``127.1``, ``2130706433``,
    ``0177.0.0.1``, ``0x7f.0.0.1``, ``::ffff:127.0.0.1``), or None if it is a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return inet_aton(host)


def inet_aton(host: str) -> ipaddress.IPv4Address | None:
    """IPv4 as ``inet_aton`` reads it: 1-4 parts, each decimal, octal (0...) or hex (0x...);
    the last part fills all the remaining bytes."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_NUMERIC_LABEL.match(part) for part in parts):
        return None
    numbers = [_parse_number(part) for part in parts]
    *leading, last = numbers
    if any(number > 0xFF for number in leading) or last >= 256 ** (5 - len(parts)):
        return None
    value = last
    for position, number in enumerate(leading):
        value |= number << (8 * (3 - position))
    return ipaddress.IPv4Address(value)


def _parse_number(part: str) -> int:
    if part[:2].lower() == "0x":
        return int(part[2:] or "0", 16)
    if part.startswith("0"):
        return int(part, 8)
    return int(part)


def looks_numeric(host: str) -> bool:
    """True for hosts a URL parser must read as IPv4 (the last label is a number)."""
    return bool(_NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]))
