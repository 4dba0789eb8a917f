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


def _split(entry: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` → (host, port); ValidationError when the port is missing."""
    entry = entry.strip().lower().rstrip(".")
    message = (
        "Enter a host and its port, for example localhost:11434: allowing a host without a "
        "port would open every service on it."
    )
    if not HOST_RE.match(entry):
        raise ValidationError({"host": message})
    host, _, port = entry.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValidationError({"host": message})
    return host.strip("[]").rstrip("."), int(port)


def add_allowed_host(actor: User, host: str, note: str | None = None) -> AllowedHost:
    """Allow one ``host:port`` (no scheme, no path)."""
    name, port = _split(host)
    label = f"[{name}]:{port}" if ":" in name else f"{name}:{port}"
    exists = sa.select(AllowedHost.id).where(AllowedHost.host == name, AllowedHost.port == port)
    if db.session.scalar(exists):
        raise ValidationError({"host": f"{label} is already allowed."})
    entry = AllowedHost(
        host=name, port=port, note=(note or "").strip()[:300] or None, created_by_id=actor.id
    )
    db.session.add(entry)
    db.session.flush()
    audit.record(
        "create",
        "allowed_host",
        actor=actor,
        target_id=entry.id,
        target_label=label,
        changes={"host": label, "note": entry.note},
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
        target_label=f"{entry.host}:{entry.port}",
        changes={"host": {"before": f"{entry.host}:{entry.port}", "after": None}},
    )
    db.session.delete(entry)
    db.session.commit()
