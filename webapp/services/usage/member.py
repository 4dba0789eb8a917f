"""A member's own usage page: their usage and cost, credit balance with recent ledger lines,
and their budgets with this period's spend and the reset date."""

from __future__ import annotations

from dataclasses import dataclass

from webapp.models import User
from webapp.services.billing import budgets, ledger
from webapp.services.usage import dashboard, records
from webapp.services.usage.filters import Filters, Scope


@dataclass(frozen=True)
class MemberView:
    board: dashboard.Dashboard
    page: records.Page
    credits: ledger.AccountView | None
    budgets: list[budgets.BudgetStatus]


def overview(user: User, filters: Filters, *, cursor: str | None = None) -> MemberView:
    """Everything /usage shows, for ``user`` only."""
    scope = Scope(user_id=user.id)
    board = dashboard.build(filters, scope, dimensions=("model", "feature"))
    return MemberView(
        board,
        records.list_records(filters, scope, cursor=cursor, size=25),
        ledger.view(ledger.Owner("user", user.id), limit=10),
        budgets.statuses(budgets.BudgetOwner("user", user.id)),
    )
