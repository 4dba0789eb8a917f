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

import contextlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import has_app_context
from sqlalchemy.orm import Session

from webapp.extensions import db
from webapp.models import CallStatus, Mode, UsageRecord
from webapp.models.usage import (
    HISTOGRAM_BUCKETS,
    LATENCY_BOUNDS,
    LEAN_DIMENSIONS,
    PAIR_HIGH,
    PAIR_LOW,
    PAIR_SUMS,
    ROLLUP_ID_DIMENSIONS,
    ROLLUP_TEXT_DIMENSIONS,
    usage_rollup_pairs,
    usage_rollups,
    usage_rollups_lean,
)
from webapp.services.usage.filters import (
    DIMENSIONS,
    Filters,
    Scope,
    record_conditions,
    rollup_conditions,
)

log = logging.getLogger(__name__)
LOCK_KEY = 0x5B_05A6E  # the advisory lock shared by catch-up and rebuild
CATCH_UP_BATCH = 50_000
CATCH_UP_EVERY = 30.0  # seconds between a process's catch-ups on dashboard reads
KEY = ("day", *ROLLUP_ID_DIMENSIONS, *ROLLUP_TEXT_DIMENSIONS)
LEAN_KEY = ("day", *LEAN_DIMENSIONS)
PAIR_KEY = ("high", "low", "low_value", "grain", "day", "high_value")
PAIR_METRICS = (*PAIR_SUMS, "cost_usd", "credits")
ROLLUP_TABLES = (usage_rollups, usage_rollups_lean, usage_rollup_pairs)
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


def week_of(day: Any) -> Any:
    """The Monday of a date column's week."""
    if dialect() == "sqlite":
        return sa.func.date(day, "weekday 0", "-6 days")
    return sa.cast(sa.func.date_trunc("week", day), sa.Date)


def pair_periods(since: date, until: date) -> list[tuple[int, date, date]]:
    """(grain, first, last) ranges covering ``since``…``until``: its whole Monday-to-Sunday
    weeks as week rows (by their Monday), the days before and after them as day rows."""
    monday = since + timedelta(days=(7 - since.weekday()) % 7)
    sunday = until - timedelta(days=(until.weekday() + 1) % 7)
    if sunday - monday < timedelta(days=6):
        return [(0, since, until)]
    ranges = [(1, monday, sunday - timedelta(days=6))]
    if since < monday:
        ranges.append((0, since, monday - timedelta(days=1)))
    if sunday < until:
        ranges.append((0, sunday + timedelta(days=1), until))
    return ranges


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


def _indexed() -> bool:
    """Whether the unrolled records' other conditions may use indexes: PostgreSQL's planner
    weighs the partial index by its statistics; SQLite's prefers any index on the period."""
    return dialect() != "sqlite"


def unrolled() -> Any:
    """``rolled = false``: the form both databases match to the partial index on unrolled
    records (PostgreSQL's ``NOT rolled``, SQLite's ``rolled = 0``); ``IS false`` matches
    neither and scans the table."""
    return UsageRecord.rolled == sa.false()


def source(
    filters: Filters,
    scope: Scope,
    sums: tuple[str, ...] = SUMS,
    *,
    lean: bool = False,
    cte: bool = False,
) -> Any:
    """A subquery of rollup-shaped rows with the ``sums`` asked for: the rollups and the
    unrolled records selected, read in one statement (one snapshot). ``lean`` reads the
    rollup without user, org and token (the caller checks the filters and scope allow it)."""
    table, key = (usage_rollups_lean, LEAN_KEY) if lean else (usage_rollups, KEY)
    names = (*key, *sums)
    rolled = sa.select(*(table.c[n] for n in names)).where(
        *rollup_conditions(filters, scope, table)
    )
    by_name = {c.name: c for c in record_columns()}
    fresh = sa.select(*(by_name[n] for n in names)).where(
        unrolled(), *record_conditions(filters, scope, indexed=_indexed())
    )
    union = sa.union_all(rolled, fresh)
    return union.cte("usage") if cte else union.subquery("usage")


def lean_covers(filters: Filters, scope: Scope) -> bool:
    """Whether the lean rollup holds what these filters select (every record in scope)."""
    return scope.everything and all(DIMENSIONS[n] in LEAN_DIMENSIONS for n in filters.values)


def pairs_cover(filters: Filters, scope: Scope) -> bool:
    """Whether the pairs table holds the user/org/token breakdowns of this view."""
    return lean_covers(filters, scope) and len(filters.values) <= 1


