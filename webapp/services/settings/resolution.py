"""Effective settings for a call, merged field by field with the source of every value.

Lowest first: built-in defaults → global → organization → feature's profile → feature →
user preference → per-call overrides. Layers are cached per process (see settings_cache);
merging them is a few dictionary lookups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import Feature, Organization, ParameterSet, Profile
from webapp.services.catalog import snapshot as catalog_snapshot
from webapp.services.catalog.snapshot import ModelInfo
from webapp.services.errors import NotConfigured, ValidationError
from webapp.services.settings import values as settings_values
from webapp.services.settings.cache import settings_cache
from webapp.services.settings.fields import BY_NAME, COLUMN, FIELDS

LAYERS = ("default", "global", "org", "profile", "feature", "user", "call")


@dataclass(frozen=True)
class Source:
    """Where a value came from: the layer, and the record an admin would edit."""

    layer: str
    record_type: str | None = None
    record_id: int | None = None
    label: str = ""
    org_id: int | None = None  # the org whose page edits this record, if any
    user_id: int | None = None


@dataclass(frozen=True)
class Layer:
    source: Source
    values: dict[str, Any]  # only the fields this layer sets


@dataclass
class EffectiveSettings:
    values: dict[str, Any]
    sources: dict[str, Source]
    model: ModelInfo
    fallbacks: list[ModelInfo]
    org_id: int | None = None
    feature_id: int | None = None
    clamped: list[str] = field(default_factory=list)
    locked: frozenset[str] = frozenset()  # fields the feature locks against users and calls
    ignored: list[str] = field(default_factory=list)  # overrides a lock set aside
    system_prompt: str | None = None  # the feature's, put before every call's messages

    def get(self, name: str) -> Any:
        return self.values[name]

    @property
    def dropped(self) -> list[str]:
        """Settings with a value that the effective model rejects: they are not sent."""
        rejected = self.model.rejected_params
        return [
            n
            for n in catalog_snapshot.CALL_PARAMS
            if self.values.get(n) is not None and n in rejected
        ]


def _values_of(pset: ParameterSet | None) -> dict[str, Any]:
    if pset is None:
        return {}
    values = {}
    for spec in FIELDS:
        value = getattr(pset, COLUMN.get(spec.name, spec.name))
        if value is not None:
            values[spec.name] = value
    return values


def _pset(**owner: Any) -> ParameterSet | None:
    column, value = next(iter(owner.items()))
    return db.session.scalar(sa.select(ParameterSet).where(getattr(ParameterSet, column) == value))


def _global_layer() -> Layer:
    pset = db.session.scalar(sa.select(ParameterSet).where(ParameterSet.scope == "global"))
    return Layer(
        Source("global", "parameter_set", pset.id if pset else None, "Global defaults"),
        _values_of(pset),
    )


@dataclass(frozen=True)
class OrgPolicy:
    """What the cache keeps of an organization (never the ORM object itself)."""

    name: str
    archived: bool
    allowed_models: list[str] | None
    default_profile: str | None = None


@dataclass(frozen=True)
class FeatureRules:
    """What the cache keeps of a feature besides its settings."""

    id: int
    enabled: bool
    profile: Layer | None
    layer: Layer
    locked: frozenset[str]
    system_prompt: str | None


def _org_layer(org_id: int) -> tuple[Layer, OrgPolicy | None]:
    org = db.session.get(Organization, org_id)
    if org is None:
        return Layer(Source("org"), {}), None
    pset = _pset(org_id=org_id)
    policy = OrgPolicy(
        org.name,
        org.archived,
        list(org.allowed_models) if org.allowed_models else None,
        org.default_profile or None,
    )
    return Layer(
        Source(
            "org",
            "parameter_set",
            pset.id if pset else None,
            f"Organization {org.name}",
            org_id=org_id,
        ),
        _values_of(pset),
    ), policy


def _profile_layer(org_id: int | None, name: str) -> Layer | None:
    """The org's own profile of that name, else the global one."""
    query = sa.select(Profile).where(Profile.name == name)
    profile = None
    if org_id is not None:
        profile = db.session.scalar(query.where(Profile.org_id == org_id))
    profile = profile or db.session.scalar(query.where(Profile.org_id.is_(None)))
    if profile is None:
        return None
    owner = "org" if profile.org_id else "global"
    return Layer(
        Source(
            "profile", "profile", profile.id, f"Profile {name} ({owner})", org_id=profile.org_id
        ),
        _values_of(profile.settings),
    )


def _feature_layers(org_id: int | None, slug: str) -> FeatureRules:
    query = sa.select(Feature).where(Feature.slug == slug)
    feature = None
    if org_id is not None:
        feature = db.session.scalar(query.where(Feature.org_id == org_id))
    feature = feature or db.session.scalar(query.where(Feature.org_id.is_(None)))
    if feature is None:
        raise NotConfigured(f"There is no feature {slug!r}.")
    profile = _profile_layer(org_id, feature.profile_name) if feature.profile_name else None
    layer = Layer(
        Source("feature", "feature", feature.id, f"Feature {feature.name}", org_id=feature.org_id),
        _values_of(feature.settings),
    )
    return FeatureRules(
        feature.id,
        feature.enabled,
        profile,
        layer,
        frozenset(feature.locked_fields or ()),
        (feature.system_prompt or "").strip() or None,
    )


def _user_layer(user_id: int) -> Layer:
    pset = _pset(user_id=user_id)
    return Layer(
        Source(
            "user", "parameter_set", pset.id if pset else None, "User preference", user_id=user_id
        ),
        _values_of(pset),
    )


