"""Write settings at any layer: validated against SPEC's ranges, audited, and announced to
every process through the settings version counter."""

from __future__ import annotations

import json
import math
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import Feature, Organization, ParameterSet, Profile, SettingsScope, User
from webapp.services.accounts.orgs import may_manage
from webapp.services.catalog import snapshot as catalog_snapshot
from webapp.services.changes import commit_change
from webapp.services.errors import Conflict, PermissionDenied, ValidationError
from webapp.services.json_input import JSONInputError, check_value
from webapp.services.settings.fields import BY_NAME, COLUMN, FIELDS, FieldSpec

MAX_STOP, MAX_FALLBACKS, MAX_EXTRA_BYTES = 4, 5, 10_000
RESERVED_EXTRA = {"model", "messages", "stream", "api_key", "tools", "system"}
OWNER_COLUMNS = {
    "org": "org_id",
    "profile": "profile_id",
    "feature": "feature_id",
    "user": "user_id",
}


def check_number(spec: FieldSpec, value: Any) -> float | int:
    """A finite number of the field's kind (no range check). Huge ints never reach floats."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError({spec.name: f"{spec.label} must be a number."})
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError({spec.name: f"{spec.label} must be a number."})
    if spec.kind == "int" and isinstance(value, float):
        if not value.is_integer():
            raise ValidationError({spec.name: f"{spec.label} must be a whole number."})
        value = int(value)
    return value


def _number(spec: FieldSpec, value: Any) -> float | int:
    value = check_number(spec, value)
    if not spec.low <= value <= spec.high:
        raise ValidationError(
            {spec.name: f"{spec.label} must be between {spec.low:g} and {spec.high:g}."}
        )
    return int(value) if spec.kind == "int" else float(value)


def _model(spec: FieldSpec, value: Any) -> int:
    info = catalog_snapshot.require_model(str(value), spec.name)
    if not info.usable:
        raise ValidationError(
            {spec.name: f"{info.global_id} is disabled; choose an enabled model."}
        )
    return info.id


def _strings(spec: FieldSpec, value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items):
        raise ValidationError({spec.name: "Give a list of non-empty strings."})
    if len(items) > MAX_STOP or any(len(v) > 100 for v in items):
        raise ValidationError({spec.name: f"At most {MAX_STOP} stop sequences of 100 characters."})
    return items


def _models(spec: FieldSpec, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError({spec.name: "Give a list of provider/model ids."})
    if len(value) > MAX_FALLBACKS or len(set(value)) != len(value):
        raise ValidationError({spec.name: f"At most {MAX_FALLBACKS} different fallback models."})
    for global_id in value:
        catalog_snapshot.require_model(global_id, spec.name)
    return list(value)


def _json(spec: FieldSpec, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError({spec.name: "Extra options must be a JSON object."})
    try:
        check_value(value)  # NaN, infinity, huge numbers: no provider (or PostgreSQL) takes them
    except JSONInputError as exc:
        raise ValidationError({spec.name: f"Extra options: {exc}"}) from None
    if reserved := RESERVED_EXTRA & set(value):
        raise ValidationError(
            {spec.name: f"Extra options cannot set {', '.join(sorted(reserved))}."}
        )
    if len(json.dumps(value)) > MAX_EXTRA_BYTES:
        raise ValidationError({spec.name: "Extra options are limited to 10 kB."})
    return value


def clean_value(name: str, value: Any) -> Any:
    """One field's value as stored, or a ValidationError naming the field. None = inherit."""
    spec = BY_NAME.get(name)
    if spec is None:
        raise ValidationError({name: f"Unknown setting {name!r}."})
    if value is None or value == "":
        return None
    if spec.kind in ("float", "int"):
        return _number(spec, value)
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise ValidationError({name: f"{spec.label} must be true or false."})
        return value
    if spec.kind == "choice":
        if value not in spec.choices:
            raise ValidationError({name: f"{spec.label} must be one of {', '.join(spec.choices)}."})
        return value
    cleaner = {"model": _model, "strings": _strings, "models": _models, "json": _json}[spec.kind]
    return cleaner(spec, value)


def clean(values: dict[str, Any]) -> dict[str, Any]:
    """Every field validated; all errors reported at once."""
    result, errors = {}, {}
    for name, value in values.items():
        try:
            result[name] = clean_value(name, value)
        except ValidationError as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    return result


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


def _check_org_allows(pset: ParameterSet, cleaned: dict[str, Any]) -> None:
    """An org's own settings may only name models the org allows."""
    org = _owning_org(pset)
    if org is None or not org.allowed_models:
        return
    allowed = org.allowed_models
    model = cleaned.get("model")
    info = catalog_snapshot.model_by_id(model) if model else None
    if info is not None and info.global_id not in allowed:
        raise ValidationError({"model": f"{org.name} does not allow {info.global_id}."})
    outside = [m for m in cleaned.get("fallback_models") or [] if m not in allowed]
    if outside:
        raise ValidationError(
            {"fallback_models": f"{org.name} does not allow {', '.join(outside)}."}
        )


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
    cleaned = clean(values)
    _check_org_allows(pset, cleaned)
    before = as_form_values(pset)
    for name, value in cleaned.items():
        setattr(pset, COLUMN.get(name, name), value)
    pset.updated_by_id = actor.id if actor else None
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
