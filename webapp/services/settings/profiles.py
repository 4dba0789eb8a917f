"""Profiles: named tiers (fast, balanced, powerful …), global or per organization."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Organization, ParameterSet, Profile, SettingsScope, User
from webapp.services.accounts.orgs import check_slug, may_manage_scope
from webapp.services.audit import events as audit
from webapp.services.changes import delete_record
from webapp.services.errors import NotFound, PermissionDenied, ValidationError
from webapp.services.settings.cache import bump_settings_version

SUGGESTED = ("fast", "balanced", "powerful")


def list_profiles(org_id: int | None) -> list[Profile]:
    query = (
        sa.select(Profile)
        .options(selectinload(Profile.settings).selectinload(ParameterSet.model))
        .order_by(Profile.name)
    )
    query = (
        query.where(Profile.org_id == org_id) if org_id else query.where(Profile.org_id.is_(None))
    )
    return list(db.session.scalars(query))


def profile_names(org_id: int | None) -> list[str]:
    """Names a feature may point at: the org's profiles and the global ones."""
    names = {p.name for p in list_profiles(None)}
    if org_id:
        names |= {p.name for p in list_profiles(org_id)}
    return sorted(names)


def names_for(actor: User) -> list[str]:
    """Every profile name the actor's features may point at, in one query: the global
    profiles and those of the orgs the actor manages (all orgs for admins)."""
    query = sa.select(Profile.name).distinct().order_by(Profile.name)
    if not actor.is_admin:
        org_ids = actor.administered_org_ids() or [-1]
        query = query.where(sa.or_(Profile.org_id.is_(None), Profile.org_id.in_(org_ids)))
    return list(db.session.scalars(query))


def get_profile(actor: User, profile_id: int, org_id: int | None) -> Profile:
    """The profile of that org (None = global) if the actor may manage it; 404 otherwise."""
    profile = db.session.get(Profile, profile_id)
    if profile is None or profile.org_id != org_id or not may_manage_scope(actor, org_id):
        raise NotFound("That profile does not exist.")
    return profile


def create_profile(
    actor: User, org: Organization | None, name: str, description: str | None = None
) -> Profile:
    org_id = org.id if org else None
    if not may_manage_scope(actor, org_id):
        raise PermissionDenied("You cannot create profiles here.")
    name = check_slug(name, "name")
    if any(p.name == name for p in list_profiles(org_id)):
        raise ValidationError({"name": f"There is already a profile named {name!r} here."})
    profile = Profile(org_id=org_id, name=name, description=(description or "").strip() or None)
    profile.settings = ParameterSet(scope=SettingsScope.PROFILE)
    db.session.add(profile)
    db.session.flush()
    audit.record(
        "create",
        "profile",
        actor=actor,
        target_id=profile.id,
        target_label=f"{org.slug if org else 'global'}/{name}",
        changes={"name": name, "description": profile.description},
        org_id=org_id,
    )
    bump_settings_version()  # a feature may already point at this name
    db.session.commit()
    return profile


def delete_profile(actor: User, profile: Profile) -> None:
    """Features pointing at this name fall back to the global profile of that name, if any."""
    delete_record(
        actor,
        profile,
        target_type="profile",
        target_label=profile.name,
        changes={"name": profile.name},
        org_id=profile.org_id,
    )
