"""Settings layers (global, org, feature, user defaults, profiles), features, profiles, model
aliases and budgets, each with the permissions of its page."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from webapp.api.core import (
    actor,
    encode_cursor,
    id_after,
    only_fields,
    record_id,
    require_admin,
    require_org_admin,
    route,
    take_version,
)
from webapp.api.schemas import (
    AliasCreate,
    AliasOut,
    BudgetCreate,
    BudgetOut,
    BudgetQuery,
    BudgetStatusOut,
    BudgetUpdate,
    FeatureCreate,
    FeatureOut,
    FeatureQuery,
    FeatureUpdate,
    Page,
    ProfileCreate,
    ProfileOut,
    ProfileQuery,
    SettingsOut,
    SettingsUpdate,
)
from webapp.extensions import db
from webapp.models import Feature, Organization, ParameterSet, Profile
from webapp.services.accounts import orgs, users
from webapp.services.accounts.orgs import may_manage_scope
from webapp.services.billing import budgets
from webapp.services.catalog import names
from webapp.services.errors import NotFound
from webapp.services.settings import features, profiles
from webapp.services.settings import layers as settings_service
from webapp.services.settings import schemas as settings_schemas
from webapp.services.settings.fields import NAMES

SETTINGS = "Settings"
FEATURES = "Features and profiles"
ALIASES = "Providers and models"
BUDGETS = "Budgets"


# --- settings layers ---------------------------------------------------------------------


def _layer(scope: str, owner_id: int | None, pset: ParameterSet) -> dict[str, Any]:
    return {
        "scope": scope,
        "owner_id": owner_id,
        "version": pset.version or 1,
        "values": settings_service.as_form_values(pset),
    }


def _save_layer(scope: str, owner_id: int | None, body: dict[str, Any], label: str) -> Any:
    version = take_version(body)
    values = only_fields(body, NAMES)
    pset = settings_service.parameter_set_for(scope, owner_id)
    settings_service.update_settings(actor(), pset, values, version, target_label=label)
    return _layer(scope, owner_id, pset)


def _owner_of(scope: str, owner_id: int) -> str:
    """The label of the layer's owner, once the token's owner may edit it (404 otherwise)."""
    if scope == "org":
        return orgs.get_org(actor(), owner_id).name
    if scope == "feature":
        return features.get_feature(actor(), owner_id).slug
    if scope == "profile":
        found = _profile(owner_id)
        return (
            f"profile {found.name} of {found.organization_name}"
            if found.org_id
            else (f"profile {found.name} (global)")
        )
    require_admin()
    return users.get_user(owner_id).email


@route("GET", "/settings/global", summary="Global defaults", tag=SETTINGS, response=SettingsOut)
def get_global() -> Any:
    require_admin()
    return _layer("global", None, settings_service.parameter_set_for("global", create=False))


@route(
    "PATCH",
    "/settings/global",
    summary="Change global defaults",
    tag=SETTINGS,
    body=SettingsUpdate,
    validate_body=False,
    response=SettingsOut,
)
def save_global(body: dict[str, Any]) -> Any:
    """Settings left out keep their values; null makes one inherit the built-in default."""
    require_admin()
    return _save_layer("global", None, body, "Global defaults")


def _layer_routes(scope: str, noun: str) -> None:
    def read(owner_id: int) -> Any:
        _owner_of(scope, owner_id)
        pset = settings_service.parameter_set_for(scope, owner_id, create=False)
        return _layer(scope, owner_id, pset)

    def save(owner_id: int, body: dict[str, Any]) -> Any:
        label = _owner_of(scope, owner_id)
        return _save_layer(scope, owner_id, body, f"Settings of {label}")

    read.__name__, save.__name__ = f"get_{scope}_settings", f"save_{scope}_settings"
    rule = f"/settings/{scope}s/<int:owner_id>"
    route("GET", rule, summary=f"A {noun}'s settings", tag=SETTINGS, response=SettingsOut)(read)
    route(
        "PATCH",
        rule,
        summary=f"Change a {noun}'s settings",
        tag=SETTINGS,
        body=SettingsUpdate,
        validate_body=False,
        response=SettingsOut,
    )(save)


_layer_routes("org", "organization")
_layer_routes("feature", "feature")
_layer_routes("user", "user")
_layer_routes("profile", "profile")


# --- features ----------------------------------------------------------------------------


@route(
    "GET",
    "/features",
    summary="List features",
    tag=FEATURES,
    query=FeatureQuery,
    response=Page[FeatureOut],
)
def list_features(query: FeatureQuery) -> Any:
    """Admins see all; org admins the global ones and their orgs'."""
    user = require_org_admin()
    select = sa.select(Feature).order_by(Feature.id).limit(query.limit + 1)
    if not user.is_admin:
        mine = user.administered_org_ids() or [-1]
        select = select.where(sa.or_(Feature.org_id.is_(None), Feature.org_id.in_(mine)))
    if query.org_id is not None:
        select = select.where(Feature.org_id == query.org_id)
    if (after := id_after(query.cursor)) is not None:
        select = select.where(Feature.id > after)
    found = list(db.session.scalars(select))
    more = len(found) > query.limit
    found = found[: query.limit]
    return {"items": found, "next_cursor": encode_cursor(found[-1].id) if more else None}


