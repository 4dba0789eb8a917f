"""Profiles: named tiers (fast, balanced, powerful …), global or per organization."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Organization, ParameterSet, Profile, SettingsScope, User
from webapp.services.accounts.orgs import may_manage_scope
from webapp.services.audit import events as audit
from webapp.services.changes import commit_change, delete_record
from webapp.services.errors import NotFound, PermissionDenied, ValidationError
from webapp.services.schemas import validate
from webapp.services.settings import schemas

SUGGESTED = ("fast", "balanced", "powerful")
FIELDS = ("name", *schemas.PROFILE_FIELDS)


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


def check_profile(
    data: Mapping[str, Any],
    current: Profile | None,
    org_id: int | None,
    *,
    check_unique: bool = True,
) -> dict[str, Any]:
    """The profile's values as stored, or a ValidationError with every field's message.
    A new profile (``current`` None) has a name, free in its scope (config import, whose
    profile may belong to an org the same document creates, finds duplicates itself)."""
    raw = {"description": current.description, **data} if current is not None else dict(data)
    schema = schemas.ProfileRecord if current is not None else schemas.NewProfile
    values = validate(schema, raw).model_dump()
    if (
        current is None
        and check_unique
        and any(p.name == values["name"] for p in list_profiles(org_id))
    ):
        raise ValidationError(
            {"name": f"There is already a profile named {values['name']!r} here."}
        )
    return values


def write_profile(profile: Profile, values: Mapping[str, Any]) -> Profile:
    """Put checked values on a profile (new or stored); nothing is committed here."""
    for name, value in values.items():
        setattr(profile, name, value)
    if profile.id is None:
        profile.settings = ParameterSet(scope=SettingsScope.PROFILE)
        db.session.add(profile)
    return profile


def create_profile(
    actor: User, org: Organization | None, name: str, description: str | None = None
) -> Profile:
    org_id = org.id if org else None
    if not may_manage_scope(actor, org_id):
        raise PermissionDenied("You cannot create profiles here.")
    values = check_profile({"name": (name or "").strip(), "description": description}, None, org_id)
    profile = write_profile(Profile(org_id=org_id), values)
    db.session.flush()
    # The bump tells every process: a feature may already point at this name.
    commit_change(
        actor,
        action="create",
        target_type="profile",
        target_id=profile.id,
        target_label=f"{org.slug if org else 'global'}/{profile.name}",
        before=None,
        after=audit.snapshot(profile, FIELDS),
        org_id=org_id,
    )
    return profile


def delete_profile(actor: User, profile: Profile) -> None:
    """Features pointing at this name fall back to the global profile of that name, if any."""
    if not may_manage_scope(actor, profile.org_id):
        raise PermissionDenied("You cannot delete profiles here.")
    delete_record(
        actor,
        profile,
        target_type="profile",
        target_label=profile.name,
        changes={"name": profile.name},
        org_id=profile.org_id,
    )
