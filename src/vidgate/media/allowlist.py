"""``VIDGATE_FETCH_ALLOW_HOSTS``: the hosts exempt from the address guard, read in one place.

The setting is a comma-separated list. Each entry names what it exempts, and on which port:

=========================  ==========================================================
``media.local``            that host name, on every port (not its subdomains)
``media.local:9000``       that host name, on port 9000 only
``127.0.0.1``              that address, however a URL spells it, on every port
``127.0.0.1:9000``         that address, on port 9000 only
``[::1]`` or ``::1``       that IPv6 address, on every port
``[::1]:9000``             that IPv6 address, on port 9000 only (brackets are needed)
``10.0.0.0/8``             every address in the network, on every port
``10.0.0.0/8:9000``        every address in the network, on port 9000 only
``[fd00::/8]:9000``        the same for an IPv6 network
=========================  ==========================================================

A URL's port is the one it names, else its scheme's (80 for http, 443 for https). A name entry
also exempts whatever that name resolves to (on its port); an address or network entry exempts
the address whether the URL names it or a name resolves to it. A malformed entry stops the
server at start with the entry and the problem.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from vidgate.media.addresses import IPAddress, host_address, looks_numeric, normalise_host

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class AllowListError(ValueError):
    """A malformed entry; its message names the entry and the problem."""


_NAME = re.compile(r"^[^\s/\\@:\[\]?#%,]+$")


@dataclass(frozen=True)
class AllowEntry:
    """One entry: a host name or a network (an address is a network of one), and a port or
    None for every port."""

    name: str | None
    network: IPNetwork | None
    port: int | None

    def on_port(self, port: int | None) -> bool:
        """A check whose port is unknown (None) is matched by port-less entries only."""
        return self.port is None or self.port == port


def parse_allow_hosts(text: str) -> tuple[str, ...]:
    """The entries of the setting, as written (comma-separated; blanks ignored)."""
    return tuple(entry.strip() for entry in text.split(",") if entry.strip())


def parse_entry(entry: str) -> AllowEntry:
    """One entry (see the module); AllowListError naming the entry if it is malformed."""
    if "://" in entry:
        raise AllowListError(f"fetch allow-list entry {entry!r} is a URL; give the host alone, or host:port")
    host, port = _split_port(entry.strip(), entry)
    if "/" in host:
        try:
            return AllowEntry(None, ipaddress.ip_network(host, strict=False), port)
        except ValueError:
            raise AllowListError(f"fetch allow-list entry {entry!r} is not a valid CIDR") from None
    name = normalise_host(host)
    address = host_address(name)
    if address is not None:
        return AllowEntry(None, ipaddress.ip_network(address), port)
    if not name or not _NAME.match(name) or looks_numeric(name):
        raise AllowListError(f"fetch allow-list entry {entry!r} is neither a host name, an address nor a CIDR")
    return AllowEntry(name, None, port)


def _split_port(text: str, entry: str) -> tuple[str, int | None]:
    """``[v6]:port``, ``host:port`` or a bare host; a bare IPv6 address (two colons or more)
    has no port."""
    if text.startswith("["):
        inside, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise AllowListError(
                f"fetch allow-list entry {entry!r}: write an IPv6 address as [address] or [address]:port"
            )
        return inside, _port(rest[1:], entry) if rest else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, _port(port, entry)
    return text, None


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise AllowListError(f"fetch allow-list entry {entry!r} has the port {text!r}; ports are 1-65535")
    return int(text)


class AllowList:
    def __init__(self, entries: tuple[str, ...]) -> None:
        self.entries = tuple(parse_entry(entry) for entry in entries)

    def allows_name(self, host: str, port: int | None = None) -> bool:
        name = normalise_host(host)
        return any(entry.name == name and entry.on_port(port) for entry in self.entries)

    def allows_address(self, address: IPAddress, port: int | None = None) -> bool:
        return any(
            entry.network is not None and address in entry.network and entry.on_port(port) for entry in self.entries
        )
