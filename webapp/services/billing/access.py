"""Who may see which credit account, budgets and usage records, and who may change them.

Admins see and change everything. A member sees their own account, their own budgets and
those of their access tokens; an org admin sees their organization's account and budgets
(and its service tokens' budgets) but does not grant credits or set org budgets: credits are
configured by admins (SPEC, "People and what they do"). Anything else does not exist for
the actor (NotFound), so ids of other people's accounts reveal nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from webapp.extensions import db
from webapp.models import AccessToken, Organization, UsageRecord, User
from webapp.services.billing.budgets import BudgetOwner, may_manage
from webapp.services.billing.ledger import Owner
from webapp.services.errors import NotFound

KINDS = ("user", "org", "token")


@dataclass(frozen=True)
class BillingOwner:
    """A user, organization or access token, as the actor may see it."""

    kind: str  # "user" | "org" | "token"
    id: int
    label: str
    may_grant: bool  # post ledger entries (admins; users and orgs only: tokens hold no credits)
    may_manage_budgets: bool
    members_pay: bool = False  # orgs: members' calls are paid from their own balance

    @property
    def has_account(self) -> bool:
        return self.kind in ("user", "org")

    @property
    def ledger_owner(self) -> Owner:
        return Owner(self.kind, self.id)

    @property
    def budget_owner(self) -> BudgetOwner:
        return BudgetOwner(self.kind, self.id)


def _visible(actor: User, kind: str, owner_id: int) -> tuple[str, bool] | None:
    """(label, members_pay) of an owner the actor may see, else None."""
    if kind == "user":
        user = db.session.get(User, owner_id)
        if user is None or not (actor.is_admin or user.id == actor.id):
            return None
        return user.email, False
    if kind == "org":
        org = db.session.get(Organization, owner_id)
        if org is None or not (actor.is_admin or org.id in actor.administered_org_ids()):
            return None
        return org.name, bool(org.members_pay)
    if kind == "token":
        token = db.session.get(AccessToken, owner_id)
        if token is None:
            return None
        own = token.user_id is not None and token.user_id == actor.id
        org_service = token.user_id is None and token.org_id in actor.administered_org_ids()
        if not (actor.is_admin or own or org_service):
            return None
        return f"access token {token.name} ({token.prefix}…)", False
    return None


def billing_owner(actor: User, kind: str, owner_id: int) -> BillingOwner:
    """The owner if the actor may see its credits and budgets; NotFound otherwise."""
    found = _visible(actor, kind, owner_id) if kind in KINDS else None
    if found is None:
        raise NotFound("That account does not exist.")
    label, members_pay = found
    return BillingOwner(
        kind=kind,
        id=owner_id,
        label=label,
        may_grant=actor.is_admin and kind in ("user", "org"),
        may_manage_budgets=may_manage(actor, BudgetOwner(kind, owner_id)),
        members_pay=members_pay,
    )


def may_see_record(actor: User, record: UsageRecord) -> bool:
    if actor.is_admin:
        return True
    if record.user_id is not None and record.user_id == actor.id:
        return True
    return record.org_id is not None and record.org_id in actor.administered_org_ids()


def get_usage_record(actor: User, record_id: int) -> UsageRecord:
    """One usage record the actor may see (their own; their org's for org admins; any for
    admins); NotFound otherwise."""
    record = db.session.get(UsageRecord, record_id)
    if record is None or not may_see_record(actor, record):
        raise NotFound("That usage record does not exist.")
    return record
