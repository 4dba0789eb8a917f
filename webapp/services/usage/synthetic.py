"""Synthetic but realistic usage, for the demo command and the dashboard benchmark: people
(Zipf-like activity, both modes) in organizations, features and access tokens, and usage
records with daily and weekly rhythms, errors, unpriced and estimated calls, over the
seeded catalog's models, priced as metering would price them. Written with bulk Core
inserts (no ORM objects), so hundreds of thousands of records take seconds."""

from __future__ import annotations

import bisect
import itertools
import random
import uuid
from collections.abc import Callable, Iterator
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
                "mode": "byok" if rng.random() < byok_share else "managed",
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


def _moment(rng: random.Random, days: int, now: datetime) -> datetime:
    while True:
        day = rng.randrange(days)
        when = now - timedelta(days=day)
        if rng.random() <= WEEKLY[when.weekday()] / 1.05:
            break
    hour = bisect.bisect_right(HOUR_CUMULATIVE, rng.random() * HOUR_CUMULATIVE[-1])
    start = when.replace(hour=hour, minute=0, second=0, microsecond=0)
    moment = start + timedelta(seconds=rng.random() * 3600)
    if moment > now:  # later today: somewhere in today so far instead, never all at "now"
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        moment = midnight + (now - midnight) * rng.random()
    return moment


def _cost(m: ModelChoice, tokens_in: int, tokens_out: int, cached: int) -> Decimal | None:
    if m.input_price is None or m.output_price is None:
        return None
    cached_price = m.cached_price if m.cached_price is not None else m.input_price
    cost = (
        (tokens_in - cached) * m.input_price + cached * cached_price + tokens_out * m.output_price
    ) / MILLION
    return cost.quantize(EIGHT)


def records(
    n: int,
    people: list[Person],
    models: list[ModelChoice],
    features: list[int],
    *,
    days: int = 90,
    seed: int = 2,
) -> Iterator[dict[str, Any]]:
    """``n`` record rows (dicts for a Core insert), random but reproducible from ``seed``
    (request ids aside: unique per run)."""
    rng = random.Random(seed)
    run = f"{REQUEST_ID_PREFIX}{uuid.uuid4().hex[:16]}-"
    now = datetime.now(UTC)
    person_weights = [p.weight for p in people]
    model_weights = [m.weight for m in models]
    feature_pool: list[int | None] = [*features, None, None]
    who = rng.choices(people, person_weights, k=n)
    what = rng.choices(models, model_weights, k=n)
    # In time order, as metering writes them: the time indexes then fill page by page.
    moments = sorted(_moment(rng, days, now) for _ in range(n))
    for i in range(n):
        p, m = who[i], what[i]
        roll = rng.random()
        status = "ok" if roll < 0.95 else ("error" if roll < 0.985 else "cancelled")
        stream = rng.random() < 0.6
        tokens_in = int(rng.lognormvariate(6.5, 1.0)) if status != "error" else 0
        tokens_out = int(rng.lognormvariate(5.5, 0.9)) if status == "ok" else 0
        cached = int(tokens_in * rng.choice((0, 0, 0.5, 0.9)))
        cost = _cost(m, tokens_in, tokens_out, cached) if status != "error" else Decimal(0)
        managed = p.mode == "managed"
        latency = int(rng.lognormvariate(6.8, 0.7))
        yield {
            "created_at": moments[i],
            # One random stamp per run, then a counter: ids in index order (random ones
            # scattered the unique index's inserts over the whole tree).
            "request_id": f"{run}{i:010d}",
            "caller": "gateway" if p.token_id and rng.random() < 0.7 else "playground",
            "user_id": p.user_id,
            "org_id": p.org_id,
            "feature_id": rng.choice(feature_pool),
            "provider_id": m.provider_id,
            "model_id": m.model_id,
            "access_token_id": p.token_id if p.token_id and rng.random() < 0.7 else None,
            "provider_slug": m.provider_slug,
            "model_name": m.model_name,
            "operation": "chat",
            "mode": p.mode,
            "key_source": "global" if managed else "user",
            "status": status,
            "error_type": rng.choice(("rate_limited", "timeout", "unavailable"))
            if status == "error"
            else None,
            "error_message": "The provider did not answer in time." if status == "error" else None,
            "stream": stream,
            "input_tokens": tokens_in,
            "output_tokens": tokens_out,
            "cached_tokens": cached,
            "estimated": status == "cancelled",
            "usage_adjusted": False,
            "unpriced": cost is None,
            "cost_usd": cost,
            "credits": (cost * m.multiplier).quantize(EIGHT)
            if managed and cost is not None
            else None,
            "latency_ms": latency,
            "ttft_ms": max(20, int(latency * rng.uniform(0.1, 0.4)))
            if stream and status == "ok"
            else None,
            "rolled": True,  # counted into the rollups in the inserting transaction
        }


def write_records(
    rows: Iterator[dict[str, Any]],
    *,
    batch: int = 20_000,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Insert the rows a batch at a time (PostgreSQL's COPY, else a Core executemany) in one
    transaction that holds the rollup lock, then add them all to the rollups set-based
    before it commits: records and rollups appear together, and each rollup row is written
    once however many batches touch it."""
    after = rollups.inserting()
    chunk: list[dict[str, Any]] = []
    try:
        for row in rows:
            chunk.append(row)
            if len(chunk) == batch:
                _write(chunk)
                if progress:
                    progress(len(chunk))
                chunk = []
        if chunk:
            _write(chunk)
            if progress:
                progress(len(chunk))
        rollups.add_inserted(after)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    rollups.analyze()  # fresh statistics: a bulk load leaves the planner guessing


def _write(chunk: list[dict[str, Any]]) -> None:
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        db.session.execute(sa.insert(UsageRecord.__table__), chunk)
        return
    names = list(chunk[0])
    raw = connection.connection.driver_connection
    statement = f"COPY usage_records ({', '.join(names)}) FROM STDIN"
    with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        for row in chunk:
            copy.write_row(
                [
                    v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) else v
                    for v in row.values()
                ]
            )


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
