"""Organizations and their members. Admins manage every org; org admins only their own."""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from webapp.extensions import db
from webapp.models import Membership, Organization, OrgRole, Profile, User
from webapp.models.base import utcnow
from webapp.services.accounts import schemas
from webapp.services.accounts.users import find_by_email
from webapp.services.audit import events as audit
from webapp.services.catalog import snapshot as catalog_snapshot
from webapp.services.changes import Change, commit_change, commit_changes, delete_record
from webapp.services.errors import NotFound, PermissionDenied, ValidationError
from webapp.services.paging import paginate
from webapp.services.schemas import validate


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


FIELDS = ("slug", *schemas.ORG_FIELDS)


def _snapshot(org: Organization) -> dict[str, object]:
    return audit.snapshot(org, FIELDS)


def stored_values(org: Organization) -> dict[str, Any]:
    return {name: getattr(org, name) for name in schemas.ORG_FIELDS}


def profile_choices(org_id: int | None) -> list[str]:
    """Profile names an org may choose as its default: its own and the global ones."""
    query = sa.select(Profile.name).where(
        sa.or_(Profile.org_id.is_(None), Profile.org_id == org_id)
        if org_id
        else Profile.org_id.is_(None)
    )
    return sorted(set(db.session.scalars(query)))


def check_org(
    data: Mapping[str, Any],
    current: Organization | None,
    *,
    models: Container[str] | None = None,
    profiles: Container[str] | None = None,
) -> dict[str, Any]:
    """The org's values as stored, or a ValidationError with every field's message.

    Fields ``data`` leaves out keep their stored values. Allowed models must be in the
    catalog and the default profile must exist for the org; config import passes what the
    catalog and the profiles will hold after the import as ``models`` and ``profiles``."""
    raw = {**(stored_values(current) if current is not None else {}), **data}
    errors: dict[str, str] = {}
    try:
        schema = schemas.OrgRecord if current is not None else schemas.NewOrg
        values = validate(schema, raw).model_dump()
    except ValidationError as exc:
        errors, values = dict(exc.errors), {}
    refs = values or _well_formed(raw, errors)  # other fields wrong: check references too
    errors.update(_reference_errors(refs, current, models, profiles))
    if errors:
        raise ValidationError(errors)
    return values


