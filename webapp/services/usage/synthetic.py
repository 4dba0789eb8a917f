"""Synthetic but realistic usage, for the demo command and the dashboard benchmark: people
(Zipf-like activity, both modes) in organizations, features and access tokens, and usage
records with daily and weekly rhythms, errors, unpriced and estimated calls, over the
seeded catalog's models, priced as metering would price them. Written with bulk Core
inserts (no ORM objects), so hundreds of thousands of records take seconds."""

from __future__ import annotations

import bisect
import itertools
import math
import random
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import (
    AccessToken,
    CatalogModel,
    Feature,
    Membership,
    Organization,
    Provider,
    UsageRecord,
    User,
)
from webapp.services.usage import rollups

MILLION = Decimal(1_000_000)
EIGHT = Decimal("0.00000001")
# Relative traffic per UTC hour (a working day peaking mid-afternoon) and per weekday.
HOURLY = [1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 11, 11, 10, 11, 12, 12, 11, 9, 7, 5, 4, 3, 2, 1]
WEEKLY = [1.0, 1.05, 1.05, 1.0, 0.9, 0.35, 0.3]  # Monday … Sunday
HOUR_CUMULATIVE = list(itertools.accumulate(HOURLY))
REQUEST_ID_PREFIX = "syn-"  # marks records this module wrote


@dataclass(frozen=True)
class Person:
    user_id: int
    org_id: int | None
    mode: str
    token_id: int | None
    weight: float


@dataclass(frozen=True)
class ModelChoice:
    provider_id: int
    model_id: int
    provider_slug: str
    model_name: str
    input_price: Decimal | None
    output_price: Decimal | None
    cached_price: Decimal | None
    multiplier: Decimal
    weight: float


def bulk_insert(table: sa.Table, rows: list[dict[str, Any]], batch: int = 5000) -> None:
    for start in range(0, len(rows), batch):
        db.session.execute(sa.insert(table), rows[start : start + batch])


def make_people(
    users: int, orgs: int, *, password_hash: str, byok_share: float = 0.25, seed: int = 1
) -> list[Person]:
    """``users`` people spread over ``orgs`` organizations (some in none), tokens for a third."""
    rng = random.Random(seed)
    stamp = uuid.uuid4().hex[:6]
    # A share of the people, not a draw each: a dozen people always include both modes.
    byok = max(1, round(users * byok_share)) if users > 1 else 0
    modes = ["byok"] * byok + ["managed"] * (users - byok)
    rng.shuffle(modes)
    bulk_insert(
        Organization.__table__,
        [{"slug": f"org-{stamp}-{i}", "name": f"Organization {i + 1}"} for i in range(orgs)],
    )
    org_ids = list(
        db.session.scalars(
            sa.select(Organization.id)
            .where(Organization.slug.like(f"org-{stamp}-%"))
            .order_by(Organization.id)
        )
    )
    bulk_insert(
        User.__table__,
        [
            {
                "email": f"user{i + 1}-{stamp}@example.com",
                "display_name": f"User {i + 1}",
                "password_hash": password_hash,
                "mode": modes[i],
            }
            for i in range(users)
        ],
    )
    rows = db.session.execute(
        sa.select(User.id, User.mode)
        .where(User.email.like(f"%-{stamp}@example.com"))
        .order_by(User.id)
    ).all()
    homes = {
        uid: (org_ids[i % len(org_ids)] if org_ids and i % 20 else None)
        for i, (uid, _) in enumerate(rows)
    }
    bulk_insert(
        Membership.__table__,
        [
            {"user_id": uid, "org_id": org, "org_role": "member"}
            for uid, org in homes.items()
            if org
        ],
    )
    with_tokens = [uid for i, (uid, _) in enumerate(rows) if i % 3 == 0]
    bulk_insert(
        AccessToken.__table__,
        [
            {
                "user_id": uid,
                "name": "laptop",
                "prefix": f"sb-{uuid.uuid4().hex[:8]}",
                "token_hash": uuid.uuid4().hex + uuid.uuid4().hex,
                "created_at": datetime.now(UTC),
            }
            for uid in with_tokens
        ],
    )
    tokens: dict[int, int] = {}
    for start in range(0, len(with_tokens), 5000):
        part = with_tokens[start : start + 5000]
        query = sa.select(AccessToken.user_id, AccessToken.id).where(AccessToken.user_id.in_(part))
        tokens.update({uid: tid for uid, tid in db.session.execute(query) if uid is not None})
    db.session.commit()
    return [
        Person(uid, homes[uid], mode, tokens.get(uid), 1.0 / (rank + 1) ** 0.8)
        for rank, (uid, mode) in enumerate(rows)
    ]


