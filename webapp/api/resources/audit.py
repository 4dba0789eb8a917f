"""The audit log (admins), newest first, paged by cursor; diffs as the audit page shows them,
so secrets appear only as markers."""

from __future__ import annotations

from typing import Any

from webapp.api.core import encode_cursor, id_after, require_admin, route
from webapp.api.schemas import AuditEventOut, AuditQuery, Page
from webapp.services.audit import log

TAG = "Audit"


def _entry(entry: log.AuditEntry) -> dict[str, Any]:
    event = entry.event
    return {
        "id": event.id,
        "created_at": event.created_at,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_label": event.target_label,
        "org_id": event.org_id,
        "changes": [
            {"field": row.field, "before": row.before.text, "after": row.after.text}
            for row in entry.changes
        ],
    }


@route(
    "GET",
    "/audit",
    summary="The audit log, newest first",
    tag=TAG,
    query=AuditQuery,
    response=Page[AuditEventOut],
)
def list_events(query: AuditQuery) -> Any:
    require_admin()
    filters = log.AuditFilter(
        actor=query.actor,
        target_type=query.target_type,
        target=query.target,
        action=query.action,
        since=query.since,
        until=query.until,
    )
    page = log.list_events(filters, before=id_after(query.cursor), per_page=query.limit)
    return {
        "items": [_entry(e) for e in page.entries],
        "next_cursor": encode_cursor(page.older) if page.older is not None else None,
    }


@route("GET", "/audit/<int:event_id>", summary="One audit event", tag=TAG, response=AuditEventOut)
def get_event(event_id: int) -> Any:
    require_admin()
    return _entry(log.get_entry(event_id))
