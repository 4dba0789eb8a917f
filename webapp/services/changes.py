"""Saving a change to configuration: audit the diff, tell every process, commit — and turn a
concurrent save into a Conflict instead of a silently lost update."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm.exc import StaleDataError

from webapp.extensions import db
from webapp.models import User
from webapp.services.audit import events as audit
from webapp.services.errors import Conflict
from webapp.services.settings.cache import bump_settings_version


@contextmanager
def conflict_on_stale(message: str, *also: type[Exception]) -> Iterator[None]:
    """Turn a concurrent save into a Conflict wherever it surfaces in the block.

    The stale row shows up at the first flush, which is often an autoflush inside the audit
    record or the counter bump rather than the commit, so the whole write sits in here.
    ``also`` names other errors that mean "someone else got there first" for this write
    (e.g. an IntegrityError from a unique index two requests both tried to claim).
    """
    caught: tuple[type[Exception], ...] = (StaleDataError, *also)
    try:
        yield
    except caught:
        db.session.rollback()
        raise Conflict(message) from None


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
    secrets: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    """Record what changed (nothing if nothing did) and commit; returns the diff.

    The one way a configuration write is saved. The caller checked the form's version first
    (``VersionedMixin.check_version``); a save that loses a race with another one surfaces
    here as a StaleDataError and becomes a Conflict (409). ``secrets`` marks fields whose
    values never reach the audit log (``audit.SET``, ``audit.CHANGED``, ``audit.REMOVED``)."""
    changes = audit.diff(before, after, secrets)
    with conflict_on_stale(
        f"Someone else saved this {target_type} at the same moment. Reload and try again."
    ):
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
        db.session.commit()
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
    with conflict_on_stale(
        f"Someone else changed this {target_type} at the same moment. Reload and try again."
    ):
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


def commit_audited(target_type: str) -> None:
    """Commit a write that audited several records itself (a confirmation that resumes many
    keys at once): the same bump, commit and stale-version Conflict as ``commit_change``."""
    with conflict_on_stale(
        f"Someone else changed this {target_type} at the same moment. Reload and try again."
    ):
        bump_settings_version()
        db.session.commit()