def _defaults_layer() -> Layer:
    values = {f.name: f.default for f in FIELDS if f.default is not None}
    default = catalog_snapshot.default_model("chat")
    if default is not None:
        values["model"] = default.id
    return Layer(Source("default", None, None, "Built-in default"), values)


def clamp_overrides(overrides: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Per-call overrides: numbers clamped into SPEC's ranges, then every field validated by
    the same rules as stored settings (reserved extra options, list limits, usable models)."""
    clean: dict[str, Any] = {}
    clamped: list[str] = []
    for name, value in overrides.items():
        spec = BY_NAME.get(name)
        if spec is None or not spec.call_override:
            raise ValidationError({name: f"{name!r} cannot be set on a single call."})
        if value is None:
            continue
        if spec.kind in ("float", "int"):
            number = settings_values.check_number(spec, value)
            assert spec.low is not None and spec.high is not None  # every numeric field has both
            value = min(max(number, spec.low), spec.high)
            if value != number:
                clamped.append(name)
        clean[name] = settings_values.clean_value(name, value)
    return clean, clamped


def _allowed(model_id: int, allowed: list[str] | None) -> bool:
    info = catalog_snapshot.model_by_id(model_id)
    return allowed is None or (info is not None and info.global_id in allowed)


def _check_model(info: ModelInfo | None, source: Source, allowed: list[str] | None) -> ModelInfo:
    where = f"(set by {source.label})"
    if info is None:
        raise NotConfigured(f"The model {where} is no longer in the catalog.")
    if not info.provider_enabled:
        raise NotConfigured(
            f"{info.provider_name} is disabled, so {info.global_id} {where} cannot be used."
        )
    if not info.enabled:
        raise NotConfigured(f"The model {info.global_id} {where} is disabled.")
    if allowed is not None and info.global_id not in allowed:
        raise NotConfigured(
            f"{info.global_id} {where} is not among the models your organization allows."
        )
    return info


def resolve(
    *,
    user_id: int | None = None,
    org_id: int | None = None,
    feature: str | None = None,
    overrides: dict[str, Any] | None = None,
    unsaved: dict[str, Any] | None = None,
    below: str | None = None,
) -> EffectiveSettings:
    """Merge every layer for this user × org × feature, then apply the call's overrides.

    ``unsaved`` replaces the global layer's values with a form's, to preview a change.
    ``below`` ("global", "org", "profile" or "feature") keeps only the layers under that one:
    what a field left empty in that layer inherits, and from where (for the editors).
    """
    cache = settings_cache()
    global_layer = cache.get(("global",), _global_layer)
    if unsaved is not None:
        global_layer = Layer(
            Source(
                "global",
                global_layer.source.record_type,
                global_layer.source.record_id,
                "Global defaults (not saved)",
            ),
            {k: v for k, v in unsaved.items() if v is not None},
        )
    layers = [cache.get(("defaults",), _defaults_layer), global_layer]
    allowed, default_profile = None, None
    if org_id is not None:
        org_layer, policy = cache.get(("org", org_id), lambda: _org_layer(org_id))
        if policy is None:
            raise NotConfigured("That organization does not exist.")
        if policy.archived:
            raise NotConfigured(f"The organization {policy.name} is archived.")
        allowed, default_profile = policy.allowed_models, policy.default_profile
        layers.append(org_layer)
    rules = None
    if feature:
        rules = cache.get(("feature", org_id, feature), lambda: _feature_layers(org_id, feature))
        if not rules.enabled:
            raise NotConfigured(f"The feature {feature!r} is disabled.")
    # The feature's profile, else the org's default profile, when either names one.
    profile = rules.profile if rules and rules.profile else None
    if profile is None and default_profile:
        profile = cache.get(
            ("profile", org_id, default_profile), lambda: _profile_layer(org_id, default_profile)
        )
    layers += [layer for layer in (profile, rules.layer if rules else None) if layer]
    locked = rules.locked if rules else frozenset()
    if below is not None:
        cut = next((i for i, x in enumerate(layers) if x.source.layer == below), len(layers))
        layers = layers[:cut]
    if user_id is not None:
        layers.append(cache.get(("user", user_id), lambda: _user_layer(user_id)))
    clamped: list[str] = []
    if overrides:
        call_values, clamped = clamp_overrides(overrides)
        layers.append(Layer(Source("call", None, None, "This call"), call_values))

    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    ignored: list[str] = []
    for layer in layers:
        above_feature = layer.source.layer in ("user", "call")
        for name, value in layer.values.items():
            if name == "model" and layer.source.layer == "user" and not _allowed(value, allowed):
                continue  # a preference the org no longer allows: the org's choice applies
            if above_feature and name in locked:
                if layer.source.layer == "call":
                    ignored.append(name)
                continue  # the feature locked it: users and calls cannot change it
            values[name] = value
            sources[name] = layer.source
    for spec in FIELDS:
        values.setdefault(spec.name, None)
        sources.setdefault(spec.name, Source("default", None, None, "Built-in default"))
    if values["model"] is None:
        raise NotConfigured("No model is configured and the catalog has no default chat model.")
    model = _check_model(catalog_snapshot.model_by_id(values["model"]), sources["model"], allowed)
    fallbacks = []
    for global_id in values["fallback_models"] or []:
        info = catalog_snapshot.model_by_global_id(global_id)
        if info is not None and info.usable and (allowed is None or global_id in allowed):
            fallbacks.append(info)
    return EffectiveSettings(
        values,
        sources,
        model,
        fallbacks,
        org_id,
        rules.id if rules else None,
        clamped,
        locked,
        ignored,
        rules.system_prompt if rules else None,
    )
