"""``flask demo``: realistic data, the rollups in step, and no mixing with real records."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.services.usage import data
from tests.services.usage.test_dashboard import expected, observed
from webapp.extensions import db
from webapp.models import Budget, Credential, CreditEntry, UsageRecord, User
from webapp.models.usage import usage_rollup_pairs, usage_rollups, usage_rollups_lean
from webapp.services.usage import dashboard, rollups, synthetic
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


def _rollup_rows() -> dict[str, list[tuple]]:
    """Every rollup table's rows, without their ids, in order."""
    rows = {}
    for table in (usage_rollups, usage_rollups_lean, usage_rollup_pairs):
        columns = [c for c in table.c if c.name != "id"]
        rows[table.name] = sorted(tuple(r) for r in db.session.execute(sa.select(*columns)))
    return rows


def _schema() -> set[str]:
    """The definitions of the usage tables' indexes and constraints."""
    if db.engine.dialect.name == "sqlite":
        query = "SELECT sql FROM sqlite_master WHERE tbl_name LIKE 'usage_%'"  # not temp
        return {str(r) for r in db.session.scalars(sa.text(query))}
    indexes = db.session.scalars(
        sa.text(
            "SELECT indexdef FROM pg_indexes"
            " WHERE tablename LIKE 'usage_%' AND schemaname NOT LIKE 'pg_temp%'"
        )
    )
    constraints = db.session.scalars(
        sa.text(
            "SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'usage_records'::regclass"
        )
    )
    return {*indexes, *constraints}


def _rolled_incrementally() -> dict[str, list[tuple]]:
    """The rollups as catch-up builds them, a few hundred records at a time (upserts)."""
    db.session.execute(sa.update(UsageRecord).values(rolled=False))
    for table in (usage_rollups, usage_rollups_lean, usage_rollup_pairs):
        db.session.execute(sa.delete(table))
    db.session.commit()
    while rollups.catch_up(limit=450, wait=True):
        pass
    return _rollup_rows()


@pytest.mark.committed  # the bulk load's DDL locks the tables its VACUUM then reads
def test_bulk_load_rolls_up_exactly_what_catch_up_and_rebuild_compute(app, admin):
    """The demo's bulk path (PostgreSQL: indexes and constraints dropped and rebuilt, empty
    rollups filled by plain inserts) ends with the rollups that the incremental catch-up and
    a rebuild compute from the records, and with every index and constraint back; so does a
    second load into rollups that are no longer empty (upserts)."""
    schema = _schema()
    people = synthetic.make_people(9, 2, password_hash="x", seed=5)
    models = synthetic.model_choices()
    features = synthetic.feature_ids(["bulk-a", "bulk-b"])
    told: list[int] = []
    rows = synthetic.records(1500, people, models, features, seed=3)
    synthetic.write_records(rows, expected=1500, bulk=True, batch=400, progress=told.append)
    assert told == [400, 400, 400, 300]
    assert count(UsageRecord) == 1500 and rollups.unrolled_count() == 0
    assert _schema() == schema
    written = _rollup_rows()
    assert sum(r[-1] for r in written["usage_rollup_pairs"]) > 0
    rollups.rebuild()
    assert _rollup_rows() == written
    assert _rolled_incrementally() == written
    more = synthetic.records(700, people, models, features, seed=4)
    synthetic.write_records(more, expected=700, bulk=True)
    assert _schema() == schema
    written = _rollup_rows()
    rollups.rebuild()
    assert _rollup_rows() == written
    assert _rolled_incrementally() == written
    filters = make_filters("custom", *_span())
    assert observed(dashboard.totals(filters, Scope())) == expected(filters, Scope())
    assert dashboard.totals(filters, Scope()).requests == 2200