def model_choices(limit: int = 12) -> list[ModelChoice]:
    rows = db.session.execute(
        sa.select(Provider, CatalogModel)
        .join(CatalogModel, CatalogModel.provider_id == Provider.id)
        .where(Provider.enabled.is_(True), CatalogModel.enabled.is_(True))
        .order_by(CatalogModel.id)
    ).all()
    chosen = rows[:: max(1, len(rows) // limit)][:limit]
    return [
        ModelChoice(
            p.id,
            m.id,
            p.slug,
            m.model_id,
            m.input_price,
            m.output_price,
            m.cached_input_price,
            Decimal(p.credit_multiplier),
            1.0 / (i + 1),
        )
        for i, (p, m) in enumerate(chosen)
    ]


def feature_ids(names: list[str]) -> list[int]:
    existing = {f.slug: f.id for f in db.session.scalars(sa.select(Feature))}
    missing = [n for n in names if n not in existing]
    bulk_insert(
        Feature.__table__, [{"slug": n, "name": n.replace("-", " ").title()} for n in missing]
    )
    db.session.commit()
    return list(db.session.scalars(sa.select(Feature.id).where(Feature.slug.in_(names))))


# Columns of a synthetic record, in the order ``records`` yields them.
COLUMNS = (
    "created_at",
    "request_id",
    "caller",
    "user_id",
    "org_id",
    "feature_id",
    "provider_id",
    "model_id",
    "access_token_id",
    "provider_slug",
    "model_name",
    "operation",
    "mode",
    "key_source",
    "status",
    "error_type",
    "error_message",
    "stream",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "estimated",
    "usage_adjusted",
    "unpriced",
    "cost_usd",
    "credits",
    "latency_ms",
    "ttft_ms",
    "rolled",
)


def _moments(rng: random.Random, n: int, days: int, now: datetime) -> list[datetime]:
    """``n`` moments (naive UTC) over the last ``days`` days, weighted by weekday and hour,
    in time order; none later than ``now``. Drawn as seconds from today's midnight, so only
    the sorted result becomes datetimes."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    so_far = (now - midnight).total_seconds()
    accept = [WEEKLY[(midnight - timedelta(days=d)).weekday()] / 1.05 for d in range(days)]
    draw, total, offsets = rng.random, HOUR_CUMULATIVE[-1], []
    for _ in range(n):
        while True:
            day = int(draw() * days)
            if draw() <= accept[day]:
                break
        hour = bisect.bisect_right(HOUR_CUMULATIVE, draw() * total)
        seconds = (hour + draw()) * 3600.0 - day * 86400.0
        if seconds > so_far:  # later today: somewhere in today so far, never all at "now"
            seconds = draw() * so_far
        offsets.append(seconds)
    offsets.sort()
    return [midnight + timedelta(seconds=s) for s in offsets]


def _cost(m: ModelChoice, tokens_in: int, tokens_out: int, cached: int) -> Decimal | None:
    if m.input_price is None or m.output_price is None:
        return None
    cached_price = m.cached_price if m.cached_price is not None else m.input_price
    cost = (
        (tokens_in - cached) * m.input_price + cached * cached_price + tokens_out * m.output_price
    ) / MILLION
    return cost.quantize(EIGHT)


ERROR_TYPES = ("rate_limited", "timeout", "unavailable")
CACHED_SHARES = (0, 0, 0.5, 0.9)


def records(
    n: int,
    people: list[Person],
    models: list[ModelChoice],
    features: list[int],
    *,
    days: int = 90,
    seed: int = 2,
) -> Iterator[tuple[Any, ...]]:
    """``n`` record rows, tuples in ``COLUMNS`` order (times naive UTC), random but
    reproducible from ``seed`` (request ids aside: unique per run). A tuple per record and
    the random draws bound to locals: this loop is most of the demo's Python time."""
    rng = random.Random(seed)
    draw, gauss = rng.random, rng.gauss
    run = f"{REQUEST_ID_PREFIX}{uuid.uuid4().hex[:16]}-"
    who = rng.choices(people, [p.weight for p in people], k=n)
    what = rng.choices(models, [m.weight for m in models], k=n)
    feature_pool: list[int | None] = [*features, None, None]
    pool = len(feature_pool)
    # In time order, as metering writes them: the time indexes then fill page by page.
    moments = _moments(rng, n, days, datetime.now(UTC).replace(tzinfo=None))
    for i in range(n):
        p, m = who[i], what[i]
        roll = draw()
        status = "ok" if roll < 0.95 else ("error" if roll < 0.985 else "cancelled")
        ok, error = status == "ok", status == "error"
        stream = draw() < 0.6
        tokens_in = 0 if error else int(math.exp(gauss(6.5, 1.0)))
        tokens_out = int(math.exp(gauss(5.5, 0.9))) if ok else 0
        cached = int(tokens_in * CACHED_SHARES[int(draw() * 4)])
        cost = Decimal(0) if error else _cost(m, tokens_in, tokens_out, cached)
        managed = p.mode == "managed"
        latency = int(math.exp(gauss(6.8, 0.7)))
        token = p.token_id
        yield (
            moments[i],
            # One random stamp per run, then a counter: ids in index order (random ones
            # scattered the unique index's inserts over the whole tree).
            f"{run}{i:010d}",
            "gateway" if token and draw() < 0.7 else "playground",
            p.user_id,
            p.org_id,
            feature_pool[int(draw() * pool)],
            m.provider_id,
            m.model_id,
            token if token and draw() < 0.7 else None,
            m.provider_slug,
            m.model_name,
            "chat",
            p.mode,
            "global" if managed else "user",
            status,
            ERROR_TYPES[int(draw() * 3)] if error else None,
            "The provider did not answer in time." if error else None,
            stream,
            tokens_in,
            tokens_out,
            cached,
            status == "cancelled",  # estimated
            False,  # usage_adjusted
            cost is None,  # unpriced
            cost,
            (cost * m.multiplier).quantize(EIGHT) if managed and cost is not None else None,
            latency,
            max(20, int(latency * (0.1 + 0.3 * draw()))) if stream and ok else None,
            True,  # rolled: counted into the rollups in the inserting transaction
        )


def write_records(
    rows: Iterable[tuple[Any, ...]],
    *,
    expected: int = 0,
    bulk: bool | None = None,
    batch: int = 20_000,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Insert the rows (``records``' tuples) in one transaction that holds the rollup lock,
    then add them all to the rollups set-based before it commits: records and rollups appear
    together, and each rollup row is written once.

    On PostgreSQL the rows go in through one COPY. ``bulk`` (by default: when ``expected``
    rows are many and at least as many as the table holds) drops the table's secondary
    indexes and its foreign-key and unique constraints first and recreates them afterwards
    in the same transaction: building an index once over sorted rows, and checking each
    foreign key with one join, is several times faster than maintaining ten indexes and six
    foreign-key triggers row by row. The recreated constraints check every row, so nothing
    unchecked gets in; meanwhile the transaction holds the table (and, for the constraints,
    the tables it references) exclusively, which suits a demo or benchmark load only."""
    after = rollups.inserting()
    try:
        if rollups.dialect() == "postgresql":
            if bulk is None:
                bulk = expected >= BULK_MIN and expected >= _estimated_rows()
            if bulk:
                # A demo or benchmark load: losing it to a crash in the next moments costs
                # nothing, so the commit need not wait for its WAL to reach the disk.
                db.session.execute(sa.text("SET LOCAL synchronous_commit = off"))
                with rollups.indexes_rebuilt_after("usage_records", constraints=True):
                    _copy(rows, batch, progress)
            else:
                _copy(rows, batch, progress)
        else:
            _insert(rows, batch, progress)
        filled_empty = rollups.add_inserted(after, bulk=bool(bulk))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    # Fresh statistics: a bulk load leaves the planner guessing.
    rollups.analyze(vacuum_all=not filled_empty)


BULK_MIN = 20_000  # rows below which keeping the indexes up to date costs less


def _estimated_rows() -> int:
    """The planner's estimate of usage_records' size (no count over a large table)."""
    estimate = db.session.scalar(
        sa.text("SELECT reltuples FROM pg_class WHERE oid = 'usage_records'::regclass")
    )
    return max(0, int(estimate or 0))


def _copy(
    rows: Iterable[tuple[Any, ...]], batch: int, progress: Callable[[int], None] | None
) -> None:
    """All rows through one binary COPY (psycopg's C dumpers, told the columns' types: a
    third cheaper than text on both sides), the progress told every ``batch`` rows."""
    raw = db.session.connection().connection.driver_connection
    types = db.session.execute(
        sa.text(
            "SELECT attname, atttypid::int FROM pg_attribute"
            " WHERE attrelid = 'usage_records'::regclass AND attnum > 0"
        )
    ).all()
    by_name = {name: kind for name, kind in types}
    statement = f"COPY usage_records ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    done = 0
    with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        copy.set_types([by_name[name] for name in COLUMNS])
        write = copy.write_row
        for done, row in enumerate(rows, 1):
            write(row)
            if progress and not done % batch:
                progress(batch)
    if progress and done % batch:
        progress(done % batch)


def _insert(
    rows: Iterable[tuple[Any, ...]], batch: int, progress: Callable[[int], None] | None
) -> None:
    """A Core executemany per ``batch`` rows (SQLite); times made aware for the UTC column."""
    chunk: list[dict[str, Any]] = []
    for row in itertools.chain(rows, [None]):
        if row is not None:
            values = dict(zip(COLUMNS, row, strict=True))
            values["created_at"] = values["created_at"].replace(tzinfo=UTC)
            chunk.append(values)
        if chunk and (row is None or len(chunk) == batch):
            db.session.execute(sa.insert(UsageRecord.__table__), chunk)
            if progress:
                progress(len(chunk))
            chunk = []


def holds_foreign_records() -> bool:
    """True when the database holds usage records this module did not write."""
    return (
        db.session.scalar(
            sa.select(UsageRecord.id)
            .where(sa.not_(UsageRecord.request_id.startswith(REQUEST_ID_PREFIX)))
            .limit(1)
        )
        is not None
    )
