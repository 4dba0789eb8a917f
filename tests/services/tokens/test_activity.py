"""A token's row shows its own requests and cost, and its budgets' spend."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from webapp.extensions import db
from webapp.models import UsageRecord
from webapp.models.base import utcnow
from webapp.services.billing.budgets import BudgetInput
from webapp.services.tokens import activity, manage
from webapp.services.tokens.rules import TokenInput


def _record(token_id: int | None, cost: str | None, days_ago: int = 0) -> None:
    db.session.add(
        UsageRecord(
            request_id=uuid.uuid4().hex,
            status="ok",
            access_token_id=token_id,
            cost_usd=Decimal(cost) if cost is not None else None,
            unpriced=cost is None,
            created_at=utcnow() - timedelta(days=days_ago),
        )
    )


def test_usage_and_budgets_are_counted_per_token(member):
    budget = BudgetInput(period="monthly", unit="usd", amount="2")
    a = manage.create_personal_token(member, TokenInput(name="a"), actor=member, budget=budget)
    b = manage.create_personal_token(member, TokenInput(name="b"), actor=member)
    c = manage.create_personal_token(member, TokenInput(name="c"), actor=member)
    _record(a.token.id, "0.25")
    _record(a.token.id, "0.50")
    _record(a.token.id, None)
    _record(a.token.id, "9", days_ago=45)  # older than the window shown
    _record(b.token.id, "1")
    _record(None, "7")  # not made with a token
    db.session.commit()

    found = activity.activity([a.token, b.token, c.token])
    assert (found[a.token.id].requests, found[a.token.id].cost_usd) == (3, Decimal("0.75"))
    assert found[a.token.id].unpriced == 1
    assert (found[b.token.id].requests, found[b.token.id].cost_usd) == (1, Decimal("1"))
    assert (found[c.token.id].requests, found[c.token.id].cost_usd) == (0, None)
    [status] = found[a.token.id].budgets
    assert status.budget.amount == Decimal("2") and status.spent == 0
    assert found[b.token.id].budgets == []
    assert activity.activity([]) == {}


def test_state_says_revoked_expired_or_active(member):
    token = manage.create_personal_token(member, TokenInput(name="a"), actor=member).token
    assert activity.state(token) == "active"
    assert activity.state(token, utcnow() + timedelta(days=1)) == "active"
    token.expires_at = utcnow() - timedelta(seconds=1)
    assert activity.state(token) == "expired"
    token.revoked_at = utcnow()
    assert activity.state(token) == "revoked"
