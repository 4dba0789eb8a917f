"""Property-style: for several random worlds (seeds), the dashboard's totals, series and
breakdowns equal the sums over the records, whatever the filters and scope, through every
state the rollups go through — nothing rolled, partly rolled, caught up, late records,
pruned, rebuilt — and whichever rollup table (full, lean, pairs) answers the view."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests import factories
from tests.services.usage import data
from tests.services.usage.test_dashboard import check_everything, expected, observed
from webapp.extensions import db
from webapp.models import Feature, Organization, UsageRecord, User
from webapp.models.usage import usage_rollup_pairs, usage_rollups, usage_rollups_lean
from webapp.services.settings import features
from webapp.services.usage import dashboard, retention, rollups
from webapp.services.usage.filters import Scope, make_filters

SEEDS = (1, 2, 3)


def _world(seed: int) -> dict:
    rng = random.Random(seed)
    orgs = [factories.make_org(f"org{seed}-{i}") for i in range(3)]
    users = [factories.make_user(f"p{seed}-{i}@example.com") for i in range(6)]
    for i, user in enumerate(users[:5]):
        factories.add_member(orgs[i % 3], user)
    features = []
    for name in ("summaries", "search"):
        feature = Feature(slug=f"{name}-{seed}", name=name)
        db.session.add(feature)
        features.append(feature)
    db.session.commit()
    models = [
        (factories.model(g).provider_id, factories.model(g).id)
        for g in ("openai/gpt-5.4-mini", "anthropic/claude-sonnet-5-5")
    ]
    rows = data.random_records(
        300,
        users=[u.id for u in users],
        orgs=[*(o.id for o in orgs), None],
        models=models,
        features=[*(f.id for f in features), None],
        days=70,
        seed=seed,
    )
    for row in rows:  # some records came through the gateway with a token
        row["access_token_id"] = None
    data.insert(rows)
    return {
        "rng": rng,
        "orgs": [o.id for o in orgs],
        "users": [u.id for u in users],
        "models": models,
        "features": [f.id for f in features],
    }


def _filters(world: dict):
    rng = world["rng"]
    choices = {
        "org": [*world["orgs"], 0],
        "user": world["users"],
        "model": [m for _, m in world["models"]],
        "provider": [p for p, _ in world["models"]],
        "feature": [*world["features"], 0],
        "mode": ["managed", "byok"],
        "status": ["ok", "error", "cancelled"],
        "token": [0],
    }
    names = rng.sample(sorted(choices), rng.choice([0, 1, 1, 1, 2, 3]))
    today = datetime.now(UTC).date()
    since = today - timedelta(days=rng.randint(0, 80))
    period = rng.choice(["today", "7d", "30d", "month", "custom", "custom"])
    return make_filters(
        period,
        since,
        min(today, since + timedelta(days=rng.randint(0, 60))),
        {n: rng.choice(choices[n]) for n in names},
    )


def _scope(world: dict) -> Scope:
    rng = world["rng"]
    return rng.choice(
        [
            Scope(),
            Scope(),
            Scope(org_ids=(rng.choice(world["orgs"]),)),
            Scope(org_ids=tuple(world["orgs"][:2])),
            Scope(user_id=rng.choice(world["users"])),
        ]
    )


def _check(world: dict, rounds: int = 8) -> None:
    for _ in range(rounds):
        check_everything(_filters(world), _scope(world))


def _tables_agree() -> None:
    """Every rollup table counts the same rolled records."""
    rolled = db.session.scalar(sa.select(sa.func.count()).where(UsageRecord.rolled == sa.true()))
    full = db.session.scalar(sa.select(sa.func.sum(usage_rollups.c.requests))) or 0
    assert full == rolled
    lean = db.session.scalar(sa.select(sa.func.sum(usage_rollups_lean.c.requests))) or 0
    assert lean == rolled
    pairs = usage_rollup_pairs.c
    for high in range(3):
        for low in range(6):
            for grain in range(2):
                summed = db.session.scalar(
                    sa.select(sa.func.coalesce(sa.func.sum(pairs.requests), 0)).where(
                        pairs.high == high, pairs.low == low, pairs.grain == grain
                    )
                )
                assert summed == rolled, (high, low, grain)


@pytest.mark.parametrize("seed", SEEDS)
def test_dashboard_equals_records_through_every_rollup_state(app, admin, seed):
    world = _world(seed)
    _check(world)  # nothing rolled: every figure from the records
    rollups.catch_up(limit=120)  # partly rolled
    _tables_agree()
    _check(world)
    rollups.catch_up_all()
    _tables_agree()
    _check(world)
    late = datetime.now(UTC) - timedelta(days=world["rng"].randint(1, 20))
    data.insert(  # late records for days already rolled
        [
            data.record(
                created_at=late,
                user_id=world["users"][0],
                org_id=world["orgs"][0],
                cost_usd=Decimal("3.5"),
                mode="byok",
            )
        ]
    )
    _check(world)
    retention.update_retention(admin, body_days=None, record_days="35")
    retention.prune(batch=37)  # deletes rolled records, in several batches
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).where(
                UsageRecord.created_at < datetime.now(UTC) - timedelta(days=36)
            )
        )
        == 0
    )
    _tables_agree()
    _check(world)
    rollups.rebuild()
    _tables_agree()
    _check(world)


def _rollup_rows() -> dict[str, list[tuple]]:
    rows = {}
    for table in (usage_rollups, usage_rollups_lean, usage_rollup_pairs):
        columns = [c for c in table.c if c.name != "id"]
        rows[table.name] = sorted(tuple(r) for r in db.session.execute(sa.select(*columns)))
    return rows


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_deleting_what_records_point_at_keeps_the_dashboard_exact(app, admin, seed):
    """Records outlive a deleted feature, provider, user or org (their reference becomes
    NULL): the rollups move them to "none" too, so a breakdown row never names a deleted id
    that selects no record, and the "none" filter counts them."""
    world = _world(seed)
    secret = data.record(user_id=world["users"][0], request_body={"prompt": "secret"})
    data.insert([secret])
    rollups.catch_up(limit=150)  # some rolled, some not
    feature = db.session.get(Feature, world["features"][0])
    features.delete_feature(admin, feature)
    user = db.session.get(User, world["users"][0])
    org = db.session.get(Organization, world["orgs"][0])
    db.session.delete(user)
    db.session.delete(org)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).where(UsageRecord.user_id.is_(None)))
    body = sa.select(UsageRecord.request_body).where(UsageRecord.request_id == secret["request_id"])
    assert db.session.scalar(body) is None  # the deleted person's prompts went with them
    _tables_agree()
    today = datetime.now(UTC).date()
    for values in ({}, {"feature": 0}, {"org": 0}, {"user": world["users"][0]}):
        check_everything(make_filters("custom", today - timedelta(days=75), today, values), Scope())
    _check(world)
    rollups.catch_up_all()
    _tables_agree()
    _check(world)
    written = _rollup_rows()
    rollups.rebuild()
    assert _rollup_rows() == written


def test_pair_periods_cover_each_day_once():
    from datetime import date

    start = date(2026, 11, 2)  # a Monday
    for offset in range(10):
        for length in range(0, 40):
            since = start + timedelta(days=offset)
            until = since + timedelta(days=length)
            covered = []
            for grain, first, last in rollups.pair_periods(since, until):
                assert first <= last
                if grain == 1:
                    assert first.weekday() == 0 and last.weekday() == 0
                    days = (last - first).days + 7
                else:
                    days = (last - first).days + 1
                covered += [first + timedelta(days=i) for i in range(days)]
            assert sorted(covered) == [since + timedelta(days=i) for i in range(length + 1)]


def test_unfiltered_and_single_filter_views_read_the_small_tables(app):
    """The views the speed targets name answer from the lean and pairs tables (their
    figures are the records' in the tests above); a scope reads the full rollup."""
    filters = make_filters("30d")
    assert rollups.lean_covers(filters, Scope()) and rollups.pairs_cover(filters, Scope())
    for name, value in (("model", 1), ("provider", 1), ("feature", 0), ("mode", "byok")):
        one = make_filters("30d", values={name: value})
        assert rollups.pairs_cover(one, Scope())
    assert not rollups.lean_covers(make_filters("30d", values={"user": 1}), Scope())
    assert not rollups.lean_covers(filters, Scope(org_ids=(1,)))
    two = make_filters("30d", values={"model": 1, "status": "ok"})
    assert rollups.lean_covers(two, Scope()) and not rollups.pairs_cover(two, Scope())


def test_migration_fills_the_new_tables_from_the_full_rollup(app, monkeypatch):
    """0009 regroups the full rollup into the lean and pairs tables: the same rows as a
    rebuild makes."""
    import importlib.util
    import types
    from pathlib import Path

    world = _world(9)
    assert world
    rollups.rebuild()

    def snapshot(table):
        columns = [c for c in table.c if c.name != "id"]
        return sorted(tuple(str(v) for v in row) for row in db.session.execute(sa.select(*columns)))

    before = (snapshot(usage_rollups_lean), snapshot(usage_rollup_pairs))
    db.session.execute(sa.delete(usage_rollups_lean))
    db.session.execute(sa.delete(usage_rollup_pairs))
    path = Path(__file__).parents[3] / "migrations/versions/0010_usage_cubes.py"
    spec = importlib.util.spec_from_file_location("m0009", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.op = types.SimpleNamespace(get_bind=lambda: db.session.connection())
    module._fill_from_full_rollup()
    db.session.commit()
    assert (snapshot(usage_rollups_lean), snapshot(usage_rollup_pairs)) == before
    filters = make_filters("30d")
    assert observed(dashboard.totals(filters, Scope())) == expected(filters, Scope())
