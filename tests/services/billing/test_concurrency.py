"""Budgets hold under concurrency: many calls at once against a balance (or a hard budget)
that pays for exactly N of them — exactly N succeed, the rest are refused before reaching the
provider, nothing is overspent, the ledger adds up and every call has one usage record."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.fake_upstream import Reply
from webapp.extensions import db
from webapp.models import CreditAccount, Reservation, UsageRecord, User
from webapp.services import llm
from webapp.services.billing import budgets, ledger
from webapp.services.errors import BudgetExceeded
from webapp.services.llm.calls import Sent
from webapp.services.llm.types import to_messages

# The fake upstream reports as many input tokens as a hold estimates for this prompt (its
# bound: the bytes sent), and max_tokens 7 as its output. So a call's hold equals its cost:
# INPUT × 0.75 + 7 × 4.50 per million USD (and credits, at a multiplier of 1).
PROMPT = [{"role": "user", "content": "x" * 16}]
INPUT = Sent(tuple(to_messages(PROMPT))).prompt_bound()
COST = (INPUT * Decimal("0.75") + 7 * Decimal("4.50")) / 1_000_000
CALLS, AFFORDABLE = 40, 12


def _race(app, wired, user_id: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    wired.script("openai.chat", *[Reply.ok(usage={"input": INPUT, "output": 7})] * CALLS)

    def one(_: int) -> str:
        with app.app_context():
            user = db.session.get(User, user_id)
            try:
                llm.complete(
                    PROMPT,
                    context=llm.CallContext(user=user),
                    model="openai/gpt-5.4-mini",
                    overrides={"max_tokens": 7},
                )
                return "ok"
            except BudgetExceeded:
                return "refused"
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(one, range(CALLS)))
    return outcomes.count("ok"), outcomes.count("refused")


def _records() -> dict[str, int]:
    db.session.rollback()
    rows = db.session.execute(
        sa.select(UsageRecord.status, sa.func.count()).group_by(UsageRecord.status)
    )
    return dict(rows.all())


@pytest.mark.committed
def test_a_balance_for_exactly_n_calls_pays_for_exactly_n(app, wired, admin, member):
    ledger.post_entry(
        admin, ledger.Owner("user", member.id), COST * AFFORDABLE, kind="grant", note="race"
    )
    succeeded, refused = _race(app, wired, member.id)
    assert (succeeded, refused) == (AFFORDABLE, CALLS - AFFORDABLE)
    assert len(wired.requests_to("openai.chat")) == AFFORDABLE  # refusals never went out
    db.session.rollback()
    account = db.session.scalar(sa.select(CreditAccount))
    assert abs(Decimal(account.balance)) <= Decimal("0.000001") and account.reserved == 0
    assert ledger.check_balances() == []
    assert _records() == {"ok": AFFORDABLE, "error": CALLS - AFFORDABLE}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Reservation)) == 0


@pytest.mark.committed
def test_a_hard_monthly_budget_for_exactly_n_calls_allows_exactly_n(app, wired, admin, member):
    owner = budgets.BudgetOwner("user", member.id)
    budgets.create_budget(
        admin, owner, budgets.BudgetInput("monthly", "usd", str(COST * AFFORDABLE), hard=True)
    )
    succeeded, refused = _race(app, wired, member.id)
    assert (succeeded, refused) == (AFFORDABLE, CALLS - AFFORDABLE)
    assert len(wired.requests_to("openai.chat")) == AFFORDABLE
    (status,) = budgets.statuses(owner)
    assert abs(status.spent - COST * AFFORDABLE) <= Decimal("0.000001") and status.reserved == 0
    assert _records() == {"ok": AFFORDABLE, "error": CALLS - AFFORDABLE}


@pytest.mark.committed
def test_concurrent_calls_reporting_absurd_usage_never_overdraw(app, wired, admin, member):
    """Every call's upstream reports 10^9 prompt tokens: each is charged only what it held,
    so the balance and a hard budget end at or above zero and the ledger still adds up."""
    ledger.post_entry(
        admin, ledger.Owner("user", member.id), COST * AFFORDABLE, kind="grant", note="race"
    )
    owner = budgets.BudgetOwner("user", member.id)
    budgets.create_budget(
        admin, owner, budgets.BudgetInput("monthly", "usd", str(COST * 30), hard=True)
    )
    absurd = Reply.ok(raw_usage={"prompt_tokens": 10**9, "completion_tokens": 10**9})
    wired.script("openai.chat", *[absurd] * CALLS)

    def one(_: int) -> str:
        with app.app_context():
            try:
                llm.complete(
                    PROMPT,
                    context=llm.CallContext(user=db.session.get(User, member.id)),
                    model="openai/gpt-5.4-mini",
                    overrides={"max_tokens": 7},
                )
                return "ok"
            except BudgetExceeded:
                return "refused"
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(one, range(CALLS)))
    db.session.rollback()
    account = db.session.scalar(sa.select(CreditAccount))
    assert Decimal(account.balance) >= 0 and account.reserved == 0
    assert ledger.check_balances() == []
    (status,) = budgets.statuses(owner)
    assert status.spent <= COST * 30 and status.reserved == 0
    flagged = db.session.scalar(
        sa.select(sa.func.count()).select_from(UsageRecord).where(UsageRecord.over_hold)
    )
    assert flagged == outcomes.count("ok") > 0
