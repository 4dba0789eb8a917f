"""Features (use cases such as ``summarize``): global, or per organization, with a profile."""

from __future__ import annotations

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.orm import joinedload

from webapp.extensions import db
from webapp.models import Feature, Organization, ParameterSet, SettingsScope, User
from webapp.services.accounts.orgs import check_slug, may_manage_scope
from webapp.services.audit import events as audit
from webapp.services.changes import commit_change, delete_record
from webapp.services.errors import Conflict, NotFound, PermissionDenied, ValidationError
from webapp.services.paging import paginate
from webapp.services.settings.cache import bump_settings_version
from webapp.services.settings.profiles import profile_names

FIELDS = ("slug", "name", "description", "profile_name", "enabled")


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


def get_feature(actor: User, feature_id: int) -> Feature:
    feature = db.session.get(Feature, feature_id)
    if feature is None or not may_manage_scope(actor, feature.org_id):
        raise NotFound("That feature does not exist.")
    return feature


def _clean(org_id: int | None, name: str, profile_name: str | None) -> tuple[str, str | None]:
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationError({"name": "Give the feature a name (at most 120 characters)."})
    profile = (profile_name or "").strip() or None
    if profile and profile not in profile_names(org_id):
        raise ValidationError({"profile_name": f"There is no profile named {profile!r} here."})
    return name, profile


def create_feature(
    actor: User,
    org: Organization | None,
    slug: str,
    name: str,
    *,
    description: str | None = None,
    profile_name: str | None = None,
    enabled: bool = True,
) -> Feature:
    org_id = org.id if org else None
    if not may_manage_scope(actor, org_id):
        raise PermissionDenied("Only admins can create global features.")
    slug = check_slug(slug)
    name, profile = _clean(org_id, name, profile_name)
    query = sa.select(Feature.id).where(Feature.slug == slug)
    query = query.where(Feature.org_id == org_id if org_id else Feature.org_id.is_(None))
    if db.session.scalar(query):
        raise ValidationError({"slug": f"There is already a feature {slug!r} here."})
    feature = Feature(
        org_id=org_id,
        slug=slug,
        name=name,
        profile_name=profile,
        enabled=enabled,
        description=(description or "").strip() or None,
    )
    feature.settings = ParameterSet(scope=SettingsScope.FEATURE)
    db.session.add(feature)
    db.session.flush()
    audit.record(
        "create",
        "feature",
        actor=actor,
        target_id=feature.id,
        target_label=slug,
        changes=audit.diff(None, audit.snapshot(feature, FIELDS)),
        org_id=org_id,
    )
    bump_settings_version()
    db.session.commit()
    return feature


def update_feature(
    actor: User,
    feature: Feature,
    *,
    name: str,
    description: str | None,
    profile_name: str | None,
    enabled: bool,
    expected_version: int | None,
) -> Feature:
    if expected_version is not None and expected_version != feature.version:
        raise Conflict("Someone else changed this feature since you opened it.")
    name, profile = _clean(feature.org_id, name, profile_name)
    before = audit.snapshot(feature, FIELDS)
    feature.name, feature.profile_name, feature.enabled = name, profile, enabled
    feature.description = (description or "").strip() or None
    commit_change(
        actor,
        action="update",
        target_type="feature",
        target_id=feature.id,
        target_label=feature.slug,
        before=before,
        after=audit.snapshot(feature, FIELDS),
        org_id=feature.org_id,
    )
    return feature


def delete_feature(actor: User, feature: Feature) -> None:
    delete_record(
        actor,
        feature,
        target_type="feature",
        target_label=feature.slug,
        changes=audit.diff(audit.snapshot(feature, FIELDS), None),
        org_id=feature.org_id,
    )