def pair_source(
    high_name: str,
    filters: Filters,
    sums: tuple[str, ...] = PAIR_METRICS,
    keys: list[int] | None = None,
) -> Any:
    """Rows (key, sums) of the many-valued dimension ``high_name`` (a column name) under the
    view's one lean filter or none: the pairs rows and the unrolled records, one snapshot.
    ``keys`` narrows to those values (the second step of a top-N)."""
    p = usage_rollup_pairs.c
    low_name, low_value = "", 0
    for name, value in filters.values.items():
        low_name = DIMENSIONS[name]
        low_value = code_of(low_name, value)
    branches = []
    for grain, first, last in pair_periods(filters.since, filters.until):
        rolled = sa.select(p.high_value.label("key"), *(p[n] for n in sums)).where(
            p.high == PAIR_HIGH.index(high_name),
            p.low == PAIR_LOW.index(low_name),
            p.low_value == low_value,
            p.grain == grain,
            p.day >= first,
            p.day <= last,
        )
        if keys is not None:
            rolled = rolled.where(p.high_value.in_(keys))
        branches.append(rolled)
    by_name = {c.name: c for c in record_columns()}
    record_key = sa.func.coalesce(getattr(UsageRecord, high_name), 0)
    fresh = sa.select(record_key.label("key"), *(by_name[n] for n in sums)).where(
        unrolled(), *record_conditions(filters, Scope(), indexed=_indexed())
    )
    if keys is not None:
        fresh = fresh.where(record_key.in_(keys))
    return sa.union_all(*branches, fresh).subquery("pairs")


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


# The records a maintenance step moves into (or out of) the rollups, by id: a temporary
# table of the session's connection, emptied before each use.
MOVING = sa.Table(
    "usage_rollup_moving", sa.MetaData(), sa.Column("id", sa.BigInteger, primary_key=True)
)


def _moving() -> sa.Table:
    if dialect() == "postgresql":
        db.session.execute(
            sa.text(
                "CREATE TEMPORARY TABLE IF NOT EXISTS usage_rollup_moving"
                " (id bigint PRIMARY KEY) ON COMMIT DELETE ROWS"
            )
        )
    else:
        db.session.execute(
            sa.text(
                "CREATE TEMPORARY TABLE IF NOT EXISTS usage_rollup_moving (id INTEGER PRIMARY KEY)"
            )
        )
    db.session.execute(sa.delete(MOVING))
    return MOVING


def code_of(name: str, value: Any) -> int:
    """Mode and status as small integers in the pairs table (0: none); ids as they are."""
    if name == "mode":
        return tuple(Mode).index(value) + 1 if value in tuple(Mode) else 0
    if name == "status":
        return tuple(CallStatus).index(value) + 1 if value in tuple(CallStatus) else 0
    return int(value or 0)


def _upsert(
    table: sa.Table, key: tuple[str, ...], sums: tuple[str, ...], rows: Any, fresh: bool = False
) -> None:
    """``INSERT … SELECT`` these grouped rows, adding to the rows already there (``fresh``:
    the table is empty, a plain insert)."""
    from sqlalchemy.dialects import postgresql, sqlite

    if fresh:
        db.session.execute(sa.insert(table).from_select([*key, *sums], rows))
        return
    insert = postgresql.insert if dialect() == "postgresql" else sqlite.insert
    statement: Any = insert(table).from_select([*key, *sums], rows)
    statement = statement.on_conflict_do_update(
        index_elements=list(key), set_={n: table.c[n] + statement.excluded[n] for n in sums}
    )
    db.session.execute(statement)


# The records being added (or taken away), grouped once by the full key: every rollup is
# then filled from these rows, so the records are read once, not once per table. A temporary
# table of the session's connection, emptied before each use.
STAGED = sa.Table(
    "usage_rollup_staged",
    sa.MetaData(),
    *(sa.Column(c.name, c.type) for c in usage_rollups.c if c.name != "id"),
    prefixes=["TEMPORARY"],
)


def _code(column: Any, name: str) -> Any:
    """Mode or status text as its small integer code (``code_of`` in SQL)."""
    values = tuple(Mode) if name == "mode" else tuple(CallStatus)
    return sa.case(*((column == str(v), i + 1) for i, v in enumerate(values)), else_=0)


