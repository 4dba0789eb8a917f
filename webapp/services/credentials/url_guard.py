"""SSRF guard for base URLs people type in: only public http(s) hosts, unless an admin
allowed the ``host:port`` explicitly (e.g. a local Ollama server).

This is the check at save time, with a message at the field. The outbound transport
(``webapp/services/llm/transport.py``) applies the same rule again to every connection it
opens, to the address it actually connects to.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import AllowedHost
from webapp.services.credentials import addresses
from webapp.services.credentials.addresses import host_key, why_refused
from webapp.services.credentials.hostnames import ascii_host, unprintable
from webapp.services.errors import ValidationError
from webapp.services.settings.cache import settings_cache

Resolver = Callable[[str, int], Iterable[str]]
IPAddress = addresses.IPAddress

__all__ = [
    "Resolver",
    "allowed_hosts",
    "check_base_url",
    "normalized_url",
    "system_resolver",
    "why_refused",
]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the host resolves to (literals in any legacy form included)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]).split("%")[0] for info in infos]


def _load_allowed() -> frozenset[str]:
    rows = db.session.execute(sa.select(AllowedHost.host, AllowedHost.port))
    return frozenset(host_key(h, p) for h, p in rows)


def allowed_hosts() -> frozenset[str]:
    """Allowed ``host:port`` entries, cached per settings version (every process sees a
    removal within a second)."""
    return settings_cache().get(("allowed_hosts",), _load_allowed)


def _refuse(field: str, message: str) -> ValidationError:
    return ValidationError({field: message})


def _parts(url: str, field: str) -> tuple[str, str, int | None, str]:
    """(scheme, ASCII host, explicit port, path) of a URL, or ValidationError saying why not."""
    bad = unprintable(url, spaces=False)
    if bad:
        raise _refuse(field, f"The URL contains an invisible or control character ({bad}).")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refuse(field, "This is not a valid URL.") from None
    if parts.scheme not in ("http", "https"):
        raise _refuse(field, "Only http:// and https:// URLs are allowed.")
    if parts.username or parts.password:
        raise _refuse(field, "Do not put credentials in the URL; use the key field.")
    if not (parts.hostname or "").rstrip("."):
        raise _refuse(field, "The URL needs a host name.")
    if parts.query or parts.fragment:
        raise _refuse(field, "A base URL cannot have a query string or fragment.")
    if port == 0:
        raise _refuse(field, "Port 0 cannot be called; give the server's port.")
    try:
        host = ascii_host(parts.hostname or "")
    except ValueError as exc:
        raise _refuse(field, str(exc)) from None
    return parts.scheme, host, port, parts.path.rstrip("/")


def normalized_url(raw: str, *, field: str = "base_url") -> str:
    """The URL as ``check_base_url`` stores it (host in punycode, no trailing slash), checked
    for shape only: no DNS lookup. For addresses shipped with Switchboard (the presets)."""
    scheme, host, explicit_port, path = _parts(raw.strip(" "), field)
    shown = f"[{host}]" if ":" in host else host
    netloc = shown if explicit_port is None else f"{shown}:{explicit_port}"
    return urlunsplit((scheme, netloc, path, "", ""))


def check_base_url(
    raw: str,
    *,
    field: str = "base_url",
    allowed: Iterable[str] | None = None,
    resolver: Resolver | None = None,
) -> str:
    """Return the normalized URL (host in punycode), or raise ValidationError on ``field``."""
    scheme, host, explicit_port, path = _parts(raw.strip(" "), field)
    port = explicit_port or (443 if scheme == "https" else 80)
    shown = f"[{host}]" if ":" in host else host
    netloc = shown if explicit_port is None else f"{shown}:{explicit_port}"
    normalized = urlunsplit((scheme, netloc, path, "", ""))
    never = addresses.why_never_host(host)
    if never:
        raise _refuse(field, f"{host} is {never}: Switchboard never calls it.")
    allowed = allowed_hosts() if allowed is None else allowed
    is_allowed = host_key(host, port) in allowed
    try:
        found = [ipaddress.ip_address(a) for a in (resolver or system_resolver)(host, port)]
    except (OSError, UnicodeError, ValueError):
        if is_allowed:  # e.g. a local server not running yet: the transport checks later
            return normalized
        raise _refuse(
            field, f"The host {host!r} could not be resolved. Check the spelling."
        ) from None
    if not found and not is_allowed:
        raise _refuse(field, f"The host {host!r} has no addresses.")
    for address in found:
        reason = addresses.refusal(address, allowed=is_allowed)
        if reason and addresses.why_never(address):
            raise _refuse(
                field, f"{host} resolves to {address}, {reason}: Switchboard never calls it."
            )
        if reason:
            raise _refuse(
                field,
                f"{host} resolves to {address}, {reason}. Switchboard only calls public "
                "hosts; an admin can allow this host on the Keys page.",
            )
    return normalized
