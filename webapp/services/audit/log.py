"""Read the audit log for the admin page: filters, pages, and diffs laid out as rows.

Diffs are shown as stored, except that a value under a secret-looking field name is
replaced by ``[hidden]``: the writers never store secrets, and the page makes sure of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import AuditEvent, User
from webapp.services.audit import events as audit
from webapp.services.errors import NotFound

EVENTS_PER_PAGE = 50
# A target name prefix that matches more events than this is looked up by time, not by name.
PREFIX_PROBE = 500
MARKERS = (audit.SET, audit.CHANGED, audit.REMOVED)
HIDDEN = "[hidden]"
SECRET_NAMES = (
    "secret",
    "password",
    "password_hash",
    "api_key",
    "ciphertext",
    "session_token",
    "token_hash",
)


@dataclass(frozen=True)
class AuditFilter:
    """What the audit page may filter by; empty fields mean "any". Dates are inclusive, UTC."""

    actor: str = ""
    target_type: str = ""
    target: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None


@dataclass(frozen=True)
class Cell:
    """One side of a change: display text, and whether it is a marker such as ``[set]``."""

    text: str = ""
    marker: bool = False


@dataclass(frozen=True)
class DiffRow:
    field: str
    before: Cell
    after: Cell


@dataclass(frozen=True)
class AuditEntry:
    event: AuditEvent
    changes: list[DiffRow]


@dataclass(frozen=True)
class EventPage:
    """One page of events, newest first, with the cursors of the pages around it (keyset
    paging: no count and no OFFSET, so a page costs the same at any depth of the log)."""

    entries: list[AuditEntry]
    older: int | None  # ``before`` for the next, older page; None at the oldest
    newer: int | None  # ``after`` for the previous, newer page; None at the newest


def _is_secret(name: str) -> bool:
    return name.lower().endswith(SECRET_NAMES)


def _redact(value: Any) -> Any:
    """Nested JSON (e.g. extra options) with secret-looking keys hidden."""
    if isinstance(value, dict):
        return {
            k: (HIDDEN if _is_secret(str(k)) and v not in MARKERS else _redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def _cell(name: str, value: Any) -> Cell:
    if value is None:
        return Cell()
    if isinstance(value, str) and value in MARKERS:
        return Cell(value, marker=True)
    if _is_secret(name):
        return Cell(HIDDEN, marker=True)
    if isinstance(value, bool):
        return Cell("yes" if value else "no")
    if isinstance(value, dict | list):
        return Cell(json.dumps(_redact(value), ensure_ascii=False, sort_keys=True))
    return Cell(str(value))


def _is_change(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and set(value) <= {"before", "after"}


def describe_diff(diff: Any) -> list[DiffRow]:
    """Rows of field | before | after for any stored diff shape (changes, creates, markers)."""
    if not diff:
        return []
    if not isinstance(diff, dict):
        return [DiffRow("", Cell(), _cell("", diff))]
    rows = []
    for name, value in diff.items():
        if _is_change(value):
            rows.append(
                DiffRow(name, _cell(name, value.get("before")), _cell(name, value.get("after")))
            )
        else:  # a create's plain value, or a secret marker
            rows.append(DiffRow(name, Cell(), _cell(name, value)))
    return rows


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


ACTORS_MATCHED = 100  # users whose events an actor filter reads through the actor index


def _actor_clause(text: str) -> sa.ColumnElement[bool]:
    """Events of the users whose email contains ``text``, read through the (actor, time)
    index; when no user matches (a deleted one), the copied actor labels are searched."""
    ids = list(
        db.session.scalars(
            sa.select(User.id)
            .where(sa.func.lower(User.email).contains(text, autoescape=True))
            .limit(ACTORS_MATCHED)
        )
    )
    if ids:
        return AuditEvent.actor_id.in_(ids)
    return sa.func.lower(AuditEvent.actor_label).contains(text, autoescape=True)


def _target_clause(text: str) -> sa.ColumnElement[bool]:
    """The target's exact id, or a name that starts with ``text`` (any case): both read an
    index (``ix_audit_events_target_id``; the name, see ``_label_prefix``)."""
    return sa.or_(AuditEvent.target_id == text, _label_prefix(text.lower()))


def _successor(prefix: str) -> str | None:
    """The first string after every string that starts with ``prefix`` (code point order, which
    is SQLite's binary order of UTF-8); None when there is none."""
    while prefix:
        code = ord(prefix[-1]) + 1
        code = 0xE000 if 0xD800 <= code <= 0xDFFF else code  # surrogates are not text
        if code <= 0x10FFFF:
            return prefix[:-1] + chr(code)
        prefix = prefix[:-1]
    return None


def _label_prefix(prefix: str) -> sa.ColumnElement[bool]:
    """Target names starting with ``prefix`` (lower case), in a form each database answers
    from an index. PostgreSQL: ``LIKE 'abc%'`` reads ``ix_audit_events_label_prefix``
    (``text_pattern_ops``). SQLite's LIKE never reads an index on an expression, so the same
    condition is also written as a range, which reads ``ix_audit_events_label_lower`` — unless
    the prefix matches so many events that finding the newest page by time is sooner than
    sorting every match (SQLite has no statistics to tell; one capped count does)."""
    label = sa.func.lower(AuditEvent.target_label)
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = label.like(escaped + "%", escape="\\")
    if db.engine.dialect.name != "sqlite":
        return like
    after = _successor(prefix)
    in_range = sa.and_(label >= prefix, label < after) if after is not None else label >= prefix
    matches = sa.select(AuditEvent.id).where(in_range).limit(PREFIX_PROBE).subquery()
    if (db.session.scalar(sa.select(sa.func.count()).select_from(matches)) or 0) >= PREFIX_PROBE:
        return like
    return sa.and_(in_range, like)


def _filtered(filters: AuditFilter) -> sa.Select[AuditEvent]:
    query = sa.select(AuditEvent)
    if actor := filters.actor.strip().lower():
        query = query.where(_actor_clause(actor))
    if filters.target_type:
        query = query.where(AuditEvent.target_type == filters.target_type)
    if target := filters.target.strip():
        query = query.where(_target_clause(target))
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.since is not None:
        query = query.where(AuditEvent.created_at >= _day_start(filters.since))
    if filters.until is not None and filters.until < date.max:
        query = query.where(AuditEvent.created_at < _day_start(filters.until + timedelta(days=1)))
    return query


def _position(event_id: int | None) -> sa.Tuple | None:
    """The (time, id) of a cursor's event, or None when there is no such event."""
    if event_id is None:
        return None
    created = db.session.scalar(sa.select(AuditEvent.created_at).where(AuditEvent.id == event_id))
    return (
        sa.tuple_(sa.literal(created, AuditEvent.created_at.type), sa.literal(event_id))
        if created
        else None
    )


def list_events(
    filters: AuditFilter,
    before: int | None = None,
    after: int | None = None,
    per_page: int = EVENTS_PER_PAGE,
) -> EventPage:
    """Matching events, newest first: those older than event ``before``, or the page just
    newer than event ``after``, or the newest. One query (two with a cursor)."""
    key = sa.tuple_(AuditEvent.created_at, AuditEvent.id)
    query = _filtered(filters)
    if after is not None and (position := _position(after)) is not None:
        rows = list(
            db.session.scalars(
                query.where(key > position)
                .order_by(AuditEvent.created_at, AuditEvent.id)
                .limit(per_page + 1)
            )
        )
        more_newer = len(rows) > per_page
        events = rows[:per_page][::-1]
        older, newer = (events[-1].id if events else None), (events[0].id if more_newer else None)
    else:
        position = _position(before)
        if position is not None:
            query = query.where(key < position)
        rows = list(
            db.session.scalars(
                query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(
                    per_page + 1
                )
            )
        )
        events = rows[:per_page]
        older = events[-1].id if len(rows) > per_page else None
        newer = events[0].id if position is not None and events else None
    return EventPage([AuditEntry(e, describe_diff(e.diff)) for e in events], older, newer)


def get_entry(event_id: int) -> AuditEntry:
    """One event with its diff rows, or NotFound."""
    event = db.session.get(AuditEvent, event_id)
    if event is None:
        raise NotFound("That audit event does not exist.")
    return AuditEntry(event, describe_diff(event.diff))


def _distinct(column: str) -> list[str]:
    """The values of an indexed column, by a skip scan: one index probe per distinct value
    (a recursive query), instead of reading every event as ``SELECT DISTINCT`` does."""
    assert column in ("target_type", "action")  # never user input: names an indexed column
    statement = sa.text(
        f"WITH RECURSIVE seen(value) AS ("
        f" SELECT MIN({column}) FROM audit_events"
        f" UNION ALL"
        f" SELECT (SELECT MIN({column}) FROM audit_events WHERE {column} > seen.value)"
        f" FROM seen WHERE seen.value IS NOT NULL"
        f") SELECT value FROM seen WHERE value IS NOT NULL"
    )
    return list(db.session.scalars(statement))


def target_types() -> list[str]:
    """The target types present in the log, for the filter's choices."""
    return _distinct("target_type")


def actions() -> list[str]:
    """The actions present in the log, for the filter's choices."""
    return _distinct("action")
