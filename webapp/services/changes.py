"""Saving a change to configuration: audit the diff, tell every process, commit — and turn a
concurrent save into a Conflict instead of a silently lost update."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm.exc import StaleDataError

from webapp.extensions import db
from webapp.models import User
from webapp.services.audit import events as audit
from webapp.services.errors import Conflict, ValidationError
from webapp.services.settings.cache import bump_settings_version

log = logging.getLogger(__name__)


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
    except caught as exc:
        db.session.rollback()
        # The type only: a driver's message may quote the statement's parameters.
        log.warning("write refused as a conflict (%s): %s", type(exc).__name__, message)
        raise Conflict(message) from None


@dataclass(frozen=True)
class Change:
    """One audited change of one record, its audit diff already made (``audit.diff``, or a
    summary such as ``{"org": "acme", "org_role": "member"}`` for a membership)."""

    action: str
    target_type: str
    target_id: Any
    target_label: str
    changes: dict[str, Any] | None = None
    org_id: int | None = None


def stale_message(target_type: str, verb: str = "saved") -> str:
    return f"Someone else {verb} this {target_type} at the same moment. Reload and try again."


def commit_changes(
    actor: User | None,
    changes: Sequence[Change],
    *,
    conflict: str,
    also: tuple[type[Exception], ...] = (),
    delete: Sequence[Any] = (),
    check: Callable[[], None] | None = None,
) -> None:
    """The one way a configuration write is saved: audit every change, delete ``delete``,
    tell every process (when something changed), run ``check`` on the written state, commit.

    The caller checked the form's version first (``VersionedMixin.check_version``). A save
    that loses a race with another one surfaces here as a StaleDataError (or one of ``also``,
    such as the IntegrityError of a unique index two requests both claimed) and becomes a
    Conflict (409) saying ``conflict``. A ValidationError from ``check`` (a rule that must
    hold once the rows are written, such as "an admin remains") leaves nothing written."""
    with conflict_on_stale(conflict, *also):
        for change in changes:
            audit.record(
                change.action,
                change.target_type,
                actor=actor,
                target_id=change.target_id,
                target_label=change.target_label,
                changes=change.changes,
                org_id=change.org_id,
            )
        for record in delete:
            db.session.delete(record)
        if changes or delete:
            bump_settings_version()  # configuration shapes every call's effective settings
        if check is not None:
            try:
                check()
            except ValidationError:
                db.session.rollback()
                raise
        db.session.commit()


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
    conflict: str | None = None,
    also: tuple[type[Exception], ...] = (),
    check: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Record what changed in one record (nothing if nothing did) and commit, through
    ``commit_changes``; returns the diff. ``secrets`` marks fields whose values never reach
    the audit log (``audit.SET``, ``audit.CHANGED``, ``audit.REMOVED``)."""
    diff = audit.diff(before, after, secrets)
    found = [Change(action, target_type, target_id, target_label, diff, org_id)] if diff else []
    commit_changes(
        actor,
        found,
        conflict=conflict or stale_message(target_type),
        also=also,
        check=check,
    )
    return diff


def delete_record(
    actor: User | None,
    record: Any,
    *,
    target_type: str,
    target_label: str,
    changes: dict[str, Any] | None,
    org_id: int | None = None,
    action: str = "delete",
    target_id: Any = None,
    conflict: str | None = None,
) -> None:
    """Audit the deletion (``action``: delete, revoke, decline …), remove the record, tell
    every process, commit. ``target_id`` defaults to the record's id."""
    change = Change(
        action,
        target_type,
        record.id if target_id is None else target_id,
        target_label,
        changes,
        org_id,
    )
    commit_changes(
        actor,
        [change],
        conflict=conflict or stale_message(target_type, "changed"),
        delete=[record],
    )


def commit_audited(target_type: str) -> None:
    """Commit a write that audited several records itself (a confirmation that resumes many
    keys at once): the same bump, commit and stale-version Conflict as ``commit_change``."""
    with conflict_on_stale(stale_message(target_type, "changed")):
        bump_settings_version()
        db.session.commit()
