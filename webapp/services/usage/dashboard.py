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


HIGH = {"user": "user_id", "org": "org_id", "token": "access_token_id"}


def _key(name: str, raw: Any) -> Any:
    if name == "day":
        return rollups.as_date(raw)
    return raw if name in ("mode", "status") else int(raw)


def _from_rollups(
    filters: Filters, scope: Scope, names: list[str], *, by_day: bool, lean: bool, top: int
) -> tuple[Totals, dict[Any, Totals], dict[str, list[Any]]]:
    """Totals (with percentiles), the per-day sums and the top ``top + 1`` rows of each
    breakdown in ``names``: one statement over one snapshot of rollups ∪ unrolled records."""
    src = rollups.source(filters, scope, rollups.SUMS, lean=lean, cte=True)
    everything = METRICS + HISTOGRAM
    zeros: list[Any] = [sa.literal_column("0").label(n) for n in HISTOGRAM]
    branches: list[Any] = [
        sa.select(
            sa.literal_column("'total'").label("grp"),
            sa.cast(sa.null(), sa.String).label("key"),
            *_sums(src, everything),
        )
    ]
    if by_day:
        branches.append(
            sa.select(
                sa.literal_column("'day'").label("grp"),
                sa.cast(src.c.day, sa.String).label("key"),
                *_sums(src),
                *zeros,
            ).group_by(src.c.day)
        )
    for name in names:
        column = src.c[DIMENSIONS[name]]
        ranked = (
            sa.select(
                sa.literal_column(f"'{name}'").label("grp"),
                sa.cast(column, sa.String).label("key"),
                *_sums(src),
                *zeros,
            )
            .group_by(column)
            .having(sa.func.sum(src.c.requests) != 0)
            .order_by(sa.desc("cost_usd"), sa.desc("requests"), column)
            .limit(top + 1)
            .subquery()
        )
        branches.append(sa.select(ranked))
    statement: Any = branches[0] if len(branches) == 1 else _union(branches)
    total = Totals()
    days: dict[Any, Totals] = {}
    groups: dict[str, list[Any]] = {n: [] for n in names}
    rows: Any = db.session.execute(statement)
    for row in rows:
        values = row._mapping
        if row.grp == "total":
            total = _totals(values)
            _percentiles(total, values)
        elif row.grp == "day":
            days[_key("day", row.key)] = _totals(values)
        else:
            groups[row.grp].append((_key(row.grp, row.key), _totals(values)))
    for name in names:  # each branch came ranked; the union keeps no order across them
        groups[name].sort(key=lambda kv: (-kv[1].cost_usd, -kv[1].requests, kv[0]))
    return total, days, groups


def _union(branches: list[Any]) -> Any:
    return sa.union_all(*branches)


def _percentiles(total: Totals, values: Any) -> None:
    latency = [int(values[f"latency_h{i}"] or 0) for i in range(HISTOGRAM_BUCKETS)]
    ttft = [int(values[f"ttft_h{i}"] or 0) for i in range(HISTOGRAM_BUCKETS)]
    total.latency_p50, total.latency_p95 = percentile(latency, 0.5), percentile(latency, 0.95)
    total.ttft_p50, total.ttft_p95 = percentile(ttft, 0.5), percentile(ttft, 0.95)


