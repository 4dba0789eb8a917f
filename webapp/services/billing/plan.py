"""Who pays for a managed call and which budgets limit it — read once per settings version.

The paying account is the organization's when the call runs in an org (unless the org
makes members pay from their own balance), else the user's; a service token's calls are its
organization's. Budgets of the user, the org and the access token all apply. What changes
often (balances, spend) is never cached here: only which rows exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import Budget, CreditAccount, Organization
from webapp.services.billing import config
from webapp.services.settings.cache import settings_cache


@dataclass(frozen=True)
class BudgetRef:
    id: int
    owner: str  # "user" | "org" | "token"
    period: str
    unit: str  # "usd" | "credits"
    amount: Decimal
    hard: bool
    thresholds: tuple[int, ...]


@dataclass(frozen=True)
class Plan:
    """What a managed call is checked and charged against."""

    account_id: int | None
    payer: str  # "user" | "org" | "" — whose balance pays
    credits_required: bool
    budgets: tuple[BudgetRef, ...]
    timezone: str

    @property
    def holds_money(self) -> bool:
        """Does a call need a reservation (a balance or a hard budget to hold against)?"""
        return self.account_id is not None or any(b.hard for b in self.budgets)

    @property
    def charges(self) -> bool:
        """Does settlement touch the database beyond the usage record?"""
        return self.account_id is not None or bool(self.budgets)


def _budgets(user_id: int | None, org_id: int | None, token_id: int | None) -> list[BudgetRef]:
    owners = []
    if user_id is not None:
        owners.append(Budget.user_id == user_id)
    if org_id is not None:
        owners.append(Budget.org_id == org_id)
    if token_id is not None:
        owners.append(Budget.access_token_id == token_id)
    if not owners:
        return []
    rows = db.session.scalars(sa.select(Budget).where(sa.or_(*owners)).order_by(Budget.id))
    return [
        BudgetRef(
            id=b.id,
            owner="user" if b.user_id else ("org" if b.org_id else "token"),
            period=b.period,
            unit=b.unit,
            amount=Decimal(b.amount),
            hard=b.hard,
            thresholds=tuple(sorted(b.thresholds or (50, 80, 100))),
        )
        for b in rows
    ]


def _account(owner: str, owner_id: int | None) -> int | None:
    if owner_id is None:
        return None
    column = CreditAccount.user_id if owner == "user" else CreditAccount.org_id
    return db.session.scalar(sa.select(CreditAccount.id).where(column == owner_id))


def _load(user_id: int | None, org_id: int | None, token_id: int | None) -> Plan:
    members_pay = bool(
        org_id is not None
        and db.session.scalar(sa.select(Organization.members_pay).where(Organization.id == org_id))
    )
    payer = "org" if org_id is not None and (not members_pay or user_id is None) else "user"
    account_id = _account(payer, org_id if payer == "org" else user_id)
    settings = config.current()
    return Plan(
        account_id=account_id,
        payer=payer,
        credits_required=settings.credits_required,
        budgets=tuple(_budgets(user_id, org_id, token_id)),
        timezone=settings.timezone,
    )


def plan_for(user_id: int | None, org_id: int | None, token_id: int | None = None) -> Plan:
    """The billing plan of a managed call by this user, in this org, with this token."""
    key = ("billing_plan", user_id, org_id, token_id)
    return settings_cache().get(key, lambda: _load(user_id, org_id, token_id))
