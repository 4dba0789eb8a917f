"""Budgets: create, change and remove them (audited), and what each has spent this period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import (
    AccessToken,
    Budget,
    BudgetPeriod,
    BudgetUnit,
    BudgetWindow,
    OrgRole,
    TokenKind,
    User,
)
from webapp.models.base import utcnow
from webapp.services.audit import events as audit
from webapp.services.billing import config
from webapp.services.billing.ledger import parse_amount
from webapp.services.billing.periods import next_reset, period_start
from webapp.services.changes import commit_change, delete_record
from webapp.services.errors import NotFound, PermissionDenied, ValidationError
from webapp.services.numbers import NumberError, parse_whole

FIELDS = ("period", "unit", "amount", "hard", "thresholds")
DEFAULT_THRESHOLDS = (50, 80, 100)
THRESHOLD_MESSAGES = {
    "number": "Percentages such as 50, 80, 100.",
    "range": "Up to ten percentages between 1 and 1000.",
}


@dataclass(frozen=True)
class BudgetOwner:
    kind: str  # "user" | "org" | "token"
    id: int

    def columns(self) -> dict[str, int | None]:
        return {
            "user_id": self.id if self.kind == "user" else None,
            "org_id": self.id if self.kind == "org" else None,
            "access_token_id": self.id if self.kind == "token" else None,
        }


@dataclass(frozen=True)
class BudgetInput:
    period: str
    unit: str
    amount: str | Decimal
    hard: bool = True
    thresholds: str | list[int] | None = None


def may_manage(actor: User, owner: BudgetOwner) -> bool:
    """Admins manage every budget; a member the budgets of their own access tokens, an org
    admin those of the org's service tokens."""
    if actor.is_admin:
        return True
    if owner.kind == "token":
        token = db.session.get(AccessToken, owner.id)
        if token is None:
            return False
        if token.kind == TokenKind.SERVICE:
            return token.org_id is not None and actor.org_role(token.org_id) == OrgRole.ORG_ADMIN
        return token.user_id == actor.id
    return False


def check_input(data: BudgetInput) -> None:
    """Raise the ValidationError ``create_budget`` would, without saving anything (so a
    form that creates a budget along with something else can refuse both at once)."""
    _clean(data)


def _thresholds(raw: str | list[int] | None) -> list[int]:
    if raw is None or raw == "" or raw == []:
        return list(DEFAULT_THRESHOLDS)
    parts = raw.replace(",", " ").split() if isinstance(raw, str) else list(raw)
    try:
        values = sorted({_percent(p) for p in parts})
    except NumberError as exc:
        raise ValidationError({"thresholds": THRESHOLD_MESSAGES[exc.kind]}) from None
    if len(values) > 10:
        raise ValidationError({"thresholds": THRESHOLD_MESSAGES["range"]})
    return values


def _percent(part: object) -> int:
    text = part.strip().removesuffix("%") if isinstance(part, str) else part
    return parse_whole(text, low=1, high=1000)


def _clean(data: BudgetInput) -> dict[str, object]:
    errors: dict[str, str] = {}
    values: dict[str, object] = {}
    if data.period not in tuple(BudgetPeriod):
        errors["period"] = "Choose daily, monthly or total."
    if data.unit not in tuple(BudgetUnit):
        errors["unit"] = "Choose USD or credits."
    try:
        amount = parse_amount(data.amount)
        if amount <= 0:
            raise ValidationError({"amount": "A budget is more than 0."})
        values["amount"] = amount
    except ValidationError as exc:
        errors.update(exc.errors)
    try:
        values["thresholds"] = _thresholds(data.thresholds)
    except ValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    values.update(period=data.period, unit=data.unit, hard=bool(data.hard))
    return values


def _label(budget: Budget) -> str:
    owner = "user" if budget.user_id else ("org" if budget.org_id else "token")
    kind = "hard" if budget.hard else "soft"
    owner_id = budget.user_id or budget.org_id or budget.access_token_id
    return f"{kind} {budget.period} budget of {owner} {owner_id}"


def _org(budget: Budget) -> int | None:
    return budget.org_id


def create_budget(actor: User, owner: BudgetOwner, data: BudgetInput) -> Budget:
    if not may_manage(actor, owner):
        raise PermissionDenied("You may not set budgets here.")
    budget = Budget(**owner.columns(), **_clean(data))
    db.session.add(budget)
    db.session.flush()
    commit_change(
        actor,
        action="create",
        target_type="budget",
        target_id=budget.id,
        target_label=_label(budget),
        before=None,
        after=audit.snapshot(budget, FIELDS),
        org_id=_org(budget),
    )
    return budget


def get_budget(actor: User, budget_id: int) -> Budget:
    budget = db.session.get(Budget, budget_id)
    if budget is None:
        raise NotFound("That budget does not exist.")
    kind = "user" if budget.user_id else ("org" if budget.org_id else "token")
    owner = BudgetOwner(kind, budget.user_id or budget.org_id or budget.access_token_id or 0)
    if not may_manage(actor, owner):
        raise NotFound("That budget does not exist.")
    return budget


def update_budget(
    actor: User, budget: Budget, data: BudgetInput, expected_version: int | None
) -> Budget:
    get_budget(actor, budget.id)
    budget.check_version(expected_version)
    before = audit.snapshot(budget, FIELDS)
    for name, value in _clean(data).items():
        setattr(budget, name, value)
    commit_change(
        actor,
        action="update",
        target_type="budget",
        target_id=budget.id,
        target_label=_label(budget),
        before=before,
        after=audit.snapshot(budget, FIELDS),
        org_id=_org(budget),
    )
    return budget


def delete_budget(actor: User, budget: Budget) -> None:
    get_budget(actor, budget.id)
    delete_record(
        actor,
        budget,
        target_type="budget",
        target_label=_label(budget),
        changes=audit.diff(audit.snapshot(budget, FIELDS), None),
        org_id=_org(budget),
    )


@dataclass(frozen=True)
class BudgetStatus:
    budget: Budget
    spent: Decimal
    reserved: Decimal
    resets_at: datetime | None

    @property
    def percent(self) -> int:
        amount = Decimal(self.budget.amount)
        return int((self.spent + self.reserved) * 100 / amount) if amount else 0


def statuses(owner: BudgetOwner) -> list[BudgetStatus]:
    """The owner's budgets with this period's spend (one query for the windows)."""
    budgets = list(
        db.session.scalars(
            sa.select(Budget).filter_by(**owner.columns()).order_by(Budget.period, Budget.id)
        )
    )
    if not budgets:
        return []
    tz, now = config.current().timezone, utcnow()
    starts = {b.id: period_start(b.period, tz, now) for b in budgets}
    windows = {
        (w.budget_id, w.period_start): w
        for w in db.session.scalars(
            sa.select(BudgetWindow).where(BudgetWindow.budget_id.in_(starts))
        )
    }
    result = []
    for budget in budgets:
        window = windows.get((budget.id, starts[budget.id]))
        spent = Decimal(window.spent) if window else Decimal(0)
        reserved = Decimal(window.reserved) if window else Decimal(0)
        result.append(BudgetStatus(budget, spent, reserved, next_reset(budget.period, tz, now)))
    return result
