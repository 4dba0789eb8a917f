"""A call whose metering is delayed (kept in the outbox, or finishing after its reservation
expired) meets the sweep that records dead calls as ``interrupted``: whichever runs first,
the real record wins, exactly once, charged once, with its hold released once. And rows
deleted while a call is in flight (a budget, a user) never make its metering fail for good."""

from __future__ import annotations

import shutil
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from webapp.extensions import db
from webapp.models import Budget, BudgetWindow, CreditEntry, Reservation, UsageRecord
from webapp.models.base import utcnow
from webapp.models.usage import usage_rollups, usage_rollups_lean
from webapp.services import llm
from webapp.services.billing import budgets, ledger, reservations
from webapp.services.billing.plan import plan_for
from webapp.services.llm import metering, outbox
from webapp.services.usage import rollups

HI = [{"role": "user", "content": "Hi"}]
MODEL = "openai/gpt-5.4-mini"


@pytest.fixture(autouse=True)
def empty_outbox(app):  # type: ignore[no-untyped-def]
    shutil.rmtree(outbox._directory())
    yield
    shutil.rmtree(outbox._directory(), ignore_errors=True)


@pytest.fixture
def paying(admin, member):  # type: ignore[no-untyped-def]
    ledger.post_entry(admin, ledger.Owner("user", member.id), Decimal(10), kind="grant", note=None)
    return member


def account(member):  # type: ignore[no-untyped-def]
    found = ledger.account_of(ledger.Owner("user", member.id))
    db.session.refresh(found)
    return found


def records() -> list[UsageRecord]:
    db.session.rollback()
    db.session.expire_all()  # a replaced placeholder may have had the same id (SQLite)
    return list(db.session.scalars(sa.select(UsageRecord)))


def charges() -> list[CreditEntry]:
    return list(db.session.scalars(sa.select(CreditEntry).where(CreditEntry.kind == "charge")))


def call_metered_late(member, monkeypatch):  # type: ignore[no-untyped-def]
    """A managed call whose metering write fails once: its reply is returned, its entry
    waits in the outbox, its reservation is still held."""
    real = metering.persist
    failed: list[bool] = []

    def flaky(entry, *, replay=False):  # type: ignore[no-untyped-def]
        if not failed:
            failed.append(True)
            raise OperationalError("INSERT", {}, Exception("database went away"))
        return real(entry, replay=replay)

    monkeypatch.setattr(metering, "persist", flaky)
    reply = llm.complete(HI, context=llm.CallContext(user=member), model=MODEL)
    monkeypatch.setattr(metering, "persist", real)
    assert reply.text and records() == [] and outbox.state().pending == 1
    assert account(member).reserved > 0
    return reply


def expire_reservations() -> None:
    db.session.execute(sa.update(Reservation).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def assert_charged_once(member, reply) -> None:  # type: ignore[no-untyped-def]
    (record,) = records()
    assert (record.request_id, record.status, record.error_type) == (reply.request_id, "ok", None)
    assert record.credits == reply.credits > 0
    (charge,) = charges()
    assert charge.amount == -reply.credits and charge.usage_record_id == record.id
    paid = account(member)
    assert paid.balance == Decimal(10) - reply.credits and paid.reserved == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Reservation)) == 0
    assert ledger.check_balances() == [] and ledger.check_reserved() == []
    assert outbox.drain() == 0 and reservations.sweep_expired() == 0  # and nothing twice
    assert len(records()) == 1 and len(charges()) == 1


def test_the_sweep_first_then_the_outbox_the_real_record_replaces_the_placeholder(
    wired, paying, monkeypatch
):
    reply = call_metered_late(paying, monkeypatch)
    expire_reservations()
    assert reservations.sweep_expired() == 1  # the call looks dead: recorded as interrupted
    (placeholder,) = records()
    assert (placeholder.status, placeholder.error_type) == ("error", "interrupted")
    assert account(paying).reserved == 0 and account(paying).balance == 10
    assert outbox.drain() == 1
    assert_charged_once(paying, reply)


