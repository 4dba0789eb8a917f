"""Hosts an admin allowed as base URLs although they are private (e.g. a local Ollama)."""

from __future__ import annotations

import re

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import AllowedHost, User
from webapp.services.audit import events as audit
from webapp.services.errors import NotFound, ValidationError

HOST_RE = re.compile(r"^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?)(:\d{1,5})?$")


def list_allowed_hosts() -> list[AllowedHost]:
    return list(db.session.scalars(sa.select(AllowedHost).order_by(AllowedHost.host)))


def add_allowed_host(actor: User, host: str, note: str | None = None) -> AllowedHost:
    """Allow ``host`` or ``host:port`` (no scheme, no path)."""
    host = host.strip().lower().rstrip(".")
    if not HOST_RE.match(host):
        raise ValidationError(
            {
                "host": "Enter a host name or address, optionally with :port "
                "(for example localhost:11434)."
            }
        )
    if db.session.scalar(sa.select(AllowedHost).where(AllowedHost.host == host)):
        raise ValidationError({"host": f"{host} is already allowed."})
    entry = AllowedHost(host=host, note=(note or "").strip()[:300] or None, created_by_id=actor.id)
    db.session.add(entry)
    db.session.flush()
    audit.record(
        "create",
        "allowed_host",
        actor=actor,
        target_id=entry.id,
        target_label=host,
        changes={"host": host, "note": entry.note},
    )
    db.session.commit()
    return entry


def remove_allowed_host(actor: User, host_id: int) -> None:
    entry = db.session.get(AllowedHost, host_id)
    if entry is None:
        raise NotFound("That allowed host does not exist.")
    audit.record(
        "delete",
        "allowed_host",
        actor=actor,
        target_id=entry.id,
        target_label=entry.host,
        changes={"host": {"before": entry.host, "after": None}},
    )
    db.session.delete(entry)
    db.session.commit()
