"""``flask demo``: realistic data, the rollups in step, and no mixing with real records."""

from __future__ import annotations

import sqlalchemy as sa

from tests.services.usage import data
from tests.services.usage.test_dashboard import expected, observed
from webapp.extensions import db
from webapp.models import Budget, Credential, CreditEntry, UsageRecord, User
from webapp.models.usage import usage_rollups
from webapp.services.usage import dashboard, rollups
from webapp.services.usage.filters import Scope, make_filters


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def test_demo_fills_people_money_and_usage(runner, admin):
    result = runner.invoke(args=["demo", "--records", "800", "--users", "12", "--orgs", "2"])
    assert result.exit_code == 0, result.output
    assert "800 records" in result.output and "password" in result.output
    assert count(UsageRecord) == 800
    modes = set(db.session.scalars(sa.select(User.mode).where(User.email.like("user%"))))
    assert modes == {"managed", "byok"}
    assert count(Credential) >= 1 and count(CreditEntry) >= 2 and count(Budget) >= 2
    statuses = set(db.session.scalars(sa.select(UsageRecord.status)))
    assert "ok" in statuses
    assert db.session.scalar(sa.select(sa.func.sum(usage_rollups.c.requests))) == 800
    filters = make_filters("custom", *_span())
    before = dashboard.totals(filters, Scope())
    assert observed(before) == expected(filters, Scope())  # rolled as written: exact
    assert before.requests == 800
    rollups.rebuild()
    after = dashboard.totals(filters, Scope())
    assert observed(after) == observed(before)
    assert (after.latency_p50, after.ttft_p95) == (before.latency_p50, before.ttft_p95)


def _span():
    from datetime import UTC, datetime, timedelta

    today = datetime.now(UTC).date()
    return today - timedelta(days=95), today


def test_demo_refuses_a_database_with_real_records(runner, admin):
    data.insert([data.record()])
    refused = runner.invoke(args=["demo", "--records", "10", "--users", "3", "--orgs", "1"])
    assert refused.exit_code != 0 and "--force" in refused.output
    assert count(UsageRecord) == 1
    forced = runner.invoke(
        args=["demo", "--records", "10", "--users", "3", "--orgs", "1", "--force"]
    )
    assert forced.exit_code == 0, forced.output
    assert count(UsageRecord) == 11


def test_rollup_command_rebuilds(runner, admin):
    data.insert([data.record(), data.record()])
    assert "rolled up 2 records" in runner.invoke(args=["usage", "rollup"]).output
    assert "rebuilt from 2 records" in runner.invoke(args=["usage", "rollup", "--rebuild"]).output