def _from_pairs(filters: Filters, names: list[str], top: int) -> dict[str, list[Any]]:
    """The top ``top + 1`` users, orgs or tokens of the view from the pairs table, in two
    statements: rank by cost over two narrow columns, then sum every metric of the few
    ranked keys only."""
    ranked_branches = []
    for name in names:
        src = rollups.pair_source(HIGH[name], filters, ("cost_usd", "requests"))
        ranked = (
            sa.select(
                sa.literal_column(f"'{name}'").label("grp"),
                src.c.key,
                sa.func.sum(src.c.cost_usd).label("cost_usd"),
                sa.func.sum(src.c.requests).label("requests"),
            )
            .group_by(src.c.key)
            .having(sa.func.sum(src.c.requests) != 0)
            .order_by(sa.desc("cost_usd"), sa.desc("requests"), src.c.key)
            .limit(top + 1)
            .subquery()
        )
        ranked_branches.append(sa.select(ranked))
    keys: dict[str, list[int]] = {n: [] for n in names}
    if not ranked_branches:
        return {}
    for row in db.session.execute(_union(ranked_branches)):
        keys[row.grp].append(int(row.key))
    detail_branches = []
    for name in names:
        if not keys[name]:
            continue
        src = rollups.pair_source(HIGH[name], filters, keys=keys[name])
        detail_branches.append(
            sa.select(sa.literal_column(f"'{name}'").label("grp"), src.c.key, *_sums(src)).group_by(
                src.c.key
            )
        )
    found: dict[tuple[str, int], Totals] = {}
    if detail_branches:
        for row in db.session.execute(_union(detail_branches)):
            found[(row.grp, int(row.key))] = _totals(row._mapping)
    return {n: [(k, found.get((n, k), Totals())) for k in keys[n]] for n in names}


def totals(filters: Filters, scope: Scope) -> Totals:
    """The view's totals alone."""
    lean = rollups.lean_covers(filters, scope)
    return _from_rollups(filters, scope, [], by_day=False, lean=lean, top=TOP)[0]


def _series(filters: Filters, days: dict[Any, Totals]) -> list[tuple[str, Totals]]:
    count = (filters.until - filters.since).days + 1
    moments = [filters.since + timedelta(days=i) for i in range(count)]
    return [(d.isoformat(), days.get(d, Totals())) for d in moments]


def series(filters: Filters, scope: Scope) -> tuple[list[tuple[str, Totals]], bool]:
    """(label, totals) per day of the period, or per hour when it is one day."""
    if filters.single_day:
        return _hourly(filters, scope), True
    lean = rollups.lean_covers(filters, scope)
    days = _from_rollups(filters, scope, [], by_day=True, lean=lean, top=TOP)[1]
    return _series(filters, days), False


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


def _breakdown(name: str, filters: Filters, found: list[Any], total: Totals, top: int) -> Breakdown:
    shown = found[:top]
    names = labels.resolve(name, [key for key, _ in shown])
    rows = [
        Row(key, names.get(key, str(key)), sums, filters.with_value(name, key))
        for key, sums in shown
    ]
    rest = _minus(total, [row.totals for row in rows]) if len(found) > top else None
    return Breakdown(name, rows, rest)


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
    filters: Filters,
    scope: Scope,
    *,
    dimensions: tuple[str, ...] = BREAKDOWN_ORDER,
    top: int = TOP,
) -> Dashboard:
    """Everything the dashboard shows for these filters and this scope. The unfiltered view
    and any one filter read the lean rollup (totals, series, model/provider/feature/mode/
    status) and the pairs table (users, orgs, tokens); a scope or a user, org or token filter
    selects few rows of the full rollup, which then answers everything."""
    rollups.catch_up_now_and_then()  # keeps the unrolled half small; correctness never needs it
    shown = [d for d in dimensions if d not in filters.values]
    if scope.user_id is not None:
        shown = [d for d in shown if d != "user"]
    lean = rollups.lean_covers(filters, scope)
    paired = [d for d in shown if d in HIGH] if rollups.pairs_cover(filters, scope) else []
    grouped = [d for d in shown if d not in paired]
    if lean and any(d in HIGH for d in grouped):
        lean = False  # several lean filters and a user/org/token breakdown: the full rollup
    total, days, groups = _from_rollups(
        filters, scope, grouped, by_day=not filters.single_day, lean=lean, top=top
    )
    groups.update(_from_pairs(filters, paired, top))
    points = _hourly(filters, scope) if filters.single_day else _series(filters, days)
    return Dashboard(
        filters,
        total,
        points,
        filters.single_day,
        [_breakdown(d, filters, groups[d], total, top) for d in shown],
    )