def _apply(where: list[Any], sign: int = 1, *, fresh: bool = False) -> None:
    """Add (``sign=-1``: take away) the records selected by ``where`` to every rollup
    (``fresh``: to empty rollups, with plain inserts)."""
    if dialect() == "postgresql":
        # A few dozen short statements, each costed high enough for PostgreSQL to compile
        # it (JIT) first: compiling took longer than running them (seconds per 100 000
        # records), so not for this transaction.
        db.session.execute(sa.text("SET LOCAL jit = off"))
    # Empty rollups (``fresh``) take the grouped records as they are: the full rollup is
    # then the staged rows, and the pairs are written straight into their table.
    staged = usage_rollups if fresh else STAGED
    if not fresh:
        db.session.execute(sa.schema.CreateTable(STAGED, if_not_exists=True))
        db.session.execute(sa.delete(STAGED))
    moved = sa.select(*record_columns()).where(*where).subquery("moved")
    m = moved.c

    def total(name: str) -> Any:
        summed = sa.func.sum(m[name])
        return summed if sign > 0 else -summed

    db.session.execute(
        sa.insert(staged).from_select(
            [*KEY, *SUMS],
            sa.select(*(m[n] for n in KEY), *(total(n) for n in SUMS)).group_by(
                *(m[n] for n in KEY)
            ),
        )
    )
    c = staged.c
    if not fresh:
        # WHERE true: SQLite would read ON CONFLICT after a bare FROM as a join's ON.
        _upsert(
            usage_rollups, KEY, SUMS, sa.select(*(c[n] for n in (*KEY, *SUMS))).where(sa.true())
        )
    lean = sa.select(*(c[n] for n in LEAN_KEY), *(sa.func.sum(c[n]) for n in SUMS)).group_by(
        *(c[n] for n in LEAN_KEY)
    )
    _upsert(usage_rollups_lean, LEAN_KEY, SUMS, lean, fresh)
    if fresh:
        _stage_pairs(c, usage_rollup_pairs)
        return
    _stage_pairs(c, PAIRS_STAGED)
    p = PAIRS_STAGED.c
    _upsert(
        usage_rollup_pairs,
        PAIR_KEY,
        PAIR_METRICS,
        # In the unique key's order: the index then fills page by page.
        sa.select(*(p[n] for n in (*PAIR_KEY, *PAIR_METRICS)))
        .where(sa.true())
        .order_by(*(p[n] for n in PAIR_KEY)),
    )


# The pairs rows of the records being moved, before they are added to usage_rollup_pairs in
# one statement: the day rows grouped from the staged rows, the week rows from the day rows.
PAIRS_STAGED = sa.Table(
    "usage_rollup_pairs_staged",
    sa.MetaData(),
    *(sa.Column(c.name, c.type) for c in usage_rollup_pairs.c if c.name != "id"),
    prefixes=["TEMPORARY"],
)


def _stage_pairs(c: Any, target: sa.Table) -> None:
    """Fill ``target`` (PAIRS_STAGED, or the empty pairs table) from the staged rows ``c``
    (STAGED's columns, or the fresh full rollup's). Per org and per token, they are first
    regrouped without the other many-valued dimensions (fewer rows: people share them); each
    lean dimension's day rows come from those, the rows without one from the status rows
    (every record has one status), and all week rows from the day rows. Counts are summed
    as 4-byte integers (a staged row counts one key of one day), far cheaper to sum."""
    if target is PAIRS_STAGED:
        db.session.execute(sa.schema.CreateTable(PAIRS_STAGED, if_not_exists=True))
        db.session.execute(sa.delete(PAIRS_STAGED))
    db.session.execute(sa.schema.CreateTable(PAIRS_HIGH, if_not_exists=True))
    p = target.c
    names = [*PAIR_KEY, *PAIR_METRICS]
    lows = [n for n in PAIR_LOW if n]
    for high, high_name in enumerate(PAIR_HIGH):
        keys = [
            c.day,
            c[high_name].label("high_value"),
            *(c[n] for n in LEAN_DIMENSIONS if n not in ("mode", "status")),
            _code(c.mode, "mode").label("mode"),
            _code(c.status, "status").label("status"),
        ]
        if high_name == "user_id":
            # A person is mostly in one org with at most a token or two: regrouping without
            # them would keep nearly every row, so the staged rows are read as they are.
            h = sa.select(*keys, *(c[n] for n in PAIR_METRICS)).subquery("staged").c
        else:
            db.session.execute(sa.delete(PAIRS_HIGH))
            db.session.execute(
                sa.insert(PAIRS_HIGH).from_select(
                    [k.name for k in keys] + list(PAIR_METRICS),
                    sa.select(*keys, *(_sum(c[n]) for n in PAIR_METRICS)).group_by(*keys),
                )
            )
            h = PAIRS_HIGH.c
        for low_name in lows:
            days = sa.select(
                sa.literal(high),
                sa.literal(PAIR_LOW.index(low_name)),
                h[low_name],
                sa.literal(0),
                h.day,
                h.high_value,
                *(_sum(h[n]) for n in PAIR_METRICS),
            ).group_by(h[low_name], h.day, h.high_value)
            db.session.execute(sa.insert(target).from_select(names, days))
        none = (
            sa.select(
                p.high,
                sa.literal(0),
                sa.literal(0),
                p.grain,
                p.day,
                p.high_value,
                *(_sum(p[n]) for n in PAIR_METRICS),
            )
            .where(p.high == high, p.low == PAIR_LOW.index("status"), p.grain == 0)
            .group_by(p.high, p.grain, p.day, p.high_value)
        )
        db.session.execute(sa.insert(target).from_select(names, none))
    week = week_of(p.day)
    weeks = (
        sa.select(
            p.high,
            p.low,
            p.low_value,
            sa.literal(1),
            week,
            p.high_value,
            *(_sum(p[n]) for n in PAIR_METRICS),
        )
        .where(p.grain == 0)
        .group_by(p.high, p.low, p.low_value, week, p.high_value)
    )
    db.session.execute(sa.insert(target).from_select(names, weeks))


