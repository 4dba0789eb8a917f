"""Which network addresses Switchboard may call: the one rule shared by the base-URL guard
(when a URL is saved) and the outbound transport (when a connection is opened).

Public addresses are always fine. Private, loopback and other special-purpose ones only for
a ``host:port`` an admin allowed. Cloud metadata, link-local, unspecified, multicast and
broadcast addresses never, whatever the allowed list says: they are where credentials of the
machine itself live. What is not public comes from the IANA registries (``special_ranges``),
not from Python's ``is_global``; an IPv6 address carrying an IPv4 one (NAT64, 6to4, Teredo,
IPv4-compatible or -mapped) is judged by both.
"""

from __future__ import annotations

import ipaddress
import socket

from webapp.services.credentials import special_ranges

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata endpoints, named in the message because they are the classic SSRF target.
METADATA = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, Oracle, DigitalOcean …
    ipaddress.ip_address("169.254.170.2"),  # AWS ECS task credentials
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("192.0.0.192"),  # Oracle Cloud (classic)
    ipaddress.ip_address("168.63.129.16"),  # Azure WireServer (a public-looking address)
    ipaddress.ip_address("fd00:ec2::254"),  # AWS IPv6
    ipaddress.ip_address("fd20:ce::254"),  # Google Cloud IPv6
}
# Names that reach a metadata service from inside a cloud, whatever address they resolve to.
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "metadata.tencentyun.com",
        "metadata.platformequinix.com",
        "metadata.packet.net",
    }
)


def host_key(host: str, port: int) -> str:
    """How an allowed entry is compared: ``host:port``, IPv6 hosts in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")


def _bits(value: int, start: int, length: int) -> int:
    """``length`` bits of a 128-bit address from bit ``start`` (0 = the leftmost)."""
    return (value >> (128 - start - length)) & ((1 << length) - 1)


def _rfc6052(value: int, prefix: int) -> ipaddress.IPv4Address:
    """The IPv4 address in a translation address with a ``prefix``-bit prefix (RFC 6052
    2.2: bits 64-71 are skipped)."""
    if prefix == 96:
        return ipaddress.IPv4Address(_bits(value, 96, 32))
    head = max(0, 64 - prefix)
    low = _bits(value, 72, 32 - head)
    return ipaddress.IPv4Address((_bits(value, prefix, head) << (32 - head)) | low if head else low)


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an IPv6 address may carry to its destination besides the forms
    ``judged`` replaces: IPv4-compatible (``::a9fe:a9fe``), local-use NAT64
    (``64:ff9b:1::/48`` at each prefix length a network may use it with; a candidate in
    0.0.0.0/8, which no translator sends to, means that layout is not the one in use),
    6to4 and Teredo (server and client)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    value, found = int(address), []
    if address in IPV4_COMPATIBLE and value > 1:  # :: and ::1 are not IPv4
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    if address in NAT64_LOCAL:
        candidates = [_rfc6052(value, prefix) for prefix in (48, 56, 64, 96)]
        found += [c for c in candidates if c not in THIS_NETWORK]
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found += list(address.teredo)
    return found


def judged(address: IPAddress) -> IPAddress:
    """The address a connection really goes to: an IPv4-mapped address is its IPv4 address
    to the socket, and a well-known NAT64 one (``64:ff9b::/96``) to the translator."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in NAT64_WELL_KNOWN:
            return _rfc6052(int(address), 96)
    return address


def _verdict(address: IPAddress) -> tuple[str, bool] | None:
    """(reason, never) for an address and every IPv4 address inside it, the worst first."""
    address = judged(address)
    if address in METADATA:
        return "a cloud metadata address", True
    found = [(entry.reason, entry.never) for entry in special_ranges.ranges_of(address)]
    found += [v for inner in embedded_ipv4(address) if (v := _verdict(inner)) is not None]
    if not found:
        return None
    return next((v for v in found if v[1]), found[0])


def why_never(address: IPAddress) -> str | None:
    """The reason no allowed entry can open this address, or None."""
    verdict = _verdict(address)
    return verdict[0] if verdict is not None and verdict[1] else None


def why_refused(address: IPAddress) -> str | None:
    """The reason an address may not be called without an allowed entry, or None: any
    address in an IANA special-purpose range, or carrying one (``special_ranges``)."""
    verdict = _verdict(address)
    return verdict[0] if verdict is not None else None


def refusal(address: IPAddress, *, allowed: bool) -> str | None:
    """The rule itself: metadata and friends never; private ones only when allowed."""
    return why_never(address) if allowed else why_refused(address)


def literal(host: str) -> IPAddress | None:
    """The address a host names literally, in any legacy IPv4 form too (``2852039166``,
    ``0xa9fea9fe``, ``0251.254.169.254``), or None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        pass
    try:
        return ipaddress.ip_address(socket.inet_aton(host))
    except OSError:
        return None


def why_never_host(host: str) -> str | None:
    """The reason a host name or literal can never be allowed, checked without DNS."""
    if host.rstrip(".").lower() in METADATA_NAMES:
        return "a cloud metadata host name"
    address = literal(host)
    return why_never(address) if address is not None else None
