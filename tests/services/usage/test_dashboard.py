"""Dashboard totals, series and breakdowns equal the sums over the records, for random
filter combinations, before and after rollups catch up or are rebuilt."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests import factories
from tests.services.usage import data
from webapp.extensions import db
from webapp.models import Feature, UsageRecord
from webapp.models.usage import usage_rollups
from webapp.services.usage import dashboard, rollups
from webapp.services.usage.filters import DIMENSIONS, Scope, make_filters, record_conditions

CENT = Decimal("0.000001")


@pytest.fixture
def world(app):
    a, b = factories.make_org("alpha"), factories.make_org("beta")
    users = [factories.make_user(f"u{i}@example.com") for i in range(4)]
    factories.add_member(a, users[0])
    factories.add_member(a, users[1])
    factories.add_member(b, users[2])
    feature = Feature(slug="summaries", name="Summaries")
    db.session.add(feature)
    db.session.commit()
    models = [
        (factories.model(g).provider_id, factories.model(g).id)
        for g in ("openai/gpt-5.4-mini", "anthropic/claude-sonnet-5-5")
    ]
    rows = data.random_records(
        400,
        users=[u.id for u in users],
        orgs=[a.id, b.id, None],
        models=models,
        features=[feature.id, None],
    )
    data.insert(rows)
    return {
        "orgs": [a.id, b.id],
        "users": [u.id for u in users],
        "models": models,
        "feature": feature.id,
    }


def expected(filters, scope) -> dict:
    r = UsageRecord
    row = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(r.cost_usd), 0),
            sa.func.coalesce(sa.func.sum(r.credits), 0),
            sa.func.coalesce(sa.func.sum(r.input_tokens), 0),
            sa.func.coalesce(sa.func.sum(r.output_tokens), 0),
            sa.func.count().filter(r.status == "error"),
            sa.func.count().filter(r.unpriced.is_(True)),
            sa.func.count().filter(r.estimated.is_(True)),
        ).where(*record_conditions(filters, scope))
    ).one()
    return {
        "requests": row[0],
        "cost_usd": Decimal(str(row[1])).quantize(CENT),
        "credits": Decimal(str(row[2])).quantize(CENT),
        "input_tokens": row[3],
        "output_tokens": row[4],
        "errors": row[5],
        "unpriced": row[6],
        "estimated": row[7],
    }


def observed(t) -> dict:
    return {
        "requests": t.requests,
        "cost_usd": t.cost_usd.quantize(CENT),
        "credits": t.credits.quantize(CENT),
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "errors": t.errors,
        "unpriced": t.unpriced,
        "estimated": t.estimated,
    }


def random_filters(rng, world):
    choices = {
        "org": [*world["orgs"], 0],
        "user": world["users"],
        "model": [m for _, m in world["models"]],
        "provider": [p for p, _ in world["models"]],
        "feature": [world["feature"], 0],
        "mode": ["managed", "byok"],
        "status": ["ok", "error", "cancelled"],
    }
    names = rng.sample(sorted(choices), rng.randint(0, 3))
    period = rng.choice(["today", "7d", "30d", "month", "custom"])
    today = datetime.now(UTC).date()
    since = today - timedelta(days=rng.randint(0, 45))
    return make_filters(
        period,
        since,
        since + timedelta(days=rng.randint(0, 10)),
        {n: rng.choice(choices[n]) for n in names},
    )


def check_everything(filters, scope):
    board = dashboard.build(filters, scope)
    want = expected(filters, scope)
    assert observed(board.totals) == want, filters
    series_sum = sum(t.requests for _, t in board.series)
    assert series_sum == want["requests"]
    assert sum((t.cost_usd for _, t in board.series), Decimal(0)).quantize(CENT) == want["cost_usd"]
    for b in board.breakdowns:
        parts = [row.totals for row in b.rows] + ([b.rest] if b.rest else [])
        assert sum(p.requests for p in parts) == want["requests"], b.name
        assert sum(p.unpriced for p in parts) == want["unpriced"], b.name
        for row in b.rows:  # a row's link selects exactly that row's records
            narrowed = make_filters("custom", filters.since, filters.until, row.args)
            assert observed(row.totals)["requests"] == expected(narrowed, scope)["requests"]


def test_totals_equal_record_sums_for_random_filters(world):
    rng = random.Random(11)
    for _ in range(12):  # nothing rolled yet: all from the records
        check_everything(random_filters(rng, world), Scope())
    rollups.catch_up_all()
    assert rollups.unrolled_count() == 0
    for _ in range(12):
        check_everything(random_filters(rng, world), Scope())


def test_totals_hold_after_rebuild_and_with_late_records(world):
    rollups.catch_up_all()
    # A record that commits late, for a day already rolled (an interrupted call, or an id
    # that committed out of order): counted at once, rolled into the right day later.
    data.insert(
        [data.record(created_at=datetime.now(UTC) - timedelta(days=3), cost_usd=Decimal("5"))]
    )
    rng = random.Random(5)
    scope = Scope(org_ids=tuple(world["orgs"]))
    filters = make_filters("30d")
    assert observed(dashboard.totals(filters, Scope())) == expected(filters, Scope())
    assert rollups.rebuild() == db.session.scalar(sa.select(sa.func.count(UsageRecord.id)))
    for _ in range(10):
        check_everything(random_filters(rng, world), scope)
        check_everything(random_filters(rng, world), Scope())


def test_catch_up_twice_counts_each_record_once(world):
    rollups.catch_up(limit=150)
    rollups.catch_up(limit=150)
    rollups.catch_up()
    assert rollups.catch_up() == 0
    summed = db.session.scalar(sa.select(sa.func.sum(usage_rollups.c.requests)))
    assert summed == db.session.scalar(sa.select(sa.func.count(UsageRecord.id)))


def test_dashboard_reads_catch_up_at_most_now_and_then(world, monkeypatch):
    calls = []
    monkeypatch.setattr(rollups, "catch_up", lambda: calls.append(1) or 0)
    monkeypatch.setattr(rollups, "_last_catch_up", {})
    for _ in range(3):
        dashboard.build(make_filters("7d"), Scope())
    assert calls == [1]  # once, then not again within CATCH_UP_EVERY seconds


def test_org_scope_never_shows_another_org(world):
    alpha, beta = world["orgs"]
    scope = Scope(org_ids=(alpha,))
    for values in ({}, {"org": beta}, {"org": 0}, {"user": world["users"][2]}):
        filters = make_filters(
            "custom",
            datetime.now(UTC).date() - timedelta(days=60),
            datetime.now(UTC).date(),
            values,
        )
        board = dashboard.build(filters, scope)
        mine = expected(filters, scope)
        assert board.totals.requests == mine["requests"]
        unscoped = make_filters("custom", filters.since, filters.until, {**values, "org": alpha})
        if "org" in values:
            assert board.totals.requests == 0
        else:
            assert board.totals.requests == expected(unscoped, Scope())["requests"] > 0
        for b in board.breakdowns:
            if b.name == "org":
                assert {row.key for row in b.rows} <= {alpha}


def test_percentiles_come_from_the_latency_histogram():
    assert dashboard.percentile([0] * 15, 0.5) is None
    counts = [0] * 15
    counts[4] = 10  # 300 < latency <= 500
    assert 300 < dashboard.percentile(counts, 0.5) <= 500


def test_bad_filters_are_refused():
    from webapp.services.errors import ValidationError

    for args in (
        ("nope",),
        ("custom", None, None),
        ("30d", None, None, {"mode": "free"}),
        ("30d", None, None, {"user": "x"}),
    ):
        with pytest.raises(ValidationError):
            make_filters(*args)
    assert set(DIMENSIONS) == {
        "model",
        "provider",
        "org",
        "user",
        "feature",
        "token",
        "mode",
        "status",
    }
