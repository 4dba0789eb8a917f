"""Export the configuration (providers, models, settings, profiles, features, orgs) — never
secrets, users, memberships, tokens, usage or audit — in an order that diffs cleanly.

Which fields a record has comes from its schema (``services/<domain>/schemas.py``), the same
one import checks with, so that an export and the import that reads it back cannot drift
apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import (
    CatalogModel,
    Feature,
    Organization,
    ParameterSet,
    Profile,
    Provider,
    SettingsScope,
)
from webapp.services.accounts import recent_sign_in
from webapp.services.accounts.schemas import ORG_FIELDS
from webapp.services.audit.events import jsonable
from webapp.services.catalog.provider_rules import secret_looking_header
from webapp.services.catalog.schemas import MODEL_FIELDS, PROVIDER_FIELDS
from webapp.services.config.document import FORMAT_KEY, FORMAT_VERSION, dump_document
from webapp.services.settings.fields import NAMES
from webapp.services.settings.layers import as_form_values
from webapp.services.settings.schemas import FEATURE_FIELDS, PROFILE_FIELDS

TOP_KEYS = (
    FORMAT_KEY, "providers", "models", "defaults", "settings", "profiles", "features", "orgs",
)  # fmt: skip
PROVIDER_KEYS = ("slug", *PROVIDER_FIELDS)  # the record schemas say which fields there are
MODEL_KEYS = ("provider", "model_id", *MODEL_FIELDS)
# The document names a feature's profile_name "profile".
FEATURE_DOCUMENT_NAMES = {"profile_name": "profile"}
FEATURE_DOCUMENT_FIELDS = tuple(FEATURE_DOCUMENT_NAMES.get(f, f) for f in FEATURE_FIELDS)
PROFILE_KEYS = ("name", *PROFILE_FIELDS, "settings")
FEATURE_KEYS = ("slug", *FEATURE_DOCUMENT_FIELDS, "settings")
ORG_KEYS = ("slug", *ORG_FIELDS, "settings", "profiles", "features")


@dataclass
class Stored:
    """Every exported record, loaded once and keyed the way an import matches them."""

    providers: dict[str, Provider]
    models: dict[tuple[str, str], CatalogModel]  # (provider slug, model id)
    orgs: dict[str, Organization]
    profiles: dict[tuple[str | None, str], Profile]  # (org slug or None, name)
    features: dict[tuple[str | None, str], Feature]  # (org slug or None, slug)
    psets: dict[tuple[str, int | None], ParameterSet]  # (scope, owner id)

    def settings_of(self, scope: str, owner_id: int | None = None) -> dict[str, Any]:
        """All fields of a layer (None = inherit), the model as its global id."""
        pset = self.psets.get((scope, owner_id))
        return as_form_values(pset) if pset is not None else dict.fromkeys(NAMES)

    def defaults(self) -> dict[str, str | None]:
        """The global ids of the default chat and embedding models."""
        result: dict[str, str | None] = {"chat": None, "embedding": None}
        for (slug, model_id), model in self.models.items():
            if model.is_default_chat:
                result["chat"] = f"{slug}/{model_id}"
            if model.is_default_embedding:
                result["embedding"] = f"{slug}/{model_id}"
        return result


def _owner(pset: ParameterSet) -> int | None:
    return pset.org_id or pset.profile_id or pset.feature_id


def load_stored() -> Stored:
    """Read the configuration tables (a handful of queries, no per-row lookups)."""
    providers = {p.slug: p for p in db.session.scalars(sa.select(Provider))}
    models = db.session.scalars(
        sa.select(CatalogModel).options(selectinload(CatalogModel.provider))
    )
    orgs = {o.slug: o for o in db.session.scalars(sa.select(Organization))}
    slug_of: dict[int | None, str] = {o.id: o.slug for o in orgs.values()}
    psets = db.session.scalars(
        sa.select(ParameterSet).where(ParameterSet.scope != SettingsScope.USER)
    )
    return Stored(
        providers=providers,
        models={(m.provider.slug, m.model_id): m for m in models},
        orgs=orgs,
        profiles={
            (slug_of.get(p.org_id), p.name): p for p in db.session.scalars(sa.select(Profile))
        },
        features={
            (slug_of.get(f.org_id), f.slug): f for f in db.session.scalars(sa.select(Feature))
        },
        psets={(p.scope, _owner(p)): p for p in psets},
    )


def provider_record(provider: Provider) -> dict[str, Any]:
    record = {key: getattr(provider, key) for key in PROVIDER_KEYS}
    record["credit_multiplier"] = jsonable(provider.credit_multiplier)
    headers = {
        name: value
        for name, value in sorted((provider.extra_headers or {}).items())
        if not secret_looking_header(name)  # a key put there by hand is still a secret
    }
    record["extra_headers"] = headers or None
    return record


def model_record(model: CatalogModel) -> dict[str, Any]:
    record = {key: jsonable(getattr(model, key)) for key in MODEL_KEYS[1:]}
    record["unsupported_params"] = list(model.unsupported_params or []) or None
    return {"provider": model.provider.slug, **record}


def settings_record(values: dict[str, Any]) -> dict[str, Any]:
    """Only the fields this layer sets, in the field table's order."""
    return {name: values[name] for name in NAMES if values.get(name) is not None}


