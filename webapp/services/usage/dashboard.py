"""The dashboard: totals, a series per day (per hour for one day) and breakdowns by each
dimension, for the filters within the viewer's scope. Unpriced and estimated records are
counted and shown, never dropped from a total."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import UsageRecord
from webapp.models.usage import HISTOGRAM_BUCKETS, LATENCY_BOUNDS
from webapp.services.usage import labels, rollups
from webapp.services.usage.filters import DIMENSIONS, Filters, Scope, record_conditions

BREAKDOWN_ORDER = ("model", "provider", "org", "user", "feature", "token", "mode", "status")
TOP = 10


@dataclass
class Totals:
    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    priced: int = 0
    unpriced: int = 0
    estimated: int = 0
    cost_usd: Decimal = Decimal(0)
    credits: Decimal = Decimal(0)
    latency_p50: float | None = None
    latency_p95: float | None = None
    ttft_p50: float | None = None
    ttft_p95: float | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def as_json(self) -> dict[str, Any]:
        data = {k: v for k, v in vars(self).items()}
        data.update(cost_usd=str(self.cost_usd), credits=str(self.credits))
        data["error_rate"] = round(self.error_rate, 6)
        return data


@dataclass
class Row:
    key: Any
    label: str
    totals: Totals
    args: dict[str, Any] = field(default_factory=dict)  # the filter that selects this row


@dataclass
class Breakdown:
    name: str
    rows: list[Row]
    rest: Totals | None  # the rows beyond the top ones, summed (nothing hidden)


@dataclass
class Dashboard:
    filters: Filters
    totals: Totals
    series: list[tuple[str, Totals]]
    hourly: bool
    breakdowns: list[Breakdown]


METRICS = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "priced",
    "unpriced",
    "estimated",
    "cost_usd",
    "credits",
)


def _sums(src: Any, names: tuple[str, ...] = METRICS) -> list[Any]:
    return [sa.func.coalesce(sa.func.sum(src.c[n]), 0).label(n) for n in names]


def _totals(mapping: Any) -> Totals:
    t = Totals()
    for name in METRICS:
        if name not in ("cost_usd", "credits"):
            setattr(t, name, int(mapping[name] or 0))
    t.cost_usd = _money(mapping["cost_usd"])
    t.credits = _money(mapping["credits"])
    return t


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.00000001"))


def percentile(counts: list[int], q: float) -> float | None:
    """A percentile read from histogram counts, interpolated inside its bucket."""
    total = sum(counts)
    if not total:
        return None
    target, seen = q * total, 0
    for i, count in enumerate(counts):
        if count and seen + count >= target:
            low = LATENCY_BOUNDS[i - 1] if i else 0
            if i == len(LATENCY_BOUNDS):
                return float(low)
            return low + (LATENCY_BOUNDS[i] - low) * (target - seen) / count
        seen += count
    return float(LATENCY_BOUNDS[-1])


HISTOGRAM = tuple(f"{k}_h{i}" for k in ("latency", "ttft") for i in range(HISTOGRAM_BUCKETS))


def totals(filters: Filters, scope: Scope) -> Totals:
    hist = HISTOGRAM
    src = rollups.source(filters, scope, METRICS + hist)
    row = db.session.execute(sa.select(*_sums(src, METRICS + hist))).one()._mapping
    result = _totals(row)
    latency = [int(row[f"latency_h{i}"]) for i in range(HISTOGRAM_BUCKETS)]
    ttft = [int(row[f"ttft_h{i}"]) for i in range(HISTOGRAM_BUCKETS)]
    result.latency_p50, result.latency_p95 = percentile(latency, 0.5), percentile(latency, 0.95)
    result.ttft_p50, result.ttft_p95 = percentile(ttft, 0.5), percentile(ttft, 0.95)
    return result


def series(filters: Filters, scope: Scope) -> tuple[list[tuple[str, Totals]], bool]:
    """(label, totals) per day of the period, or per hour when it is one day."""
    if filters.single_day:
        return _hourly(filters, scope), True
    src = rollups.source(filters, scope)
    rows = db.session.execute(sa.select(src.c.day, *_sums(src)).group_by(src.c.day))
    found = {rollups.as_date(r.day): _totals(r._mapping) for r in rows}
    days = [
        filters.since + timedelta(days=i) for i in range((filters.until - filters.since).days + 1)
    ]
    return [(d.isoformat(), found.get(d, Totals())) for d in days], False


def _hourly(filters: Filters, scope: Scope) -> list[tuple[str, Totals]]:
    r = UsageRecord
    hour = rollups.hour_of(r.created_at).label("hour")
    per_record = (
        sa.select(hour, *rollups.record_columns()[9:])
        .where(*record_conditions(filters, scope))
        .subquery()
    )
    rows = db.session.execute(
        sa.select(per_record.c.hour, *_sums(per_record)).group_by(per_record.c.hour)
    )
    found = {_hour_label(r.hour): _totals(r._mapping) for r in rows}
    return [(f"{h:02d}:00", found.get(f"{h:02d}:00", Totals())) for h in range(24)]


def _hour_label(value: Any) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return f"{value.hour:02d}:00"


def breakdown(
    name: str, filters: Filters, scope: Scope, total: Totals, top: int = TOP
) -> Breakdown:
    src = rollups.source(filters, scope)
    column = src.c[DIMENSIONS[name]]
    rows = db.session.execute(
        sa.select(column.label("key"), *_sums(src))
        .group_by(column)
        .order_by(sa.desc("cost_usd"), sa.desc("requests"), column)
        .limit(top + 1)
    ).all()
    shown = rows[:top]
    names = labels.resolve(name, [r.key for r in shown])
    result = [
        Row(
            r.key,
            names.get(r.key, str(r.key)),
            _totals(r._mapping),
            filters.with_value(name, r.key),
        )
        for r in shown
    ]
    rest = None
    if len(rows) > top:
        rest = _minus(total, [row.totals for row in result])
    return Breakdown(name, result, rest)


def _minus(total: Totals, parts: list[Totals]) -> Totals:
    rest = Totals()
    for n in METRICS:
        setattr(
            rest,
            n,
            getattr(total, n) - sum((getattr(p, n) for p in parts), type(getattr(total, n))()),
        )
    return rest


def build(
    filters: Filters, scope: Scope, *, dimensions: tuple[str, ...] = BREAKDOWN_ORDER
) -> Dashboard:
    """Everything the dashboard shows for these filters and this scope."""
    rollups.catch_up()  # keeps the unrolled half small; correctness never depends on it
    total = totals(filters, scope)
    points, hourly = series(filters, scope)
    shown = [d for d in dimensions if d not in filters.values]
    if scope.user_id is not None:
        shown = [d for d in shown if d != "user"]
    return Dashboard(
        filters, total, points, hourly, [breakdown(d, filters, scope, total) for d in shown]
    )