# Counts a staged row holds for one key and day: summed as 4-byte integers.
SMALL_COUNTS = frozenset({"requests", "errors", "priced", "unpriced", "estimated"})


def _sum(column: Any) -> Any:
    if column.name in SMALL_COUNTS and dialect() == "postgresql":
        return sa.func.sum(sa.cast(column, sa.Integer))
    return sa.func.sum(column)


# One many-valued dimension's staged rows, without the other two (see ``_stage_pairs``).
PAIRS_HIGH = sa.Table(
    "usage_rollup_pairs_high",
    sa.MetaData(),
    sa.Column("day", sa.Date),
    sa.Column("high_value", sa.Integer),
    *(sa.Column(n, sa.Integer) for n in LEAN_DIMENSIONS),
    *(sa.Column(c.name, c.type) for c in usage_rollup_pairs.c if c.name in PAIR_METRICS),
    prefixes=["TEMPORARY"],
)


def _moved_where() -> list[Any]:
    return [UsageRecord.id.in_(sa.select(MOVING.c.id))]


def catch_up(limit: int = CATCH_UP_BATCH, *, wait: bool = False) -> int:
    """Roll up to ``limit`` unrolled records (oldest ids first); returns how many. Set-based:
    the records are marked and added to every rollup in a few statements."""
    try:
        if not _lock(wait):
            db.session.rollback()
            return 0
        moving = _moving()
        r = UsageRecord
        batch = sa.select(r.id).where(unrolled()).order_by(r.id).limit(limit)
        mark = (
            sa.update(r)
            .where(unrolled(), r.id.in_(batch.scalar_subquery()))
            .values(rolled=True)
            .returning(r.id)
        )
        if dialect() == "postgresql":
            marked = mark.cte("marked")
            db.session.execute(
                sa.insert(moving).from_select(["id"], sa.select(marked.c.id)),
            )
        else:
            ids = db.session.scalars(mark, execution_options={"synchronize_session": False}).all()
            if ids:
                db.session.execute(sa.insert(moving), [{"id": i} for i in ids])
        count = int(db.session.scalar(sa.select(sa.func.count()).select_from(moving)) or 0)
        if count:
            _apply(_moved_where())
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return count


def catch_up_all() -> int:
    total = 0
    while count := catch_up(wait=True):
        total += count
    return total


_last_catch_up: dict[str, float] = {}


def catch_up_now_and_then(every: float = CATCH_UP_EVERY) -> int:
    """A catch-up at most every ``every`` seconds per process (per database), skipped when
    another process holds the lock: the reads stay exact without it, only a little slower
    as unrolled records pile up."""
    bind = db.session.get_bind()
    url = str(bind.engine.url if isinstance(bind, sa.Connection) else bind.url)
    now = time.monotonic()
    if now - _last_catch_up.get(url, -every) < every:
        return 0
    _last_catch_up[url] = now
    return catch_up()


def inserting() -> int:
    """Start a bulk insert of records marked ``rolled`` (demo, benchmark): takes the lock for
    the transaction and returns the highest id so far, for ``add_inserted`` before it
    commits."""
    _lock(wait=True)
    return int(db.session.scalar(sa.select(sa.func.max(UsageRecord.id))) or 0)