def test_the_outbox_first_then_the_sweep_finds_nothing_to_do(wired, paying, monkeypatch):
    reply = call_metered_late(paying, monkeypatch)
    expire_reservations()  # expired, but the outbox drains before any sweep
    assert outbox.drain() == 1
    assert reservations.sweep_expired() == 0
    assert_charged_once(paying, reply)


def test_a_placeholder_the_rollups_counted_already_is_taken_out_of_them(wired, paying, monkeypatch):
    reply = call_metered_late(paying, monkeypatch)
    expire_reservations()
    reservations.sweep_expired()
    assert rollups.catch_up_all() == 1  # the placeholder is counted as an error
    assert outbox.drain() == 1
    assert_charged_once(paying, reply)
    rollups.catch_up_all()
    for table in (usage_rollups, usage_rollups_lean):
        requests, errors, credits = db.session.execute(
            sa.select(
                sa.func.sum(table.c.requests),
                sa.func.sum(table.c.errors),
                sa.func.sum(table.c.credits),
            )
        ).one()
        assert (requests, errors, Decimal(credits)) == (1, 0, reply.credits)


def test_a_call_finishing_after_the_sweep_gave_up_on_it_is_charged_once(wired, paying, monkeypatch):
    real = metering.persist

    def swept_meanwhile(entry, *, replay=False):  # type: ignore[no-untyped-def]
        if not replay and not records():  # a slow call: its reservation expired
            expire_reservations()
            assert reservations.sweep_expired() == 1
        return real(entry, replay=replay)

    monkeypatch.setattr(metering, "persist", swept_meanwhile)
    reply = llm.complete(HI, context=llm.CallContext(user=paying), model=MODEL)
    assert outbox.state().pending == 0  # replaced on the spot, not spooled
    assert_charged_once(paying, reply)


@pytest.mark.parametrize("first_try_fails", [False, True])
def test_a_soft_budget_deleted_during_the_call_never_keeps_its_record_out(
    wired, admin, paying, monkeypatch, first_try_fails
):
    owner = budgets.BudgetOwner("user", paying.id)
    budget = budgets.create_budget(
        admin, owner, budgets.BudgetInput("monthly", "usd", "100", hard=False)
    )
    real = metering.persist

    def budget_deleted_meanwhile(entry, *, replay=False):  # type: ignore[no-untyped-def]
        if not replay:
            if db.session.get(Budget, budget.id) is not None:
                budgets.delete_budget(admin, budget)
            if first_try_fails:  # a user deleted too: the replay path settles (PostgreSQL)
                entry["row"]["user_id"] = 987654
        return real(entry, replay=replay)

    monkeypatch.setattr(metering, "persist", budget_deleted_meanwhile)
    reply = llm.complete(HI, context=llm.CallContext(user=paying), model=MODEL)
    (record,) = records()
    assert record.request_id == reply.request_id and record.status == "ok"
    assert outbox.state().pending == 0
    assert len(charges()) == 1 and account(paying).reserved == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BudgetWindow)) == 0


def test_a_hard_budget_deleted_before_the_hold_limits_nothing(admin, paying):
    owner = budgets.BudgetOwner("user", paying.id)
    budget = budgets.create_budget(
        admin, owner, budgets.BudgetInput("daily", "usd", "0.01", hard=True)
    )
    plan = plan_for(paying.id, None)  # read while the budget existed
    budgets.delete_budget(admin, budget)
    hold = reservations.reserve(
        plan,
        "budget-gone",
        usd=Decimal("5"),
        credits=Decimal("1"),
        expires_at=utcnow() + timedelta(minutes=1),
        call={},
    )
    assert hold.reserved and [b.amount for b in hold.budgets] == [0]
    assert account(paying).reserved == 1


def test_the_sweep_records_a_call_whose_user_and_model_were_deleted_meanwhile(paying):
    plan = plan_for(paying.id, None)
    reservations.reserve(
        plan,
        "orphaned-call",
        usd=Decimal(0),
        credits=Decimal("1"),
        expires_at=utcnow() - timedelta(seconds=1),
        call={"caller": "gateway", "user_id": 987654, "model_id": 987655, "mode": "managed"},
    )
    assert reservations.sweep_expired() == 1
    (record,) = records()
    assert (record.request_id, record.user_id, record.model_id) == ("orphaned-call", None, None)
    assert account(paying).reserved == 0