@route(
    "POST",
    "/features",
    summary="Create a feature",
    tag=FEATURES,
    body=FeatureCreate,
    validate_body=False,
    response=FeatureOut,
    status=201,
)
def create_feature(body: dict[str, Any]) -> Any:
    org_id = record_id(body.pop("org_id", None), "org_id")
    org = None
    if org_id is not None:
        org = db.session.get(Organization, org_id)
        if org is None or not may_manage_scope(actor(), org.id):
            raise NotFound("That organization does not exist.")
    fields = dict(body)
    slug, name = fields.pop("slug", ""), fields.pop("name", "")
    only_fields(fields, settings_schemas.FEATURE_FIELDS)
    return features.create_feature(actor(), org, slug, name, **fields)


@route(
    "GET", "/features/<int:feature_id>", summary="Read a feature", tag=FEATURES, response=FeatureOut
)
def get_feature(feature_id: int) -> Any:
    return features.get_feature(actor(), feature_id)


@route(
    "PATCH",
    "/features/<int:feature_id>",
    summary="Update a feature",
    tag=FEATURES,
    body=FeatureUpdate,
    validate_body=False,
    response=FeatureOut,
)
def update_feature(feature_id: int, body: dict[str, Any]) -> Any:
    feature = features.get_feature(actor(), feature_id)
    version = take_version(body)
    fields = only_fields(body, settings_schemas.FEATURE_FIELDS)
    return features.update_feature(actor(), feature, expected_version=version, **fields)


@route("DELETE", "/features/<int:feature_id>", summary="Delete a feature", tag=FEATURES, status=204)
def delete_feature(feature_id: int) -> Any:
    features.delete_feature(actor(), features.get_feature(actor(), feature_id))


# --- profiles ----------------------------------------------------------------------------


@route(
    "GET",
    "/profiles",
    summary="List profiles (global, or an org's)",
    tag=FEATURES,
    query=ProfileQuery,
    response=list[ProfileOut],
)
def list_profiles(query: ProfileQuery) -> Any:
    require_org_admin()
    if query.org_id is not None:
        orgs.get_org(actor(), query.org_id)
    return profiles.list_profiles(query.org_id)


@route(
    "POST",
    "/profiles",
    summary="Create a profile",
    tag=FEATURES,
    body=ProfileCreate,
    response=ProfileOut,
    status=201,
)
def create_profile(body: ProfileCreate) -> Any:
    org = orgs.get_org(actor(), body.org_id) if body.org_id is not None else None
    return profiles.create_profile(actor(), org, body.name, body.description)


def _profile(profile_id: int) -> Profile:
    found = db.session.get(Profile, profile_id)
    if found is None or not may_manage_scope(actor(), found.org_id):
        raise NotFound("That profile does not exist.")
    return found


