"""Daily rollups of the usage records, kept exact.

``usage_rollups`` holds, per UTC day and combination of dimensions (user, org, provider,
model, feature, token, mode, status), the sums of the records that are marked ``rolled``.
A catch-up marks unrolled records rolled and adds them to their rows in one transaction, so
at every moment *rollups + unrolled records* equal the records exactly. Every dashboard
query reads both halves in one statement (one snapshot), so a record is never counted
twice or missed — whenever it commits, in whatever id order, however late (an interrupted
call recorded hours later still lands in the right day).

Catch-up and rebuild serialize on a PostgreSQL advisory lock (SQLite serializes writers).
"""

from __future__ import annotations

import bisect
import logging
from collections import defaultdict
from datetime import UTC, date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import UsageRecord
from webapp.models.usage import (
    HISTOGRAM_BUCKETS,
    LATENCY_BOUNDS,
    ROLLUP_ID_DIMENSIONS,
    ROLLUP_TEXT_DIMENSIONS,
    usage_rollups,
)
from webapp.services.usage.filters import Filters, Scope, record_conditions, rollup_conditions

log = logging.getLogger(__name__)
LOCK_KEY = 0x5B_05A6E  # the advisory lock shared by catch-up and rebuild
CATCH_UP_BATCH = 50_000
KEY = ("day", *ROLLUP_ID_DIMENSIONS, *ROLLUP_TEXT_DIMENSIONS)
HISTOGRAM = tuple(f"{k}_h{i}" for k in ("latency", "ttft") for i in range(HISTOGRAM_BUCKETS))
SUMS = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "priced",
    "unpriced",
    "estimated",
    "latency_count",
    "ttft_count",
    "cost_usd",
    "credits",
    *HISTOGRAM,
)


def dialect() -> str:
    return db.session.get_bind().dialect.name


def day_of(column: Any) -> Any:
    """The UTC day of a timestamp column (stored naive UTC on both databases)."""
    return sa.func.date(column) if dialect() == "sqlite" else sa.cast(column, sa.Date)


def hour_of(column: Any) -> Any:
    if dialect() == "sqlite":
        return sa.func.strftime("%Y-%m-%d %H:00:00", column)
    return sa.func.date_trunc("hour", column)


def as_date(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _flag(condition: Any) -> Any:
    return sa.case((condition, 1), else_=0)


def _bucket(column: Any, i: int) -> Any:
    if i == 0:
        return _flag(column <= LATENCY_BOUNDS[0])
    if i == len(LATENCY_BOUNDS):
        return _flag(column > LATENCY_BOUNDS[-1])
    return _flag(sa.and_(column > LATENCY_BOUNDS[i - 1], column <= LATENCY_BOUNDS[i]))


_COLUMNS: dict[str, list[Any]] = {}


def record_columns() -> list[Any]:
    """One record as a rollup row: its key (NULLs as 0 / '') and what it adds to the sums.
    Built once per dialect: the expressions are immutable and costly to build."""
    name = dialect()
    if name not in _COLUMNS:
        _COLUMNS[name] = _record_columns()
    return _COLUMNS[name]


def _record_columns() -> list[Any]:
    r = UsageRecord
    key = [day_of(r.created_at).label("day")]
    key += [sa.func.coalesce(getattr(r, n), 0).label(n) for n in ROLLUP_ID_DIMENSIONS]
    key += [sa.func.coalesce(getattr(r, n), "").label(n) for n in ROLLUP_TEXT_DIMENSIONS]
    sums = [
        sa.literal(1).label("requests"),
        _flag(r.status == "error").label("errors"),
        sa.func.coalesce(r.input_tokens, 0).label("input_tokens"),
        sa.func.coalesce(r.output_tokens, 0).label("output_tokens"),
        sa.func.coalesce(r.cached_tokens, 0).label("cached_tokens"),
        _flag(r.cost_usd.is_not(None)).label("priced"),
        _flag(r.unpriced.is_(True)).label("unpriced"),
        _flag(r.estimated.is_(True)).label("estimated"),
        _flag(r.latency_ms.is_not(None)).label("latency_count"),
        _flag(r.ttft_ms.is_not(None)).label("ttft_count"),
        sa.func.coalesce(r.cost_usd, 0).label("cost_usd"),
        sa.func.coalesce(r.credits, 0).label("credits"),
    ]
    sums += [_bucket(r.latency_ms, i).label(f"latency_h{i}") for i in range(HISTOGRAM_BUCKETS)]
    sums += [_bucket(r.ttft_ms, i).label(f"ttft_h{i}") for i in range(HISTOGRAM_BUCKETS)]
    return key + sums


def unrolled() -> Any:
    """``rolled = false``: the form both databases match to the partial index on unrolled
    records (PostgreSQL's ``NOT rolled``, SQLite's ``rolled = 0``); ``IS false`` matches
    neither and scans the table."""
    return UsageRecord.rolled == sa.false()


def source(filters: Filters, scope: Scope, sums: tuple[str, ...] = SUMS) -> Any:
    """A subquery of rollup-shaped rows with the ``sums`` asked for: the rollups and the
    unrolled records selected, read in one statement (one snapshot)."""
    names = (*KEY, *sums)
    rolled = sa.select(*(usage_rollups.c[n] for n in names)).where(
        *rollup_conditions(filters, scope)
    )
    by_name = {c.name: c for c in record_columns()}
    fresh = sa.select(*(by_name[n] for n in names)).where(
        unrolled(), *record_conditions(filters, scope)
    )
    return sa.union_all(rolled, fresh).subquery("usage")


def _lock(wait: bool) -> bool:
    if dialect() != "postgresql":
        return True
    # Advisory locks are per database: the schema in the key keeps two installations that
    # share a database (one schema each) from waiting on each other.
    key = (sa.literal(LOCK_KEY), sa.func.hashtext(sa.func.current_schema()))
    if wait:
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(*key)))
        return True
    return bool(db.session.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(*key))))