def profile_fields(profile: Profile) -> dict[str, Any]:
    return {"name": profile.name, **{f: jsonable(getattr(profile, f)) for f in PROFILE_FIELDS}}


def feature_fields(feature: Feature) -> dict[str, Any]:
    values = {FEATURE_DOCUMENT_NAMES.get(f, f): getattr(feature, f) for f in FEATURE_FIELDS}
    values["locked_fields"] = list(feature.locked_fields or []) or None
    return {"slug": feature.slug, **jsonable(values)}


def org_fields(org: Organization) -> dict[str, Any]:
    values = {name: jsonable(getattr(org, name)) for name in ORG_FIELDS}
    values["allowed_models"] = list(org.allowed_models or []) or None
    return {"slug": org.slug, **values}


def _owned(records: dict[tuple[str | None, str], Any], org: str | None) -> list[Any]:
    return [records[key] for key in sorted(k for k in records if k[0] == org)]


def _profiles(stored: Stored, org: Organization | None) -> list[dict[str, Any]]:
    rows = _owned(stored.profiles, org.slug if org else None)
    return [
        {**profile_fields(p), "settings": settings_record(stored.settings_of("profile", p.id))}
        for p in rows
    ]


def _features(stored: Stored, org: Organization | None) -> list[dict[str, Any]]:
    rows = _owned(stored.features, org.slug if org else None)
    return [
        {**feature_fields(f), "settings": settings_record(stored.settings_of("feature", f.id))}
        for f in rows
    ]


def org_record(stored: Stored, org: Organization) -> dict[str, Any]:
    return {
        **org_fields(org),
        "settings": settings_record(stored.settings_of(SettingsScope.ORG, org.id)),
        "profiles": _profiles(stored, org),
        "features": _features(stored, org),
    }


def export_document() -> dict[str, Any]:
    """The whole configuration as plain data, every list sorted by slug or name (a recent
    sign-in in a request: it maps the whole installation)."""
    recent_sign_in.require("Exporting the configuration")
    stored = load_stored()
    return {
        FORMAT_KEY: FORMAT_VERSION,
        "providers": [provider_record(stored.providers[s]) for s in sorted(stored.providers)],
        "models": [model_record(stored.models[k]) for k in sorted(stored.models)],
        "defaults": stored.defaults(),
        "settings": settings_record(stored.settings_of(SettingsScope.GLOBAL)),
        "profiles": _profiles(stored, None),
        "features": _features(stored, None),
        "orgs": [org_record(stored, stored.orgs[s]) for s in sorted(stored.orgs)],
    }


def export_text(fmt: str = "yaml") -> str:
    """The export as YAML or JSON text."""
    return dump_document(export_document(), fmt)
