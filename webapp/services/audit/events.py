"""Record configuration changes with a before/after diff that never contains a secret."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from flask import g, has_app_context

from webapp.extensions import db
from webapp.models import AuditEvent, User

log = logging.getLogger(__name__)

SET, CHANGED, REMOVED = "[set]", "[changed]", "[removed]"


def jsonable(value: Any) -> Any:
    """A JSON-safe copy of a column value (Decimals as strings keep their precision)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The named attributes of ``obj`` as a JSON-safe dict."""
    return {name: jsonable(getattr(obj, name)) for name in fields}


def diff(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    secrets: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """Field-by-field ``{"field": {"before": x, "after": y}}`` of what changed.

    ``secrets`` maps a secret field to its marker (``SET``, ``CHANGED``, ``REMOVED``); the values
    themselves are never passed in, so they cannot leak into the log.
    """
    before, after = dict(before or {}), dict(after or {})
    changes: dict[str, Any] = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            changes[key] = {"before": old, "after": new}
    for key, marker in (secrets or {}).items():
        if marker:
            changes[key] = marker
    return changes


def record(
    action: str,
    target_type: str,
    *,
    actor: User | None,
    target_id: Any = None,
    target_label: str | None = None,
    changes: dict[str, Any] | None = None,
    org_id: int | None = None,
) -> AuditEvent:
    """Add an audit event to the current transaction (the caller's commit saves both)."""
    event = AuditEvent(
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        target_label=target_label,
        actor_id=actor.id if actor is not None else None,
        actor_label=actor.email if actor is not None else "system",
        org_id=org_id,
        diff=changes or None,
        ip_address=g.get("client_ip") if has_app_context() else None,
    )
    db.session.add(event)
    log.info("audit %s %s %s by %s", action, target_type, target_id, event.actor_label)
    return event
