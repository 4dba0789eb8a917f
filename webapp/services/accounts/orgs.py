"""Organizations and their members. Admins manage every org; org admins only their own."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.orm import contains_eager

from webapp.extensions import db
from webapp.models import Membership, Organization, OrgRole, User
from webapp.models.base import utcnow
from webapp.services.accounts.users import find_by_email
from webapp.services.audit import events as audit
from webapp.services.catalog import snapshot as catalog_snapshot
from webapp.services.changes import commit_change
from webapp.services.errors import Conflict, NotFound, PermissionDenied, ValidationError
from webapp.services.paging import paginate

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
SLUG_HELP = "Lowercase letters, digits, '-' and '_', starting with a letter or digit (max 64)."


def check_slug(value: str, field: str = "slug") -> str:
    slug = (value or "").strip()
    if not SLUG_RE.match(slug):
        raise ValidationError({field: SLUG_HELP})
    return slug


def may_manage(actor: User, org_id: int) -> bool:
    return actor.is_admin or actor.org_role(org_id) == OrgRole.ORG_ADMIN


def may_manage_scope(actor: User, org_id: int | None) -> bool:
    """Global records (org_id None) are for admins; an org's records for its org admins too."""
    return actor.is_admin if org_id is None else may_manage(actor, org_id)


ORGS_PER_PAGE = 50
MEMBERS_PER_PAGE = 25


@dataclass(frozen=True)
class OrgPage:
    """One page of organizations and how many members each has."""

    orgs: Pagination
    member_counts: dict[int, int]


def list_orgs(
    actor: User, page: int | None = 1, text: str = "", per_page: int = ORGS_PER_PAGE
) -> OrgPage:
    """Every org for admins, the orgs they administer for org admins; active ones first.
    ``text`` filters by name or slug. Members are counted for the page's orgs only."""
    query = sa.select(Organization).order_by(
        Organization.archived_at.is_not(None), Organization.name, Organization.id
    )
    if not actor.is_admin:
        query = query.where(Organization.id.in_(actor.administered_org_ids() or [-1]))
    if text := (text or "").strip():
        query = query.where(
            sa.or_(
                Organization.name.icontains(text, autoescape=True),
                Organization.slug.icontains(text, autoescape=True),
            )
        )
    result = paginate(query, page, per_page)
    return OrgPage(result, member_counts([org.id for org in result.items]))


def member_counts(org_ids: list[int]) -> dict[int, int]:
    """Members per org, in one ``GROUP BY`` query."""
    if not org_ids:
        return {}
    rows = db.session.execute(
        sa.select(Membership.org_id, sa.func.count())
        .where(Membership.org_id.in_(org_ids))
        .group_by(Membership.org_id)
    )
    return {org_id: count for org_id, count in rows}


def list_members(
    org: Organization, page: int | None = 1, text: str = "", per_page: int = MEMBERS_PER_PAGE
) -> Pagination:
    """One page of the org's memberships by email, each with its user (one query, a join)."""
    query = (
        sa.select(Membership)
        .join(Membership.user)
        .options(contains_eager(Membership.user))
        .where(Membership.org_id == org.id)
        .order_by(User.email, Membership.id)
    )
    if text := (text or "").strip():
        query = query.where(User.email.icontains(text, autoescape=True))
    return paginate(query, page, per_page)


def get_org(actor: User, org_id: int) -> Organization:
    """The org if the actor may manage it; 404 otherwise (other orgs do not exist for them)."""
    org = db.session.get(Organization, org_id)
    if org is None or not may_manage(actor, org.id):
        raise NotFound("That organization does not exist.")
    return org


def _require_admin(actor: User) -> None:
    if not actor.is_admin:
        raise PermissionDenied("Only admins can do this.")


def _snapshot(org: Organization) -> dict[str, object]:
    return audit.snapshot(org, ("slug", "name", "description", "allowed_models", "archived_at"))


