"""Write settings at any layer: checked by ``values.check_settings`` (SPEC's ranges, the
catalog, the org's allowed models), written by ``write_settings``, audited, and announced to
every process through the settings version counter. Every path that writes a layer — the
editors, the API, config import and the seed — goes through these two."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import Feature, Organization, ParameterSet, Profile, SettingsScope, User
from webapp.services.accounts.orgs import may_manage
from webapp.services.catalog import snapshot as catalog_snapshot
from webapp.services.changes import commit_change
from webapp.services.errors import Conflict, PermissionDenied
from webapp.services.settings.fields import COLUMN, FIELDS
from webapp.services.settings.values import OrgPolicy, check_settings

OWNER_COLUMNS = {
    "org": "org_id",
    "profile": "profile_id",
    "feature": "feature_id",
    "user": "user_id",
}


def parameter_set_for(
    scope: str, owner_id: int | None = None, *, create: bool = True
) -> ParameterSet:
    """The layer's parameter set, created empty (all inherit) on first use.

    ``create=False`` (pages that only display) returns an unsaved empty set instead, so a
    GET never writes.
    """
    query = sa.select(ParameterSet).where(ParameterSet.scope == scope)
    if scope != SettingsScope.GLOBAL:
        query = query.where(getattr(ParameterSet, OWNER_COLUMNS[scope]) == owner_id)
    pset = db.session.scalar(query)
    if pset is None and not create:
        unsaved = ParameterSet(scope=scope, version=1)
        if scope != SettingsScope.GLOBAL:
            setattr(unsaved, OWNER_COLUMNS[scope], owner_id)  # whose it would be
        return unsaved
    if pset is None:
        pset = ParameterSet(scope=scope)
        if scope != SettingsScope.GLOBAL:
            setattr(pset, OWNER_COLUMNS[scope], owner_id)
        db.session.add(pset)
        try:
            db.session.flush()
        except IntegrityError:  # another request created it a moment ago: use that one
            db.session.rollback()
            existing = db.session.scalar(query)
            if existing is None:  # created and deleted again in between
                raise Conflict("These settings changed at the same moment. Try again.") from None
            pset = existing
    return pset


def as_form_values(pset: ParameterSet) -> dict[str, Any]:
    """Stored values in the shape ``clean`` accepts (the model as its global id)."""
    values = {}
    for spec in FIELDS:
        value = getattr(pset, COLUMN.get(spec.name, spec.name))
        if spec.name == "model" and value is not None:
            info = catalog_snapshot.model_by_id(value)
            value = info.global_id if info else None
        values[spec.name] = value
    return values


def _owning_org(pset: ParameterSet) -> Organization | None:
    """The organization whose policy applies to this layer (org, org profile, org feature)."""
    org_id = pset.org_id
    if pset.profile_id:
        org_id = db.session.scalar(sa.select(Profile.org_id).where(Profile.id == pset.profile_id))
    elif pset.feature_id:
        org_id = db.session.scalar(sa.select(Feature.org_id).where(Feature.id == pset.feature_id))
    return db.session.get(Organization, org_id) if org_id else None


def may_edit(actor: User, pset: ParameterSet) -> bool:
    """Admins change every layer; an org admin their org's own, its profiles' and features';
    anyone their own preference layer. Global profiles and features are for admins."""
    if actor.is_admin:
        return True
    if pset.scope == SettingsScope.USER:
        return pset.user_id is not None and pset.user_id == actor.id
    org = _owning_org(pset)
    return org is not None and may_manage(actor, org.id)


def org_policy(pset: ParameterSet) -> OrgPolicy | None:
    """What the layer's organization allows (None: a global or personal layer)."""
    org = _owning_org(pset)
    return OrgPolicy(org.name, org.allowed_models or ()) if org is not None else None


def _stored_model_id(global_id: str) -> int:
    info = catalog_snapshot.model_by_global_id(global_id)
    assert info is not None  # checked against this catalog a moment ago
    return info.id


def write_settings(
    pset: ParameterSet,
    checked: Mapping[str, Any],
    actor: User | None,
    *,
    model_id: Callable[[str], int] = _stored_model_id,
) -> ParameterSet:
    """Put values ``check_settings`` passed on a layer; nothing is committed here. Config
    import gives ``model_id`` for models it created in the same transaction."""
    for name, value in checked.items():
        if name == "model" and value is not None:
            value = model_id(value)
        setattr(pset, COLUMN.get(name, name), value)
    pset.updated_by_id = actor.id if actor else None
    return pset


def update_settings(
    actor: User | None,
    pset: ParameterSet,
    values: dict[str, Any],
    expected_version: int | None = None,
    *,
    target_label: str = "",
) -> ParameterSet:
    """Replace the given fields of one layer. Unlisted fields keep their values. ``actor``
    None: the system (the seed, a configuration import)."""
    if actor is not None and not may_edit(actor, pset):
        raise PermissionDenied("You cannot change these settings.")
    pset.check_version(expected_version, "these settings")
    checked = check_settings(values, org=org_policy(pset))
    before = as_form_values(pset)
    write_settings(pset, checked, actor)
    commit_change(
        actor,
        action="update",
        target_type="settings",
        target_id=pset.id,
        target_label=target_label or f"{pset.scope} settings",
        before=before,
        after=as_form_values(pset),
        org_id=pset.org_id,
    )
    return pset
