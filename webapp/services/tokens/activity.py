"""What a list of tokens shows on each row: its state, its recent requests and cost (from
the usage records that name it) and its budgets' spend this period — a fixed number of
queries for the whole list."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import AccessToken, Budget, BudgetWindow, Organization, UsageRecord, User
from webapp.models.base import utcnow
from webapp.services.billing import config as billing_config
from webapp.services.billing.budgets import BudgetStatus
from webapp.services.billing.periods import next_reset, period_start

USAGE_DAYS = 30


def state(token: AccessToken, now: datetime | None = None) -> str:
    """``revoked``, ``expired`` or ``active``."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


@dataclass
class TokenActivity:
    requests: int = 0
    cost_usd: Decimal | None = None
    credits: Decimal | None = None
    unpriced: int = 0  # calls whose cost the catalog could not price
    budgets: list[BudgetStatus] = field(default_factory=list)


def _usage(ids: list[int], since: datetime) -> dict[int, TokenActivity]:
    rows = db.session.execute(
        sa.select(
            UsageRecord.access_token_id,
            sa.func.count(),
            sa.func.sum(UsageRecord.cost_usd),
            sa.func.sum(UsageRecord.credits),
            sa.func.count().filter(UsageRecord.unpriced.is_(True)),
        )
        .where(UsageRecord.access_token_id.in_(ids), UsageRecord.created_at >= since)
        .group_by(UsageRecord.access_token_id)
    ).all()
    return {
        token_id: TokenActivity(
            requests=count,
            cost_usd=Decimal(cost) if cost is not None else None,
            credits=Decimal(credits) if credits is not None else None,
            unpriced=unpriced or 0,
        )
        for token_id, count, cost, credits, unpriced in rows
        if token_id is not None  # the query asks for these ids only
    }


def _budgets(ids: list[int], now: datetime) -> dict[int, list[BudgetStatus]]:
    found = list(
        db.session.scalars(
            sa.select(Budget)
            .where(Budget.access_token_id.in_(ids))
            .order_by(Budget.period, Budget.id)
        )
    )
    if not found:
        return {}
    tz = billing_config.current().timezone
    starts = {b.id: period_start(b.period, tz, now) for b in found}
    windows = {
        (w.budget_id, w.period_start): w
        for w in db.session.scalars(
            sa.select(BudgetWindow).where(BudgetWindow.budget_id.in_(starts))
        )
    }
    result: dict[int, list[BudgetStatus]] = {}
    for budget in found:
        window = windows.get((budget.id, starts[budget.id]))
        status = BudgetStatus(
            budget,
            Decimal(window.spent) if window else Decimal(0),
            Decimal(window.reserved) if window else Decimal(0),
            next_reset(budget.period, tz, now),
        )
        result.setdefault(budget.access_token_id or 0, []).append(status)
    return result


def activity(tokens: list[AccessToken], days: int = USAGE_DAYS) -> dict[int, TokenActivity]:
    """Per token id: requests and cost of the last ``days`` days, and budget spend."""
    ids = [t.id for t in tokens]
    if not ids:
        return {}
    now = utcnow()
    usage = _usage(ids, now - timedelta(days=days))
    spend = _budgets(ids, now)
    result = {}
    for token_id in ids:
        entry = usage.get(token_id, TokenActivity())
        entry.budgets = spend.get(token_id, [])
        result[token_id] = entry
    return result


def owner_names(tokens: list[AccessToken]) -> dict[str, dict[int, str]]:
    """``{"users": {id: email}, "orgs": {id: name}}`` for the tokens' owners and orgs."""
    user_ids = {t.user_id for t in tokens if t.user_id is not None}
    org_ids = {t.org_id for t in tokens if t.org_id is not None}
    users = db.session.execute(sa.select(User.id, User.email).where(User.id.in_(user_ids)))
    orgs = db.session.execute(
        sa.select(Organization.id, Organization.name).where(Organization.id.in_(org_ids))
    )
    return {
        "users": {user_id: email for user_id, email in users} if user_ids else {},
        "orgs": {org_id: name for org_id, name in orgs} if org_ids else {},
    }
