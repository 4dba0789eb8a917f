"""The records under the filters, newest first, paginated by keyset (time, id), and one
record's detail — both only within the viewer's scope."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import UsageRecord
from webapp.services.errors import NotFound, ValidationError
from webapp.services.usage import labels
from webapp.services.usage.filters import Filters, Scope, record_conditions

PAGE_SIZE = 50
# Exactly what a list row and an export line need: no bodies.
LIST_COLUMNS = (
    "id",
    "created_at",
    "request_id",
    "caller",
    "user_id",
    "org_id",
    "feature_id",
    "access_token_id",
    "provider_id",
    "model_id",
    "provider_slug",
    "model_name",
    "operation",
    "mode",
    "key_source",
    "status",
    "error_type",
    "stream",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "estimated",
    "usage_adjusted",
    "over_hold",
    "unpriced",
    "cost_usd",
    "credits",
    "latency_ms",
    "ttft_ms",
)


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    next_cursor: str | None
    users: dict[Any, str] = field(default_factory=dict)
    orgs: dict[Any, str] = field(default_factory=dict)


def encode_cursor(created_at: datetime, record_id: int) -> str:
    return f"{created_at.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%f')}_{record_id}"


def decode_cursor(raw: str) -> tuple[datetime, int]:
    try:
        stamp, _, record_id = raw.partition("_")
        when = datetime.strptime(stamp, "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC)
        return when, int(record_id)
    except ValueError:
        raise ValidationError(
            {"after": "This page link is broken; start from the first page."}
        ) from None


def _select(filters: Filters, scope: Scope, after: tuple[datetime, int] | None) -> Any:
    r = UsageRecord
    query = (
        sa.select(*(getattr(r, n) for n in LIST_COLUMNS))
        .where(*record_conditions(filters, scope))
        .order_by(r.created_at.desc(), r.id.desc())
    )
    if after is not None:
        when, record_id = after
        query = query.where(
            sa.or_(r.created_at < when, sa.and_(r.created_at == when, r.id < record_id))
        )
    return query


def list_records(
    filters: Filters, scope: Scope, *, cursor: str | None = None, size: int = PAGE_SIZE
) -> Page:
    after = decode_cursor(cursor) if cursor else None
    rows = list(db.session.execute(_select(filters, scope, after).limit(size + 1)).all())
    more = len(rows) > size
    rows = rows[:size]
    return Page(
        rows,
        encode_cursor(rows[-1].created_at, rows[-1].id) if more else None,
        labels.resolve("user", list({r.user_id for r in rows})),
        labels.resolve("org", list({r.org_id for r in rows})),
    )


def iter_records(filters: Filters, scope: Scope, *, batch: int = 1000) -> Iterator[Any]:
    """Every selected record, newest first, a batch of rows in memory at a time."""
    after = None
    while True:
        rows = db.session.execute(_select(filters, scope, after).limit(batch)).all()
        yield from rows
        if len(rows) < batch:
            return
        after = (rows[-1].created_at, rows[-1].id)
        db.session.rollback()  # end the read transaction between batches


def get_record(record_id: int, scope: Scope) -> UsageRecord:
    """One record with its bodies (as the logging settings kept them); 404 outside scope."""
    record = db.session.get(UsageRecord, record_id)
    if record is None or not _visible(record, scope):
        raise NotFound("No such usage record.")
    return record


def _visible(record: UsageRecord, scope: Scope) -> bool:
    if scope.user_id is not None and record.user_id != scope.user_id:
        return False
    return scope.org_ids is None or record.org_id in scope.org_ids
