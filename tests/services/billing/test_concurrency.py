"""Budgets hold under concurrency: many calls at once against a balance (or a hard budget)
that pays for exactly N of them — exactly N succeed, the rest are refused before reaching the
provider, nothing is overspent, the ledger adds up and every call has one usage record."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import CreditAccount, Reservation, UsageRecord, User
from webapp.services import llm
from webapp.services.billing import budgets, ledger
from webapp.services.errors import BudgetExceeded

# 16 characters in one message: a reservation estimates 8 + 4 = 12 input tokens, what the
# fake upstream reports; max_tokens 7 is its output. So a call's hold equals its cost:
# 12 × 0.75 + 7 × 4.50 per million = 0.0000405 USD (and credits, at a multiplier of 1).
PROMPT = [{"role": "user", "content": "x" * 16}]
COST = Decimal("0.0000405")
CALLS, AFFORDABLE = 40, 12


def _race(app, user_id: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
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
    succeeded, refused = _race(app, member.id)
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
    succeeded, refused = _race(app, member.id)
    assert (succeeded, refused) == (AFFORDABLE, CALLS - AFFORDABLE)
    assert len(wired.requests_to("openai.chat")) == AFFORDABLE
    (status,) = budgets.statuses(owner)
    assert abs(status.spent - COST * AFFORDABLE) <= Decimal("0.000001") and status.reserved == 0
    assert _records() == {"ok": AFFORDABLE, "error": CALLS - AFFORDABLE}