def _well_formed(raw: Mapping[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The references in ``raw`` that passed the schema, when other fields did not."""
    refs: dict[str, Any] = {}
    if "allowed_models" not in errors:
        refs["allowed_models"] = sorted(set(raw.get("allowed_models") or []))
    if "default_profile" not in errors:
        refs["default_profile"] = raw.get("default_profile") or None
    return refs


def _reference_errors(
    values: Mapping[str, Any],
    current: Organization | None,
    models: Container[str] | None,
    profiles: Container[str] | None,
) -> dict[str, str]:
    """Allowed models in the catalog, the default profile known, the slug free."""
    errors: dict[str, str] = {}
    allowed = values.get("allowed_models") or []
    if allowed != ((current.allowed_models or []) if current else []):
        unknown = [m for m in allowed if (m not in models if models is not None else not _known(m))]
        if unknown:
            errors["allowed_models"] = f"{unknown[0]!r} is not in the model catalog."
    profile = values.get("default_profile")
    if profile and profile != (current.default_profile if current else None):
        known = (
            profiles if profiles is not None else profile_choices(current.id if current else None)
        )
        if profile not in known:
            errors["default_profile"] = f"There is no profile named {profile!r} here."
    slug = values.get("slug") if current is None else None
    if slug and db.session.scalar(sa.select(Organization.id).where(Organization.slug == slug)):
        errors["slug"] = f"An organization with the slug {slug!r} exists already."
    return errors


def _known(global_id: str) -> bool:
    try:
        catalog_snapshot.require_model(global_id, "allowed_models")
    except ValidationError:
        return False
    return True


def write_org(org: Organization, values: Mapping[str, Any]) -> Organization:
    """Put checked values on an org (new or stored); nothing is committed here."""
    for name, value in values.items():
        if name == "archived":
            org.archived_at = (org.archived_at or utcnow()) if value else None
        else:
            setattr(org, name, value)
    if org.id is None:
        db.session.add(org)
    return org


def create_org(actor: User, slug: str, name: str, description: str | None = None) -> Organization:
    _require_admin(actor)
    values = check_org(
        {"slug": (slug or "").strip(), "name": name, "description": description}, None
    )
    org = write_org(Organization(), values)
    db.session.flush()
    # The bump also clears a cached "no such organization" for this id.
    commit_change(
        actor,
        action="create",
        target_type="organization",
        target_id=org.id,
        target_label=org.name,
        before=None,
        after=_snapshot(org),
        org_id=org.id,
    )
    return org


def update_org(
    actor: User, org: Organization, *, expected_version: int | None, **fields: Any
) -> Organization:
    """Change the given fields; the others keep their values. Name, description and the
    default profile are for org admins too; the allowed models, who pays and archiving are
    for admins (an org admin's form does not offer them: they are left as they are)."""
    if not may_manage(actor, org.id):
        raise PermissionDenied("You cannot change this organization.")
    org.check_version(expected_version, "this organization")
    if not actor.is_admin:
        fields = {k: v for k, v in fields.items() if k not in schemas.ADMIN_ONLY}
    values = check_org(fields, org)
    before = _snapshot(org)
    write_org(org, values)
    return _commit(actor, org, before)


def set_archived(actor: User, org: Organization, archived: bool) -> Organization:
    """Archived orgs keep their history but can no longer make calls."""
    _require_admin(actor)
    before = _snapshot(org)
    write_org(org, {"archived": archived})
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
    change = Change(
        "create",
        "membership",
        user.id,
        user.email,
        {"org": org.slug, "org_role": org_role},
        org.id,
    )
    # The same person added twice at once: the second insert breaks the unique membership.
    conflict = f"{user.email} was added at the same moment. Reload the page."
    commit_changes(actor, [change], conflict=conflict, also=(IntegrityError,))
    return membership


def _membership(org: Organization, membership_id: int) -> Membership:
    membership = db.session.get(Membership, membership_id)
    if membership is None or membership.org_id != org.id:
        raise NotFound("That membership does not exist.")
    return membership


def _not_self(actor: User, membership: Membership, what: str) -> None:
    if membership.user_id == actor.id and not actor.is_admin:
        raise ValidationError({"org_role": f"You cannot {what} yourself; ask another org admin."})


def _require_manager(actor: User, org: Organization) -> None:
    """Members are the org's admins' (and site admins') to change, whoever the view let in."""
    if not may_manage(actor, org.id):
        raise PermissionDenied("You cannot change this organization's members.")


def set_member_role(
    actor: User, org: Organization, membership_id: int, org_role: str
) -> Membership:
    _require_manager(actor, org)
    membership = _membership(org, membership_id)
    if org_role not in tuple(OrgRole):
        raise ValidationError({"org_role": "Choose member or org admin."})
    if org_role != membership.org_role:
        _not_self(actor, membership, "demote")
        before = {"org_role": membership.org_role}
        membership.org_role = org_role
        commit_change(
            actor,
            action="update",
            target_type="membership",
            target_id=membership.user_id,
            target_label=membership.user.email,
            before=before,
            after={"org_role": org_role},
            org_id=org.id,
        )
    return membership


def remove_member(actor: User, org: Organization, membership_id: int) -> None:
    _require_manager(actor, org)
    membership = _membership(org, membership_id)
    _not_self(actor, membership, "remove")
    delete_record(
        actor,
        membership,
        target_type="membership",
        target_id=membership.user_id,
        target_label=membership.user.email,
        changes={"org": org.slug, "org_role": membership.org_role},
        org_id=org.id,
    )