def catch_up(limit: int = CATCH_UP_BATCH, *, wait: bool = False) -> int:
    """Roll up to ``limit`` unrolled records (oldest ids first); returns how many."""
    try:
        if not _lock(wait):
            db.session.rollback()
            return 0
        r = UsageRecord
        batch = sa.select(r.id).where(unrolled()).order_by(r.id).limit(limit)
        rows = db.session.execute(
            sa.update(r)
            .where(unrolled(), r.id.in_(batch.scalar_subquery()))
            .values(rolled=True)
            .returning(*record_columns()),
            execution_options={"synchronize_session": False},
        ).all()
        if rows:
            _add(list(rows))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return len(rows)


def catch_up_all() -> int:
    total = 0
    while count := catch_up(wait=True):
        total += count
    return total


def _add(rows: list[Any], sign: int = 1) -> None:
    """Add (or, with ``sign=-1``, take away) these record rows to their rollup rows."""
    totals: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(lambda: dict.fromkeys(SUMS, 0))
    for row in rows:
        values = row._mapping
        key = (as_date(values["day"]), *(values[n] for n in KEY[1:]))
        bucket = totals[key]
        for name in SUMS:
            bucket[name] += sign * (values[name] or 0)
    payload = [
        {**dict(zip(KEY, key, strict=True)), **sums, "cost_usd": Decimal(sums["cost_usd"])}
        for key, sums in totals.items()
    ]
    from sqlalchemy.dialects import postgresql, sqlite

    upsert = postgresql.insert if dialect() == "postgresql" else sqlite.insert
    statement: Any = upsert(usage_rollups)
    statement = statement.on_conflict_do_update(
        index_elements=list(KEY),
        set_={n: usage_rollups.c[n] + statement.excluded[n] for n in SUMS},
    )
    for start in range(0, len(payload), 2000):
        db.session.execute(statement, payload[start : start + 2000])


def _bucket_index(value: int) -> int:
    return bisect.bisect_left(LATENCY_BOUNDS, value)


def add_new_records(rows: list[dict[str, Any]]) -> None:
    """Count records being inserted, already marked ``rolled``, into their rollup rows — in
    the inserting transaction (bulk writers: the demo, benchmarks)."""
    _lock(wait=True)
    mapped = []
    for row in rows:
        if not row.get("rolled"):
            raise ValueError("add_new_records() counts only records inserted as rolled")
        status, cost, latency, ttft = (
            row["status"],
            row.get("cost_usd"),
            row.get("latency_ms"),
            row.get("ttft_ms"),
        )
        values: dict[str, Any] = dict.fromkeys(SUMS, 0)
        values.update(
            day=row["created_at"].astimezone(UTC).date(),
            requests=1,
            errors=int(status == "error"),
            input_tokens=row.get("input_tokens") or 0,
            output_tokens=row.get("output_tokens") or 0,
            cached_tokens=row.get("cached_tokens") or 0,
            priced=int(cost is not None),
            unpriced=int(bool(row.get("unpriced"))),
            estimated=int(bool(row.get("estimated"))),
            latency_count=int(latency is not None),
            ttft_count=int(ttft is not None),
            cost_usd=cost or 0,
            credits=row.get("credits") or 0,
            status=status,
            mode=row.get("mode") or "",
        )
        for name in ROLLUP_ID_DIMENSIONS:
            values[name] = row.get(name) or 0
        if latency is not None:
            values[f"latency_h{_bucket_index(latency)}"] = 1
        if ttft is not None:
            values[f"ttft_h{_bucket_index(ttft)}"] = 1
        mapped.append(_Mapped(values))
    _add(mapped)


class _Mapped:
    """A dict seen as a result row (``row._mapping``) by ``_add``."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._mapping = values


def delete_records(ids: list[int]) -> int:
    """Delete these records and take the rolled ones out of their rollup rows, in the
    caller's transaction (serialized with catch-up)."""
    _lock(wait=True)
    r = UsageRecord
    rows = db.session.execute(
        sa.delete(r).where(r.id.in_(ids)).returning(r.rolled, *record_columns()),
        execution_options={"synchronize_session": False},
    ).all()
    rolled = [row for row in rows if row.rolled]  # unrolled ones were never counted
    if rolled:
        _add(rolled, sign=-1)
        db.session.execute(sa.delete(usage_rollups).where(usage_rollups.c.requests <= 0))
    return len(rows)


def rebuild() -> int:
    """Recompute every rollup row from the records; returns how many records it covers."""
    try:
        _lock(wait=True)
        r = UsageRecord
        db.session.execute(
            sa.update(r).where(unrolled()).values(rolled=True),
            execution_options={"synchronize_session": False},
        )
        db.session.execute(sa.delete(usage_rollups))
        per_record = sa.select(*record_columns()).where(r.rolled == sa.true()).subquery()
        grouped = sa.select(
            *(per_record.c[n] for n in KEY), *(sa.func.sum(per_record.c[n]) for n in SUMS)
        ).group_by(*(per_record.c[n] for n in KEY))
        db.session.execute(sa.insert(usage_rollups).from_select([*KEY, *SUMS], grouped))
        count = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(usage_rollups.c.requests), 0))
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    log.info("usage rollups rebuilt from %s records", count)
    return int(count or 0)


def unrolled_count() -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).where(unrolled())) or 0)
