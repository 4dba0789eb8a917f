"""Managed calls hold their worst case, are charged their actual cost exactly once, and are
refused before reaching the provider when a balance or a hard budget cannot pay."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests import factories
from webapp.extensions import db
from webapp.models import AuditEvent, CreditAccount, CreditEntry, Reservation, UsageRecord
from webapp.models.base import utcnow
from webapp.services import llm
from webapp.services.billing import budgets, config, ledger, reservations
from webapp.services.billing.plan import plan_for
from webapp.services.errors import BudgetExceeded
from webapp.services.settings.cache import settings_cache

HI = [{"role": "user", "content": "Hi"}]
MODEL = "openai/gpt-5.4-mini"


def grant(admin, kind: str, owner_id: int, amount: str) -> None:  # type: ignore[no-untyped-def]
    ledger.post_entry(admin, ledger.Owner(kind, owner_id), Decimal(amount), kind="grant", note=None)


def account(kind: str, owner_id: int) -> CreditAccount:
    found = ledger.account_of(ledger.Owner(kind, owner_id))
    assert found is not None
    db.session.refresh(found)
    return found


def charges() -> list[CreditEntry]:
    return list(db.session.scalars(sa.select(CreditEntry).where(CreditEntry.kind == "charge")))


def test_a_managed_call_is_charged_once_and_its_hold_released(wired, admin, member):
    grant(admin, "user", member.id, "10")
    reply = llm.complete(HI, context=llm.CallContext(user=member), model=MODEL)
    acct = account("user", member.id)
    (entry,) = charges()
    assert (
        reply.credits > 0
        and entry.amount == -reply.credits
        and entry.request_id == reply.request_id
    )
    assert acct.balance == Decimal(10) - reply.credits and acct.reserved == 0
    record = db.session.scalar(sa.select(UsageRecord))
    assert record.account_id == acct.id and entry.usage_record_id == record.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Reservation)) == 0
    assert ledger.check_balances() == []


def test_a_call_the_balance_cannot_cover_never_reaches_the_provider(wired, admin, member):
    grant(admin, "user", member.id, "0.000001")
    with pytest.raises(BudgetExceeded, match="Not enough credits") as excinfo:
        llm.complete(HI, context=llm.CallContext(user=member), model=MODEL)
    assert wired.requests == [] and excinfo.value.status_code == 402
    record = db.session.scalar(sa.select(UsageRecord))
    assert (record.status, record.error_type) == ("error", "budget_exceeded")
    assert account("user", member.id).reserved == 0 and charges() == []


def test_byok_calls_are_free_even_with_an_account(wired, admin, member):
    grant(admin, "user", member.id, "0.000001")  # could not pay for a managed call
    factories.user_key(member, "openai", "sk-member-own-key-0000000001")
    member.mode = "byok"
    db.session.commit()
    reply = llm.complete(HI, context=llm.CallContext(user=member), model=MODEL)
    assert reply.credits == 0 and charges() == []
    assert account("user", member.id).balance == Decimal("0.000001")


def test_credits_can_be_required_of_everyone(wired, admin, member):
    llm.complete(HI, context=llm.CallContext(user=member), model=MODEL)  # free without an account
    config.update_billing(admin, credits_required=True, timezone="UTC")
    with pytest.raises(BudgetExceeded, match="need credits"):
        llm.complete(HI, context=llm.CallContext(user=member), model=MODEL)
    grant(admin, "user", member.id, "5")
    llm.complete(HI, context=llm.CallContext(user=member), model=MODEL)
    assert len(charges()) == 1


def test_org_calls_are_paid_by_the_org_unless_members_pay(wired, admin, member):
    org = factories.make_org("acme")
    factories.add_member(org, member)
    grant(admin, "org", org.id, "10")
    grant(admin, "user", member.id, "10")
    llm.complete(HI, context=llm.CallContext(user=member, org=org), model=MODEL)
    assert account("org", org.id).balance < 10 and account("user", member.id).balance == 10
    org.members_pay = True
    db.session.commit()
    settings_cache().clear()
    llm.complete(HI, context=llm.CallContext(user=member, org=org), model=MODEL)
    assert account("user", member.id).balance < 10


def test_a_hard_budget_refuses_the_call_that_would_exceed_it_and_says_when_it_resets(
    wired, admin, member
):
    owner = budgets.BudgetOwner("user", member.id)
    budgets.create_budget(admin, owner, budgets.BudgetInput("daily", "usd", "0.01", hard=True))
    llm.complete(
        HI, context=llm.CallContext(user=member), model=MODEL, overrides={"max_tokens": 100}
    )
    (status,) = budgets.statuses(owner)
    assert status.spent > 0 and status.reserved == 0
    # The next call's worst case (4096 output tokens at 4.50 per million) no longer fits.
    with pytest.raises(BudgetExceeded, match=r"daily budget of 0\.01 USD.*resets") as excinfo:
        llm.complete(
            HI, context=llm.CallContext(user=member), model=MODEL
        )  # 4096 tokens worst case
    assert excinfo.value.limit["budget_id"] == status.budget.id
    assert len(wired.requests_to("openai.chat")) == 1


def test_budgets_reset_by_time(wired, admin, member, monkeypatch):
    owner = budgets.BudgetOwner("user", member.id)
    budgets.create_budget(admin, owner, budgets.BudgetInput("daily", "credits", "0.00006"))
    llm.complete(HI, context=llm.CallContext(user=member), model=MODEL, overrides={"max_tokens": 7})
    with pytest.raises(BudgetExceeded):
        llm.complete(
            HI, context=llm.CallContext(user=member), model=MODEL, overrides={"max_tokens": 7}
        )
    tomorrow = utcnow() + timedelta(days=1)
    monkeypatch.setattr(reservations, "utcnow", lambda: tomorrow)
    llm.complete(HI, context=llm.CallContext(user=member), model=MODEL, overrides={"max_tokens": 7})


def test_a_soft_budget_warns_at_its_thresholds_once_and_never_blocks(wired, admin, member):
    owner = budgets.BudgetOwner("user", member.id)
    budgets.create_budget(
        admin,
        owner,
        budgets.BudgetInput("monthly", "usd", "0.00005", hard=False, thresholds="50 100"),
    )
    for _ in range(3):
        llm.complete(HI, context=llm.CallContext(user=member), model=MODEL)
    warnings = list(
        db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "warn").order_by(AuditEvent.id)
        )
    )
    # Each call costs 81 % of the budget: the first crosses 50 %, the second 100 %, the third
    # no new threshold.
    assert [w.diff["threshold_percent"]["after"] for w in warnings] == [50, 100]
    assert budgets.statuses(owner)[0].percent > 100


def test_a_reservation_of_a_dead_process_expires_and_records_its_call(wired, admin, member):
    grant(admin, "user", member.id, "10")
    plan = plan_for(member.id, None)
    hold = reservations.reserve(
        plan,
        "dead-process-call",
        usd=Decimal("1"),
        credits=Decimal("4"),
        expires_at=utcnow() - timedelta(seconds=1),
        call={"caller": "gateway", "user_id": member.id, "operation": "chat", "mode": "managed"},
    )
    assert hold.reserved and account("user", member.id).reserved == 4
    assert reservations.sweep_expired() == 1
    assert account("user", member.id).reserved == 0 and account("user", member.id).balance == 10
    record = db.session.scalar(
        sa.select(UsageRecord).where(UsageRecord.request_id == "dead-process-call")
    )
    assert (record.status, record.error_type, record.caller) == ("error", "interrupted", "gateway")
    assert reservations.sweep_expired() == 0  # once


def test_a_full_balance_held_by_a_dead_process_is_freed_for_the_next_call(wired, admin, member):
    grant(admin, "user", member.id, "0.01")
    plan = plan_for(member.id, None)
    reservations.reserve(
        plan, "stuck", usd=Decimal(0), credits=Decimal("0.01"),
        expires_at=utcnow() - timedelta(seconds=1), call={},
    )  # fmt: skip
    llm.complete(HI, context=llm.CallContext(user=member), model=MODEL, overrides={"max_tokens": 7})
    assert len(charges()) == 1


@pytest.mark.parametrize("hard_budget", [False, True])
def test_a_charged_call_is_metered_on_the_first_try(wired, admin, member, monkeypatch, hard_budget):
    """The usage record and its settlement land in the first write (one statement on
    PostgreSQL), never through the replay path that exists for retries: replay holds the
    account's row lock across several round trips, which serialized concurrent calls."""
    from webapp.services.llm import metering

    grant(admin, "user", member.id, "10")
    if hard_budget:
        budgets.create_budget(
            admin,
            budgets.BudgetOwner("user", member.id),
            budgets.BudgetInput("monthly", "usd", "100", hard=True),
        )
    replays: list[dict] = []
    real = metering.persist

    def watched(entry, *, replay=False):  # type: ignore[no-untyped-def]
        if replay:
            replays.append(entry)
        return real(entry, replay=replay)

    monkeypatch.setattr(metering, "persist", watched)
    llm.complete(HI, context=llm.CallContext(user=member), model=MODEL)
    assert replays == []
    record = db.session.scalar(sa.select(UsageRecord))
    assert record is not None and record.rolled is False and len(charges()) == 1
