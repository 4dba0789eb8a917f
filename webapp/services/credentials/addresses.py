"""Which network addresses Switchboard may call: the one rule shared by the base-URL guard
(when a URL is saved) and the outbound transport (when a connection is opened).

Public addresses are always fine. Private and loopback ones only for a ``host:port`` an admin
allowed. Cloud metadata, link-local, unspecified and multicast addresses never, whatever the
allowed list says: they are where credentials of the machine itself live.
"""

from __future__ import annotations

import ipaddress
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata endpoints, named in the message because they are the classic SSRF target.
METADATA = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, Oracle, DigitalOcean …
    ipaddress.ip_address("169.254.170.2"),  # AWS ECS task credentials
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("fd00:ec2::254"),  # AWS IPv6
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
    }
)


def host_key(host: str, port: int) -> str:
    """How an allowed entry is compared: ``host:port``, IPv6 hosts in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _inner(address: IPAddress) -> IPAddress:
    """IPv4 wrapped in IPv6 (mapped, 6to4, Teredo) is judged by the IPv4 inside."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if inner is not None:
            return inner
    return address


def why_never(address: IPAddress) -> str | None:
    """The reason no allowed entry can open this address, or None."""
    address = _inner(address)
    if address in METADATA:
        return "a cloud metadata address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_multicast:
        return "a multicast address"
    return None


def why_refused(address: IPAddress) -> str | None:
    """The reason an address may not be called without an allowed entry, or None."""
    never = why_never(address)
    if never:
        return never
    address = _inner(address)
    checks = [
        ("is_loopback", "a loopback address"),
        ("is_private", "a private network address"),
        ("is_reserved", "a reserved address"),
    ]
    for attribute, reason in checks:
        if getattr(address, attribute):
            return reason
    if not address.is_global:
        return "not a public internet address"
    return None


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
