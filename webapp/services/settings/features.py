"""Features (use cases such as ``summarize``): global, or per organization, with a profile,
locked settings fields and a system prompt."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.orm import joinedload

from webapp.extensions import db
from webapp.models import Feature, Organization, ParameterSet, SettingsScope, User
from webapp.services.accounts.orgs import may_manage_scope
from webapp.services.audit import events as audit
from webapp.services.changes import commit_change, delete_record
from webapp.services.errors import NotFound, PermissionDenied, ValidationError
from webapp.services.paging import paginate
from webapp.services.schemas import validate
from webapp.services.settings import schemas
from webapp.services.settings.profiles import profile_names

FIELDS = ("slug", *schemas.FEATURE_FIELDS)


FEATURES_PER_PAGE = 50


def list_features(
    actor: User, page: int | None = 1, text: str = "", per_page: int = FEATURES_PER_PAGE
) -> Pagination:
    """One page of the features the actor sees, global first, each with its organization.
    Admins see all; org admins see the global ones (read only) and their orgs'. ``text``
    filters by slug or name."""
    query = (
        sa.select(Feature)
        .options(joinedload(Feature.organization))
        .order_by(Feature.org_id.is_not(None), Feature.org_id, Feature.slug)
    )
    if not actor.is_admin:
        query = query.where(
            sa.or_(
                Feature.org_id.is_(None), Feature.org_id.in_(actor.administered_org_ids() or [-1])
            )
        )
    if text := (text or "").strip():
        query = query.where(
            sa.or_(
                Feature.slug.icontains(text, autoescape=True),
                Feature.name.icontains(text, autoescape=True),
            )
        )
    return paginate(query, page, per_page)


def may_edit(actor: User, feature: Feature) -> bool:
    return may_manage_scope(actor, feature.org_id)


def _require(actor: User | None, org_id: int | None) -> None:
    """Global features are for admins; an org's for its org admins too (None: the system)."""
    if actor is not None and not may_manage_scope(actor, org_id):
        raise PermissionDenied("You cannot change features here.")


def get_feature(actor: User, feature_id: int) -> Feature:
    feature = db.session.get(Feature, feature_id)
    if feature is None or not may_manage_scope(actor, feature.org_id):
        raise NotFound("That feature does not exist.")
    return feature


def stored_values(feature: Feature) -> dict[str, Any]:
    return {name: getattr(feature, name) for name in schemas.FEATURE_FIELDS}


def check_feature(
    data: Mapping[str, Any],
    current: Feature | None,
    org_id: int | None,
    *,
    profiles: set[str] | None = None,
    check_unique: bool = True,
) -> dict[str, Any]:
    """The feature's values as stored, or a ValidationError with every field's message.

    Fields ``data`` leaves out keep their stored values. A new feature (``current`` None)
    has a slug, free in its scope. The profile must exist for the owner. Config import
    passes the profile names the owner will have after the import as ``profiles`` (and
    finds duplicate slugs itself: its owner may be an org the same document creates)."""
    raw = {**(stored_values(current) if current is not None else {}), **data}
    errors: dict[str, str] = {}
    try:
        schema = schemas.NewFeature if current is None else schemas.FeatureRecord
        values = validate(schema, raw).model_dump()
    except ValidationError as exc:
        errors, values = dict(exc.errors), {}
    profile = values.get("profile_name")
    known = profiles if profiles is not None else set(profile_names(org_id))
    if profile and profile != (current.profile_name if current else None) and profile not in known:
        errors["profile_name"] = f"There is no profile named {profile!r} here."
    if current is None and check_unique and (slug := values.get("slug")):
        query = sa.select(Feature.id).where(Feature.slug == slug)
        query = query.where(Feature.org_id == org_id if org_id else Feature.org_id.is_(None))
        if db.session.scalar(query):
            errors["slug"] = f"There is already a feature {slug!r} here."
    if errors:
        raise ValidationError(errors)
    return values


def write_feature(feature: Feature, values: Mapping[str, Any]) -> Feature:
    """Put checked values on a feature (new or stored); nothing is committed here."""
    for name, value in values.items():
        setattr(feature, name, value)
    if feature.id is None:
        feature.settings = ParameterSet(scope=SettingsScope.FEATURE)
        db.session.add(feature)
    return feature


def _commit(actor: User | None, feature: Feature, before: dict[str, Any] | None) -> Feature:
    commit_change(
        actor,
        action="create" if before is None else "update",
        target_type="feature",
        target_id=feature.id,
        target_label=feature.slug,
        before=before,
        after=audit.snapshot(feature, FIELDS),
        org_id=feature.org_id,
    )
    return feature


def create_feature(
    actor: User, org: Organization | None, slug: str, name: str, **fields: Any
) -> Feature:
    """``fields``: description, profile_name, enabled, locked_fields, system_prompt."""
    org_id = org.id if org else None
    if not may_manage_scope(actor, org_id):
        raise PermissionDenied("Only admins can create global features.")
    values = check_feature(
        {"slug": "" if slug is None else slug, "name": name, **fields}, None, org_id
    )
    feature = write_feature(Feature(org_id=org_id), values)
    db.session.flush()
    return _commit(actor, feature, None)


def update_feature(
    actor: User, feature: Feature, *, expected_version: int | None, **fields: Any
) -> Feature:
    """Change the given fields (name, description, profile_name, enabled, locked_fields,
    system_prompt); the others keep their values."""
    _require(actor, feature.org_id)
    feature.check_version(expected_version, "this feature")
    values = check_feature(fields, feature, feature.org_id)
    before = audit.snapshot(feature, FIELDS)
    write_feature(feature, values)
    return _commit(actor, feature, before)


def delete_feature(actor: User, feature: Feature) -> None:
    _require(actor, feature.org_id)
    delete_record(
        actor,
        feature,
        target_type="feature",
        target_label=feature.slug,
        changes=audit.diff(audit.snapshot(feature, FIELDS), None),
        org_id=feature.org_id,
    )
