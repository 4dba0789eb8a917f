"""Saving a change to configuration: audit the diff, tell every process, commit — and turn a
concurrent save into a Conflict instead of a silently lost update."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm.exc import StaleDataError

from webapp.extensions import db
from webapp.models import User
from webapp.services.audit import events as audit
from webapp.services.errors import Conflict
from webapp.services.settings.cache import bump_settings_version


def commit_change(
    actor: User | None,
    *,
    action: str,
    target_type: str,
    target_id: Any,
    target_label: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    org_id: int | None = None,
) -> dict[str, Any]:
    """Record what changed (nothing if nothing did) and commit; returns the diff."""
    changes = audit.diff(before, after)
    if changes:
        audit.record(
            action,
            target_type,
            actor=actor,
            target_id=target_id,
            target_label=target_label,
            changes=changes,
            org_id=org_id,
        )
        bump_settings_version()  # configuration shapes every call's effective settings
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(
            f"Someone else saved this {target_type} at the same moment. Reload and try again."
        ) from None
    return changes


def delete_record(
    actor: User | None,
    record: Any,
    *,
    target_type: str,
    target_label: str,
    changes: dict[str, Any],
    org_id: int | None = None,
) -> None:
    """Audit the deletion, remove the record, tell every process, commit."""
    audit.record(
        "delete",
        target_type,
        actor=actor,
        target_id=record.id,
        target_label=target_label,
        changes=changes,
        org_id=org_id,
    )
    db.session.delete(record)
    bump_settings_version()
    db.session.commit()