@route(
    "GET", "/profiles/<int:profile_id>", summary="Read a profile", tag=FEATURES, response=ProfileOut
)
def get_profile(profile_id: int) -> Any:
    return _profile(profile_id)


@route("DELETE", "/profiles/<int:profile_id>", summary="Delete a profile", tag=FEATURES, status=204)
def delete_profile(profile_id: int) -> Any:
    profiles.delete_profile(actor(), _profile(profile_id))


# --- model aliases -----------------------------------------------------------------------


@route("GET", "/aliases", summary="List model aliases", tag=ALIASES, response=list[AliasOut])
def list_aliases() -> Any:
    require_admin()
    return names.list_aliases()


@route(
    "POST",
    "/aliases",
    summary="Create a model alias",
    tag=ALIASES,
    body=AliasCreate,
    response=AliasOut,
    status=201,
)
def create_alias(body: AliasCreate) -> Any:
    alias = names.create_alias(body.name, body.model, body.description or "", actor=require_admin())
    return next(a for a in names.list_aliases() if a.id == alias.id)


@route("DELETE", "/aliases/<int:alias_id>", summary="Delete a model alias", tag=ALIASES, status=204)
def delete_alias(alias_id: int) -> Any:
    names.delete_alias(alias_id, actor=require_admin())


# --- budgets -----------------------------------------------------------------------------


@route(
    "GET",
    "/budgets",
    summary="List one owner's budgets with this period's spend",
    tag=BUDGETS,
    query=BudgetQuery,
    response=list[BudgetStatusOut],
)
def list_budgets(query: BudgetQuery) -> Any:
    """Admins see every owner's; members their own tokens'; org admins their orgs' service
    tokens' (as on the billing and token pages)."""
    owner = budgets.BudgetOwner(query.owner, query.owner_id)
    if not budgets.may_manage(actor(), owner):
        raise NotFound("That owner does not exist.")
    return [
        {
            **BudgetOut.model_validate(status.budget).model_dump(),
            "spent": status.spent,
            "reserved": status.reserved,
            "resets_at": status.resets_at,
        }
        for status in budgets.statuses(owner)
    ]


@route(
    "POST",
    "/budgets",
    summary="Create a budget",
    tag=BUDGETS,
    body=BudgetCreate,
    response=BudgetOut,
    status=201,
)
def create_budget(body: BudgetCreate) -> Any:
    """Admins budget users, orgs and tokens; members their own tokens; org admins their
    orgs' service tokens."""
    data = budgets.BudgetInput(
        period=body.period,
        unit=body.unit,
        amount=str(body.amount),
        hard=body.hard,
        thresholds=body.thresholds,
    )
    return budgets.create_budget(actor(), budgets.BudgetOwner(body.owner, body.owner_id), data)


@route("GET", "/budgets/<int:budget_id>", summary="Read a budget", tag=BUDGETS, response=BudgetOut)
def get_budget(budget_id: int) -> Any:
    return budgets.get_budget(actor(), budget_id)


@route(
    "PATCH",
    "/budgets/<int:budget_id>",
    summary="Update a budget",
    tag=BUDGETS,
    body=BudgetUpdate,
    response=BudgetOut,
)
def update_budget(budget_id: int, body: BudgetUpdate) -> Any:
    budget = budgets.get_budget(actor(), budget_id)
    data = budgets.BudgetInput(
        period=body.period or budget.period,
        unit=body.unit or budget.unit,
        amount=str(body.amount) if body.amount is not None else budget.amount,
        hard=body.hard if body.hard is not None else budget.hard,
        thresholds=body.thresholds if "thresholds" in body.model_fields_set else budget.thresholds,
    )
    return budgets.update_budget(actor(), budget, data, body.version)


@route("DELETE", "/budgets/<int:budget_id>", summary="Delete a budget", tag=BUDGETS, status=204)
def delete_budget(budget_id: int) -> Any:
    budgets.delete_budget(actor(), budgets.get_budget(actor(), budget_id))
