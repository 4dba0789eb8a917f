"""Hosts an admin allowed as base URLs although they are private (e.g. a local Ollama).

An entry is exactly one ``host:port``: the URL's host must be spelled the same (a name does
not allow its address, nor the address its name) and no other port opens. Cloud metadata,
link-local, unspecified and multicast hosts can never be allowed; the transport refuses
them even if a row says otherwise.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import AllowedHost, User
from webapp.services.accounts import recent_sign_in
from webapp.services.changes import commit_change, delete_record
from webapp.services.credentials.addresses import host_key, literal, why_never_host
from webapp.services.credentials.hostnames import ascii_host, unprintable
from webapp.services.errors import NotFound, PermissionDenied, ValidationError

ENTRY_RE = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[^:\[\]/@\s]+):(\d{1,5})$")
NAME_RE = re.compile(r"^[a-z0-9_]([a-z0-9_.-]{0,251}[a-z0-9_])?$")
FORMAT = (
    "Enter a host and its port, for example localhost:11434: allowing a host without a "
    "port would open every service on it."
)


def list_allowed_hosts() -> list[AllowedHost]:
    return list(db.session.scalars(sa.select(AllowedHost).order_by(AllowedHost.host)))


def split_entry(entry: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` → (ASCII host, port); ValidationError saying why not."""
    entry = entry.strip(" ")
    bad = unprintable(entry, spaces=False)
    if bad:
        raise ValidationError({"host": f"The entry contains an invisible character ({bad})."})
    match = ENTRY_RE.match(entry)
    if not match or not 1 <= int(match.group(2)) <= 65535:
        raise ValidationError({"host": FORMAT})
    raw, port = match.group(1), int(match.group(2))
    if raw.startswith("["):
        host = raw[1:-1].lower()
        if literal(host) is None:
            raise ValidationError({"host": FORMAT})
    else:
        try:
            host = ascii_host(raw)
        except ValueError as exc:
            raise ValidationError({"host": str(exc)}) from None
        if not NAME_RE.match(host):
            raise ValidationError({"host": FORMAT})
    never = why_never_host(host)
    if never:
        raise ValidationError({"host": f"{host} is {never}: it can never be allowed."})
    return host, port


def _require_admin(actor: User | None) -> None:
    """Which private hosts Switchboard may call is the site's decision (None: the system)."""
    if actor is not None and not actor.is_admin:
        raise PermissionDenied("Only admins can allow hosts.")


def add_allowed_host(actor: User, host: str, note: str | None = None) -> AllowedHost:
    """Allow one ``host:port`` (no scheme, no path): keys may then be sent there."""
    _require_admin(actor)
    recent_sign_in.require("Allowing a private host")
    name, port = split_entry(host)
    label = host_key(name, port)
    note = (note or "").strip()[:300] or None
    if note and unprintable(note):
        raise ValidationError({"note": "The note contains an invisible or control character."})
    exists = sa.select(AllowedHost.id).where(AllowedHost.host == name, AllowedHost.port == port)
    if db.session.scalar(exists):
        raise ValidationError({"host": f"{label} is already allowed."})
    entry = AllowedHost(host=name, port=port, note=note, created_by_id=actor.id)
    db.session.add(entry)
    db.session.flush()
    # The bump in commit_change: every process drops its cached allowed list within a second.
    commit_change(
        actor,
        action="create",
        target_type="allowed_host",
        target_id=entry.id,
        target_label=label,
        before=None,
        after={"host": label, "note": entry.note},
    )
    return entry


def remove_allowed_host(actor: User, host_id: int) -> None:
    _require_admin(actor)
    entry = db.session.get(AllowedHost, host_id)
    if entry is None:
        raise NotFound("That allowed host does not exist.")
    label = host_key(entry.host, entry.port)
    delete_record(
        actor,
        entry,
        target_type="allowed_host",
        target_label=label,
        changes={"host": {"before": label, "after": None}},
    )