def _clean_allowed(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    for global_id in values:
        catalog_snapshot.require_model(global_id, "allowed_models")
    return sorted(set(values))


def create_org(actor: User, slug: str, name: str, description: str | None = None) -> Organization:
    _require_admin(actor)
    slug, name = check_slug(slug), (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationError({"name": "Give the organization a name (at most 120 characters)."})
    if db.session.scalar(sa.select(Organization.id).where(Organization.slug == slug)):
        raise ValidationError({"slug": f"An organization with the slug {slug!r} exists already."})
    org = Organization(slug=slug, name=name, description=(description or "").strip() or None)
    db.session.add(org)
    db.session.flush()
    # The bump also clears a cached "no such organization" for this id.
    commit_change(
        actor,
        action="create",
        target_type="organization",
        target_id=org.id,
        target_label=name,
        before=None,
        after=_snapshot(org),
        org_id=org.id,
    )
    return org


def update_org(
    actor: User,
    org: Organization,
    *,
    name: str,
    description: str | None,
    allowed_models: list[str] | None,
    expected_version: int | None,
) -> Organization:
    """Name and description (org admins too); the allowed-model list (admins only)."""
    if expected_version is not None and expected_version != org.version:
        raise Conflict("Someone else changed this organization since you opened it.")
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationError({"name": "Give the organization a name (at most 120 characters)."})
    allowed = _clean_allowed(allowed_models) if actor.is_admin else org.allowed_models
    before = _snapshot(org)
    org.name, org.description = name, (description or "").strip() or None
    org.allowed_models = allowed
    return _commit(actor, org, before)


def set_archived(actor: User, org: Organization, archived: bool) -> Organization:
    """Archived orgs keep their history but can no longer make calls."""
    _require_admin(actor)
    before = _snapshot(org)
    org.archived_at = utcnow() if archived else None
    return _commit(actor, org, before, action="archive" if archived else "unarchive")


def _commit(actor: User, org: Organization, before: dict, action: str = "update") -> Organization:
    commit_change(
        actor,
        action=action,
        target_type="organization",
        target_id=org.id,
        target_label=org.name,
        before=before,
        after=_snapshot(org),
        org_id=org.id,
    )
    return org


def add_member(actor: User, org: Organization, email: str, org_role: str) -> Membership:
    """Add an existing user directly. Site admins only: its errors tell whether an email is
    registered, so org admins invite instead (services/accounts/invitations.py)."""
    _require_admin(actor)
    if org_role not in tuple(OrgRole):
        raise ValidationError({"org_role": "Choose member or org admin."})
    user = find_by_email(email or "")
    if user is None:
        raise ValidationError({"email": "No user has this email. Create the user first."})
    if user.org_role(org.id) is not None:
        raise ValidationError({"email": f"{user.email} is already a member."})
    membership = Membership(org_id=org.id, user_id=user.id, org_role=org_role)
    db.session.add(membership)
    audit.record(
        "create",
        "membership",
        actor=actor,
        target_id=user.id,
        target_label=user.email,
        changes={"org": org.slug, "org_role": org_role},
        org_id=org.id,
    )
    db.session.commit()
    return membership


def _membership(org: Organization, membership_id: int) -> Membership:
    membership = db.session.get(Membership, membership_id)
    if membership is None or membership.org_id != org.id:
        raise NotFound("That membership does not exist.")
    return membership


def _not_self(actor: User, membership: Membership, what: str) -> None:
    if membership.user_id == actor.id and not actor.is_admin:
        raise ValidationError({"org_role": f"You cannot {what} yourself; ask another org admin."})


def set_member_role(
    actor: User, org: Organization, membership_id: int, org_role: str
) -> Membership:
    membership = _membership(org, membership_id)
    if org_role not in tuple(OrgRole):
        raise ValidationError({"org_role": "Choose member or org admin."})
    if org_role != membership.org_role:
        _not_self(actor, membership, "demote")
        audit.record(
            "update",
            "membership",
            actor=actor,
            target_id=membership.user_id,
            target_label=membership.user.email,
            org_id=org.id,
            changes={"org_role": {"before": membership.org_role, "after": org_role}},
        )
        membership.org_role = org_role
        db.session.commit()
    return membership


def remove_member(actor: User, org: Organization, membership_id: int) -> None:
    membership = _membership(org, membership_id)
    _not_self(actor, membership, "remove")
    audit.record(
        "delete",
        "membership",
        actor=actor,
        target_id=membership.user_id,
        target_label=membership.user.email,
        org_id=org.id,
        changes={"org": org.slug, "org_role": membership.org_role},
    )
    db.session.delete(membership)
    db.session.commit()
