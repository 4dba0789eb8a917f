"""What the credits and budgets partials show, built for the signed-in user.

Pages include them with one line: ``{% include "billing/_user.html" %}`` (a user's admin page,
and ``/account`` with ``billing_user_id``) or ``{% include "billing/_org.html" %}`` (an
organization's page). Those call the builders below, registered as template globals
(``credits_panel``, ``budgets_panel``); a builder returns None when the viewer may not see
the owner's money, and the partial then renders nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import url_for
from flask_login import current_user

from webapp.blueprints.billing.forms import BudgetForm, CreditForm, budget_form
from webapp.extensions import db
from webapp.models import Budget, Membership, Organization, User
from webapp.services.billing import budgets, config, ledger
from webapp.services.billing.access import BillingOwner, billing_owner
from webapp.services.errors import NotFound

RECENT = 20


@dataclass
class CreditsPanel:
    owner: BillingOwner
    account: ledger.AccountView | None
    form: CreditForm | None  # None: the viewer may not grant
    actors: dict[int, str]  # ledger actor id → email
    credits_required: bool
    orgs: list[tuple[str, bool]] = field(default_factory=list)  # a user's orgs: (name, members pay)

    @property
    def grant_url(self) -> str:
        kind, ident = self.owner.kind, self.owner.id
        if kind == "org":
            return url_for("billing.grant_org", org_id=ident)
        return url_for("billing.grant_user", user_id=ident)


@dataclass
class BudgetsPanel:
    owner: BillingOwner
    statuses: list[budgets.BudgetStatus]
    create_form: BudgetForm | None  # None: the viewer may not manage these budgets
    edit_forms: dict[int, BudgetForm] = field(default_factory=dict)
    open_id: int | None = None  # the editor to show open (it has errors)
    create_open: bool = False
    timezone: str = "UTC"

    @property
    def create_url(self) -> str:
        kind, ident = self.owner.kind, self.owner.id
        if kind == "org":
            return url_for("billing.create_org_budget", org_id=ident)
        if kind == "token":
            return url_for("billing.create_token_budget", token_id=ident)
        return url_for("billing.create_user_budget", user_id=ident)

    def update_url(self, budget_id: int) -> str:
        if self.owner.kind == "token":
            return url_for(
                "billing.update_token_budget", token_id=self.owner.id, budget_id=budget_id
            )
        return url_for("billing.update_budget", budget_id=budget_id)

    def delete_url(self, budget_id: int) -> str:
        if self.owner.kind == "token":
            return url_for(
                "billing.delete_token_budget", token_id=self.owner.id, budget_id=budget_id
            )
        return url_for("billing.delete_budget", budget_id=budget_id)


def _actors(entries: list[ledger.CreditEntry]) -> dict[int, str]:
    ids = {e.actor_id for e in entries if e.actor_id is not None}
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(User.id, User.email).where(User.id.in_(ids))).all())


def _orgs_of(user_id: int) -> list[tuple[str, bool]]:
    """The user's active organizations and whether members pay there (else the org does)."""
    rows = db.session.execute(
        sa.select(Organization.name, Organization.members_pay)
        .join(Membership, Membership.org_id == Organization.id)
        .where(Membership.user_id == user_id, Organization.archived_at.is_(None))
        .order_by(Organization.name)
    )
    return [(name, bool(members_pay)) for name, members_pay in rows]


def credits_for(owner: BillingOwner, form: CreditForm | None = None) -> CreditsPanel:
    account = ledger.view(owner.ledger_owner, limit=RECENT) if owner.has_account else None
    if owner.may_grant and form is None:
        form = CreditForm(formdata=None, prefix=f"credits-{owner.kind}-{owner.id}")
    return CreditsPanel(
        owner=owner,
        account=account,
        form=form if owner.may_grant else None,
        actors=_actors(account.entries) if account else {},
        credits_required=config.current().credits_required,
        orgs=_orgs_of(owner.id) if owner.kind == "user" else [],
    )


def budgets_for(
    owner: BillingOwner,
    *,
    create_form: BudgetForm | None = None,
    edited: tuple[int, BudgetForm] | None = None,
) -> BudgetsPanel:
    statuses = budgets.statuses(owner.budget_owner)
    panel = BudgetsPanel(
        owner=owner, statuses=statuses, create_form=None, timezone=config.current().timezone
    )
    if not owner.may_manage_budgets:
        return panel
    panel.create_form = create_form or budget_form(None, formdata=None)
    panel.create_open = create_form is not None
    panel.edit_forms = {s.budget.id: budget_form(s.budget, formdata=None) for s in statuses}
    if edited is not None:
        panel.open_id, panel.edit_forms[edited[0]] = edited
    return panel


def _owner_or_none(kind: str, owner_id: int) -> BillingOwner | None:
    if not current_user.is_authenticated:
        return None
    try:
        return billing_owner(current_user, kind, owner_id)
    except NotFound:
        return None


def credits_panel(kind: str, owner_id: int) -> CreditsPanel | None:
    owner = _owner_or_none(kind, owner_id)
    return credits_for(owner) if owner is not None and owner.has_account else None


def budgets_panel(kind: str, owner_id: int) -> BudgetsPanel | None:
    owner = _owner_or_none(kind, owner_id)
    return budgets_for(owner) if owner is not None else None


def owner_of(budget: Budget) -> tuple[str, int]:
    if budget.user_id:
        return "user", budget.user_id
    if budget.org_id:
        return "org", budget.org_id
    return "token", budget.access_token_id or 0