def add_inserted(after: int, *, bulk: bool = False) -> bool:
    """Count the records this transaction inserted as rolled (ids above ``after``) into every
    rollup. Under the lock no catch-up marks anything meanwhile, and other writers insert
    unrolled records, so ``rolled`` above ``after`` is exactly this transaction's rows.
    ``bulk`` (a demo or benchmark load, PostgreSQL): when the rollups are empty, fill them
    with plain inserts and build their indexes afterwards; returns whether it did."""
    r = UsageRecord
    where = [r.id > after, r.rolled == sa.true()]
    if not (bulk and dialect() == "postgresql" and _rollups_empty()):
        _apply(where)
        return False
    with contextlib.ExitStack() as stack:
        for table in ROLLUP_TABLES:
            stack.enter_context(indexes_rebuilt_after(table.name))
        _apply(where, fresh=True)
    return True


def _rollups_empty() -> bool:
    return not any(
        db.session.scalar(sa.select(sa.exists().where(sa.true()).select_from(table)))
        for table in ROLLUP_TABLES
    )


@contextmanager
def indexes_rebuilt_after(table: str, *, constraints: bool = False) -> Iterator[None]:
    """Drop ``table``'s indexes (all but the primary key) and, with ``constraints``, its
    foreign-key and unique constraints; recreate them from their stored definitions on the
    way out. For bulk loads on PostgreSQL: an index built once over all the rows, and a
    foreign key checked by one join, cost a fraction of maintaining them row by row. The DDL
    is part of the transaction (a failure restores everything); meanwhile the transaction
    holds the table, and for the constraints the tables they reference, exclusively."""
    oid = f"'{table}'::regclass"
    kinds = "('f', 'u')" if constraints else "('')"
    kept = db.session.execute(
        sa.text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            f" WHERE conrelid = {oid} AND contype IN {kinds} ORDER BY contype DESC, conname"
        )
    ).all()
    indexes = db.session.execute(
        sa.text(
            "SELECT c.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x"
            " JOIN pg_class c ON c.oid = x.indexrelid"
            f" WHERE x.indrelid = {oid} AND NOT x.indisprimary AND NOT EXISTS"
            " (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid"
            f" AND k.conrelid = {oid}) ORDER BY c.relname"
        )
    ).all()
    if kept:
        drops = ", ".join(f'DROP CONSTRAINT "{name}"' for name, _ in kept)
        db.session.execute(sa.text(f"ALTER TABLE {table} {drops}"))
    for name, _ in indexes:
        db.session.execute(sa.text(f'DROP INDEX "{name}"'))
    yield
    db.session.execute(sa.text("SET LOCAL maintenance_work_mem = '256MB'"))
    for _, definition in indexes:
        db.session.execute(sa.text(definition))
    if kept:
        adds = ", ".join(f'ADD CONSTRAINT "{name}" {definition}' for name, definition in kept)
        db.session.execute(sa.text(f"ALTER TABLE {table} {adds}"))


def delete_records(ids: list[int]) -> int:
    """Delete these records and take the rolled ones out of every rollup, in the caller's
    transaction (serialized with catch-up). Rows left at zero are cleared by ``purge_empty``."""
    _lock(wait=True)
    r = UsageRecord
    moving = _moving()
    db.session.execute(
        sa.insert(moving).from_select(
            ["id"], sa.select(r.id).where(r.id.in_(ids), r.rolled == sa.true())
        )
    )
    _apply(_moved_where(), sign=-1)  # unrolled ones were never counted
    result = db.session.execute(
        sa.delete(r).where(r.id.in_(ids)), execution_options={"synchronize_session": False}
    )
    return int(getattr(result, "rowcount", 0) or 0)


def purge_empty() -> None:
    """Drop rollup rows that deletions brought to zero records (they add nothing)."""
    for table in (usage_rollups, usage_rollups_lean, usage_rollup_pairs):
        db.session.execute(sa.delete(table).where(table.c.requests <= 0))


def rebuild() -> int:
    """Recompute every rollup from the records; returns how many records they cover."""
    try:
        _lock(wait=True)
        r = UsageRecord
        db.session.execute(
            sa.update(r).where(unrolled()).values(rolled=True),
            execution_options={"synchronize_session": False},
        )
        for table in (usage_rollups, usage_rollups_lean, usage_rollup_pairs):
            db.session.execute(sa.delete(table))
        _apply([], fresh=True)  # emptied above: plain inserts, no conflicts to look for
        count = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(usage_rollups.c.requests), 0))
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    analyze()
    log.info("usage rollups rebuilt from %s records", count)
    return int(count or 0)


