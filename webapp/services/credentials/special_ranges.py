"""The IANA special-purpose address registries, as a table Switchboard decides by.

Python's ``ipaddress`` flags (``is_global``, ``is_private``) differ between Python versions
and miss ranges (3.11 calls 192.0.0.192, an old cloud metadata address, global). Every range
of the IPv4 and IPv6 Special-Purpose Address Registries is listed here, with multicast and
broadcast; an address in none of them is a public internet address.

Sources: https://www.iana.org/assignments/iana-ipv4-special-registry and
https://www.iana.org/assignments/iana-ipv6-special-registry (both as of 2025), RFC 6890.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

LOOPBACK = "a loopback address"
PRIVATE = "a private network address"
LINK_LOCAL = "a link-local address"
UNSPECIFIED = "an unspecified address"
MULTICAST = "a multicast address"


def special(name: str) -> str:
    return f"a special-purpose address ({name}), not a public internet address"


@dataclass(frozen=True)
class Range:
    """One registry entry. ``never``: no allowed entry can open it (only a private or
    special range an admin names exactly, ``host:port``, can be allowed)."""

    network: IPNetwork
    reason: str
    never: bool = False


def _ranges(*rows: tuple[str, str] | tuple[str, str, bool]) -> tuple[Range, ...]:
    return tuple(Range(ipaddress.ip_network(row[0]), *row[1:]) for row in rows)


NEVER = True

IPV4 = _ranges(
    ("0.0.0.0/8", UNSPECIFIED, NEVER),  # "this network": 0.x reaches the machine itself
    ("10.0.0.0/8", PRIVATE),
    ("100.64.0.0/10", special("carrier-grade NAT, 100.64.0.0/10")),
    ("127.0.0.0/8", LOOPBACK),
    ("169.254.0.0/16", LINK_LOCAL, NEVER),
    ("172.16.0.0/12", PRIVATE),
    ("192.0.0.0/24", special("IETF protocol assignments, 192.0.0.0/24")),
    ("192.0.2.0/24", special("documentation, 192.0.2.0/24")),
    ("192.31.196.0/24", special("AS112, 192.31.196.0/24")),
    ("192.52.193.0/24", special("AMT, 192.52.193.0/24")),
    ("192.88.99.0/24", special("6to4 relay anycast, 192.88.99.0/24")),
    ("192.168.0.0/16", PRIVATE),
    ("192.175.48.0/24", special("AS112 direct delegation, 192.175.48.0/24")),
    ("198.18.0.0/15", special("benchmarking, 198.18.0.0/15")),
    ("198.51.100.0/24", special("documentation, 198.51.100.0/24")),
    ("203.0.113.0/24", special("documentation, 203.0.113.0/24")),
    ("224.0.0.0/4", MULTICAST, NEVER),
    ("240.0.0.0/4", special("reserved, 240.0.0.0/4")),
    ("255.255.255.255/32", "the broadcast address", NEVER),
)

# IPv4-mapped (::ffff:0:0/96) and NAT64 (64:ff9b::/96) addresses are judged by their IPv4
# address alone; the other forms that carry one (``addresses.embedded_ipv4``) by both.
IPV6 = _ranges(
    ("::/128", UNSPECIFIED, NEVER),
    ("::1/128", LOOPBACK),
    ("::/96", special("IPv4-compatible, deprecated, ::/96")),
    ("::/8", special("reserved, ::/8")),
    ("64:ff9b:1::/48", special("local-use IPv4/IPv6 translation, 64:ff9b:1::/48")),
    ("100::/64", special("discard-only, 100::/64")),
    ("100:0:0:1::/64", special("dummy prefix, 100:0:0:1::/64")),
    ("2001::/23", special("IETF protocol assignments, 2001::/23")),
    ("2001:db8::/32", special("documentation, 2001:db8::/32")),
    ("2620:4f:8000::/48", special("AS112 direct delegation, 2620:4f:8000::/48")),
    ("3fff::/20", special("documentation, 3fff::/20")),
    ("5f00::/16", special("segment routing, 5f00::/16")),
    ("fc00::/7", PRIVATE),  # unique local addresses
    ("fe80::/10", LINK_LOCAL, NEVER),
    ("fec0::/10", special("site-local, deprecated, fec0::/10")),
    ("ff00::/8", MULTICAST, NEVER),
)


# Only 2000::/3 is allocated for the internet; the rest of IPv6 is reserved or special.
GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
NOT_UNICAST = Range(ipaddress.ip_network("::/0"), special("not global unicast, 2000::/3"))


def ranges_of(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[Range]:
    """The entries ``address`` is in, the most specific first."""
    table = IPV4 if address.version == 4 else IPV6
    found = [entry for entry in table if address in entry.network]
    if address.version == 6 and address not in GLOBAL_UNICAST:
        found.append(NOT_UNICAST)
    return sorted(found, key=lambda entry: -entry.network.prefixlen)
