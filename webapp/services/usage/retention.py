"""Retention: how long request/response bodies and whole usage records are kept, set by an
admin (audited), applied by ``flask usage prune`` in batches (audited with its counts).
Deleting records takes them out of the rollups too, so totals stay equal to the records."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import AppSetting, UsageRecord, User
from webapp.models.base import utcnow
from webapp.services.audit import events as audit
from webapp.services.changes import commit_change
from webapp.services.errors import PermissionDenied, ValidationError
from webapp.services.usage import rollups

KEY = "usage_retention"
MAX_DAYS = 36_500
BATCH = 5_000


@dataclass(frozen=True)
class Retention:
    body_days: int | None = None  # None: kept as long as the record
    record_days: int | None = None  # None: kept forever


@dataclass(frozen=True)
class Pruned:
    bodies_cleared: int
    records_deleted: int


def current() -> Retention:
    stored = db.session.scalar(sa.select(AppSetting.value).where(AppSetting.key == KEY)) or {}
    return Retention(stored.get("body_days"), stored.get("record_days"))


def _days(raw: Any, field: str) -> int | None:
    if raw in (None, ""):
        return None
    try:
        days = int(str(raw).strip())
    except ValueError:
        raise ValidationError({field: "Enter a whole number of days, or leave it empty."}) from None
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError({field: f"Enter between 1 and {MAX_DAYS} days."})
    return days


def update_retention(actor: User, *, body_days: Any, record_days: Any) -> Retention:
    """Change how long bodies and records are kept (admins only; audited)."""
    if not actor.is_admin:
        raise PermissionDenied("Only admins change retention.")
    after = Retention(_days(body_days, "body_days"), _days(record_days, "record_days"))
    if after.body_days and after.record_days and after.body_days > after.record_days:
        raise ValidationError({"body_days": "Bodies cannot outlive their records."})
    before = current()
    row = db.session.get(AppSetting, KEY) or AppSetting(key=KEY)
    row.value, row.updated_by_id = asdict(after), actor.id
    db.session.add(row)
    commit_change(
        actor,
        action="update",
        target_type="retention",
        target_id=KEY,
        target_label="Usage retention",
        before=asdict(before),
        after=asdict(after),
    )
    return after


def _clear_bodies(cutoff: datetime, batch: int) -> int:
    r = UsageRecord
    total = 0
    while True:
        ids = list(
            db.session.scalars(
                sa.select(r.id)
                .where(
                    r.created_at < cutoff,
                    sa.or_(r.request_body.is_not(None), r.response_body.is_not(None)),
                )
                .limit(batch)
            )
        )
        if not ids:
            return total
        db.session.execute(
            sa.update(r)
            .where(r.id.in_(ids))
            .values(request_body=sa.null(), response_body=sa.null()),
            execution_options={"synchronize_session": False},
        )
        db.session.commit()
        total += len(ids)


def _delete_records(cutoff: datetime, batch: int) -> int:
    r = UsageRecord
    total = 0
    while True:
        ids = list(
            db.session.scalars(
                sa.select(r.id).where(r.created_at < cutoff).order_by(r.id).limit(batch)
            )
        )
        if not ids:
            return total
        try:
            total += rollups.delete_records(ids)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise


def prune(*, now: datetime | None = None, batch: int = BATCH, actor: User | None = None) -> Pruned:
    """Apply the retention settings, a batch per transaction; audited with the counts and
    who ran it (``actor`` None: the CLI, ``flask usage prune``)."""
    if actor is not None and not actor.is_admin:
        raise PermissionDenied("Only admins prune usage.")
    settings, now = current(), now or utcnow()
    cleared = deleted = 0
    if settings.body_days:
        cleared = _clear_bodies(now - timedelta(days=settings.body_days), batch)
    if settings.record_days:
        deleted = _delete_records(now - timedelta(days=settings.record_days), batch)
    audit.record(
        "prune",
        "retention",
        actor=actor,
        target_id=KEY,
        target_label="Usage retention",
        changes=audit.diff(
            None, {"bodies_cleared": cleared, "records_deleted": deleted, **asdict(settings)}
        ),
    )
    db.session.commit()
    return Pruned(cleared, deleted)