def analyze(*, vacuum_all: bool = True) -> None:
    """Refresh the planner's statistics on the records and rollups after a bulk change (on
    PostgreSQL; autovacuum would get there, but only after the first slow pages), and VACUUM
    the rollups (outside a transaction): it clears the dead rows a rebuild or upserts leave
    and marks pages all-visible, which the pairs' index-only scans (the top-N ranking) need
    to skip the table. ``vacuum_all=False`` after filling empty rollups (no dead rows): only
    the pairs are vacuumed, the others analyzed."""
    if dialect() != "postgresql":
        return
    vacuumed = ROLLUP_TABLES if vacuum_all else (usage_rollup_pairs,)
    for table in ("usage_records", *(t.name for t in ROLLUP_TABLES if t not in vacuumed)):
        db.session.execute(sa.text(f"ANALYZE {table}"))
    db.session.commit()
    with db.engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        for vacuum in vacuumed:
            autocommit.exec_driver_sql(f"VACUUM (ANALYZE) {vacuum.name}")


def unrolled_count() -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).where(unrolled())) or 0)


def forget(references: dict[str, list[Any]]) -> None:
    """Set these references of the records to NULL — ``{"feature_id": [ids or a select of
    ids], …}`` — moving the rolled records to the rollup rows of "none" in the caller's
    transaction (serialized with catch-up): what ``ON DELETE SET NULL`` does to the records
    when the user, org, feature, provider, model or token is deleted, done first so the
    rollups follow. Without it they would keep counting the deleted id, and a dashboard row
    for it would select no record. A deleted user's records also lose their request and
    response bodies. Takes as long as rewriting those records (as the SET NULL would
    anyway)."""
    r = UsageRecord
    where = {
        name: sa.or_(*(getattr(r, name).in_(ids) for ids in sets))
        for name, sets in references.items()
        if sets
    }
    if not where:
        return
    _lock(wait=True)
    moving = _moving()
    db.session.execute(
        sa.insert(moving).from_select(
            ["id"], sa.select(r.id).where(r.rolled == sa.true(), sa.or_(*where.values()))
        )
    )
    _apply(_moved_where(), sign=-1)
    for name, condition in where.items():
        cleared: dict[str, Any] = {name: None}
        if name == "user_id":  # a deleted person's prompts and replies go with them
            cleared.update(request_body=sa.null(), response_body=sa.null())
        db.session.execute(
            sa.update(r).where(condition).values(cleared),
            execution_options={"synchronize_session": False},
        )
    _apply(_moved_where())
    purge_empty()


def references_to(deleted: list[Any]) -> dict[str, list[Any]]:
    """What deleting these ORM instances sets to NULL in the records, directly or through a
    cascade in the database (a user's or org's tokens, a provider's models)."""
    from webapp.models import AccessToken, CatalogModel, Feature, Organization, Provider, User

    def ids(kind: Any) -> list[int]:
        return [o.id for o in deleted if isinstance(o, kind)]

    users, orgs, providers = ids(User), ids(Organization), ids(Provider)
    found: dict[str, list[Any]] = {
        "user_id": [users] if users else [],
        "org_id": [orgs] if orgs else [],
        "feature_id": [ids(Feature)] if ids(Feature) else [],
        "provider_id": [providers] if providers else [],
        "model_id": [ids(CatalogModel)] if ids(CatalogModel) else [],
        "access_token_id": [ids(AccessToken)] if ids(AccessToken) else [],
    }
    if providers:
        found["model_id"].append(
            sa.select(CatalogModel.id).where(CatalogModel.provider_id.in_(providers))
        )
    if users or orgs:
        found["access_token_id"].append(
            sa.select(AccessToken.id).where(
                sa.or_(AccessToken.user_id.in_(users), AccessToken.org_id.in_(orgs))
            )
        )
    return {name: sets for name, sets in found.items() if sets}


@sa.event.listens_for(Session, "before_flush")
def _forget_deleted(session: Session, _context: Any, _instances: Any) -> None:
    """Any deletion through the ORM of something the records point at (a feature or
    provider from its page, a user or org in a future page or a script) keeps the rollups
    equal to the records."""
    if not session.deleted or not has_app_context() or session is not db.session():
        return
    if references := references_to(list(session.deleted)):
        forget(references)
