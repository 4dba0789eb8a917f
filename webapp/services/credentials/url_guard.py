"""SSRF guard for base URLs people type in: only public http(s) hosts, unless an admin
allowed the host explicitly (e.g. a local Ollama server)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import AllowedHost
from webapp.services.errors import ValidationError

Resolver = Callable[[str, int], Iterable[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata endpoints, named in the message because they are the classic SSRF target.
METADATA = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("169.254.170.2"),
    ipaddress.ip_address("100.100.100.200"),
    ipaddress.ip_address("fd00:ec2::254"),
}


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the host resolves to (literals in any legacy form included)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]).split("%")[0] for info in infos]


def why_refused(address: IPAddress) -> str | None:
    """The reason an address may not be called, or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        # IPv4 wrapped in IPv6 (mapped, 6to4, Teredo) is judged by the IPv4 inside.
        inner = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if inner is not None:
            return why_refused(inner)
    if address in METADATA:
        return "a cloud metadata address"
    checks = [
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_unspecified", "an unspecified address"),
        ("is_private", "a private network address"),
        ("is_reserved", "a reserved address"),
    ]
    for attribute, reason in checks:
        if getattr(address, attribute):
            return reason
    if not address.is_global:
        return "not a public internet address"
    return None


def allowed_hosts() -> set[str]:
    """Allowed ``host:port`` entries (IPv6 hosts in brackets), as the guard compares them."""
    rows = db.session.execute(sa.select(AllowedHost.host, AllowedHost.port))
    return {f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in rows}


def check_base_url(
    raw: str,
    *,
    field: str = "base_url",
    allowed: set[str] | None = None,
    resolver: Resolver | None = None,
) -> str:
    """Return the normalized URL, or raise ValidationError on ``field`` saying why not."""
    url = raw.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationError({field: "This is not a valid URL."}) from None
    if parts.scheme not in ("http", "https"):
        raise ValidationError({field: "Only http:// and https:// URLs are allowed."})
    if parts.username or parts.password:
        raise ValidationError({field: "Do not put credentials in the URL; use the key field."})
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise ValidationError({field: "The URL needs a host name."})
    if parts.query or parts.fragment:
        raise ValidationError({field: "A base URL cannot have a query string or fragment."})
    port = port or (443 if parts.scheme == "https" else 80)
    normalized = urlunsplit((parts.scheme, parts.netloc.lower(), parts.path.rstrip("/"), "", ""))
    allowed = allowed_hosts() if allowed is None else allowed
    shown = f"[{host}]" if ":" in host else host
    if f"{shown}:{port}" in allowed:
        return normalized
    try:
        addresses = [ipaddress.ip_address(a) for a in (resolver or system_resolver)(host, port)]
    except (OSError, UnicodeError, ValueError):
        raise ValidationError(
            {field: f"The host {host!r} could not be resolved. Check the spelling."}
        ) from None
    if not addresses:
        raise ValidationError({field: f"The host {host!r} has no addresses."})
    for address in addresses:
        reason = why_refused(address)
        if reason:
            raise ValidationError(
                {
                    field: f"{host} resolves to {address}, {reason}. Switchboard only calls public "
                    "hosts; an admin can allow this host on the Keys page."
                }
            )
    return normalized
