"""The server's retention schedule: a run at start and then once a day across every
process (claimed through the database), the same audited prune as the CLI, and never
started in tests or CLI commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.services.usage import data
from webapp.extensions import db
from webapp.models import AuditEvent, UsageRecord
from webapp.services.usage import retention, scheduler
from webapp.services.usage.scheduler import RetentionScheduler, claim_run

START = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _prunes() -> int:
    query = sa.select(sa.func.count()).where(AuditEvent.action == "prune")
    return db.session.scalar(query) or 0


def test_claims_once_a_day_whoever_asks(app):
    assert claim_run(START)  # never ran: due at once (the start)
    assert not claim_run(START)  # another process at the same moment
    assert not claim_run(START + timedelta(hours=23, minutes=59))
    assert claim_run(START + timedelta(days=1))
    assert not claim_run(START + timedelta(days=1, seconds=1))
    assert scheduler.last_run() == START + timedelta(days=1)


def test_a_claim_loses_when_another_process_moved_the_row_first(app, monkeypatch):
    assert claim_run(START)
    later = START + timedelta(days=2)
    real_execute = db.session.execute
    raced = []

    def execute(statement, *args, **kwargs):
        # Between this process's read and its update, another one claims the run.
        if isinstance(statement, sa.Update) and not raced:
            raced.append(True)
            real_execute(
                sa.update(scheduler.AppSetting)
                .where(scheduler.AppSetting.key == scheduler.KEY)
                .values(updated_at=later + timedelta(seconds=1))
            )
        return real_execute(statement, *args, **kwargs)

    monkeypatch.setattr(db.session, "execute", execute)
    assert not claim_run(later)
    monkeypatch.undo()
    assert scheduler.last_run() == START  # the winner's value stands, not this one's


def test_scheduled_prune_runs_at_start_then_daily_and_is_audited(app, admin):
    clock = Clock(datetime.now(UTC))
    data.insert([data.record(created_at=clock.now - timedelta(days=age)) for age in (1, 50, 60)])
    runner = RetentionScheduler(app, clock=clock)
    assert runner.run_once() is None  # no retention set: nothing to do, nothing claimed
    assert scheduler.last_run() is None and _prunes() == 0

    retention.update_retention(admin, body_days=None, record_days="30")
    first = runner.run_once()
    assert first is not None and first.records_deleted == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UsageRecord)) == 1
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "prune"))
    assert event is not None and event.actor_label == "system"
    assert event.diff["records_deleted"]["after"] == 2

    other_worker = RetentionScheduler(app, clock=clock)
    clock.now += timedelta(hours=6)
    assert other_worker.run_once() is None and runner.run_once() is None
    assert _prunes() == 1
    clock.now += timedelta(hours=18)
    second = other_worker.run_once()
    assert second is not None and second.records_deleted == 0
    assert _prunes() == 2


def test_a_failed_prune_is_logged_and_waits_for_the_next_day(app, admin, monkeypatch, caplog):
    retention.update_retention(admin, body_days="5", record_days=None)

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(retention, "prune", broken)
    assert RetentionScheduler(app, clock=Clock(START)).run_once() is None
    assert "scheduled prune failed" in caplog.text


def test_off_in_tests_and_started_once_per_process_when_on(app, client, monkeypatch):
    started: list[RetentionScheduler] = []
    monkeypatch.setattr(RetentionScheduler, "start", lambda self: started.append(self))
    monkeypatch.setattr(scheduler, "_started", {})
    assert app.config["RETENTION_SCHEDULER"] is False
    client.get("/login")
    assert started == []
    app.config["RETENTION_SCHEDULER"] = True  # put back after the test by the fixtures
    client.get("/login")
    client.get("/login")
    assert len(started) == 1 and started[0].app is app


def test_cli_commands_never_start_it(app, runner, monkeypatch):
    monkeypatch.setattr(scheduler, "_started", {})
    app.config["RETENTION_SCHEDULER"] = True
    result = runner.invoke(args=["usage", "prune"])
    assert result.exit_code == 0, result.output
    assert scheduler._started == {}


@pytest.mark.parametrize(("env", "on"), [("production", True), ("testing", False)])
def test_the_setting_defaults_on_for_servers_and_off_for_tests(tmp_path, monkeypatch, env, on):
    from webapp.config import load_config

    monkeypatch.delenv("SWITCHBOARD_RETENTION_SCHEDULER", raising=False)
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    overrides = {"SWITCHBOARD_ENV": env, "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    assert load_config(tmp_path, overrides)["RETENTION_SCHEDULER"] is on
    monkeypatch.setenv("SWITCHBOARD_RETENTION_SCHEDULER", "0")
    assert load_config(tmp_path, overrides)["RETENTION_SCHEDULER"] is False
