"""Config import refuses what the editors refuse, in the same words (issue 9 item 1).

Each case asks the service an editor (or the API) calls to save a value, takes the message
it refuses with, then imports the same value and expects that message at the value's place
in the document. The settings cases are derived from the settings field table, on every
layer a document can hold; the other records' cases are a table per record kind. A record
kind added to the document without cases here fails ``test_every_record_kind_has_cases``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from tests import factories
from webapp.extensions import db
from webapp.models import CatalogModel, Feature, Organization, Profile, Provider, User
from webapp.services.accounts import orgs
from webapp.services.catalog import editing, providers
from webapp.services.config import export as config_export
from webapp.services.config import importing as config_import
from webapp.services.errors import ValidationError
from webapp.services.settings import features, layers, profiles
from webapp.services.settings.fields import FIELDS, FieldSpec
from webapp.services.settings.values import MAX_FALLBACKS, MAX_STOP

ALLOWED = "openai/gpt-5.4-mini"
NOT_ALLOWED = "anthropic/claude-haiku-4-5"


@dataclass
class World:
    admin: User
    acme: Organization
    tier: Profile  # acme's profile
    acme_feature: Feature
    feature: Feature  # a global feature

    def pset(self, layer: str) -> Any:
        owner = {
            "global": None,
            "profile": _global_profile().id,
            "feature": self.feature.id,
            "org": self.acme.id,
            "org profile": self.tier.id,
            "org feature": self.acme_feature.id,
        }[layer]
        scope = layer.split()[-1]
        return layers.parameter_set_for(scope, owner)


@pytest.fixture
def world(app, admin) -> World:  # type: ignore[no-untyped-def]
    acme = orgs.create_org(admin, "acme", "Acme")
    tier = profiles.create_profile(admin, acme, "tier")
    acme_feature = features.create_feature(admin, acme, "acme-sum", "Summarize")
    feature = features.create_feature(admin, None, "sum", "Summarize")
    return World(admin, acme, tier, acme_feature, feature)


def _global_profile() -> Profile:
    return db.session.scalar(sa.select(Profile).where(Profile.org_id.is_(None)))


def _disabled_model() -> str:
    """A chat model an editor cannot choose: its provider is disabled."""
    model = db.session.scalar(
        sa.select(CatalogModel)
        .join(Provider)
        .where(Provider.enabled.is_(False), CatalogModel.category != "embedding")
    )
    return model.global_id


def _default(kind: str) -> CatalogModel:
    column = CatalogModel.is_default_chat if kind == "chat" else CatalogModel.is_default_embedding
    return db.session.scalar(sa.select(CatalogModel).where(column))


def refused(call: Callable[[], Any], field: str) -> str:
    """What the editor's service says at ``field`` when refusing; nothing is kept."""
    with pytest.raises(ValidationError) as caught:
        call()
    db.session.rollback()
    assert field in caught.value.errors, caught.value.errors
    return caught.value.errors[field]


def imported(document: dict[str, Any]) -> dict[str, str]:
    # The editors' resolver too (no case names a host that needs DNS).
    plan = config_import.plan_import({"switchboard_config": 1, **document})
    return {issue.path: issue.message for issue in plan.errors}


def same_words(found: dict[str, str], path: str, message: str) -> None:
    assert path in found, f"the import accepted what the editor refused ({message}): {found}"
    assert found[path][:1].lower() + found[path][1:] == message[:1].lower() + message[1:]


# --- settings: every field's refusals, derived from the field table, on every layer -------


def bad_values(spec: FieldSpec) -> list[Any]:
    """Values the field's rules refuse, by the field's kind."""
    if spec.kind in ("float", "int"):
        assert spec.high is not None
        values: list[Any] = [spec.high * 2 + 1, "many", True]
        return values + ([1.5] if spec.kind == "int" else [])
    return {
        "bool": ["yes", 1],
        "choice": ["nope"],
        "strings": [["x"] * (MAX_STOP + 1), [""], 5],
        "models": [
            ["no/such"],
            ["openai/gpt-5.5", "openai/gpt-5.5"],
            ["openai/gpt-5.5"] * (MAX_FALLBACKS + 1),
            "openai/gpt-5.5",
        ],
        "model": ["no/such", "DISABLED"],
        "json": [[1], {"model": "x"}, {"n": 10**400}],
    }[spec.kind]


SETTINGS_CASES = [(spec.name, value) for spec in FIELDS for value in bad_values(spec)] + [
    ("colour", "blue")
]

# layer -> (the document holding one of its settings, the path of a setting there)
LAYERS: dict[str, tuple[Callable[[dict[str, Any]], dict[str, Any]], str]] = {
    "global": (lambda s: {"settings": s}, "settings"),
    "profile": (
        lambda s: {"profiles": [{"name": _global_profile().name, "settings": s}]},
        "profiles[0].settings",
    ),
    "feature": (lambda s: {"features": [{"slug": "sum", "settings": s}]}, "features[0].settings"),
    "org": (lambda s: {"orgs": [{"slug": "acme", "settings": s}]}, "orgs[0].settings"),
    "org profile": (
        lambda s: {"orgs": [{"slug": "acme", "profiles": [{"name": "tier", "settings": s}]}]},
        "orgs[0].profiles[0].settings",
    ),
    "org feature": (
        lambda s: {"orgs": [{"slug": "acme", "features": [{"slug": "acme-sum", "settings": s}]}]},
        "orgs[0].features[0].settings",
    ),
}


@pytest.mark.parametrize("layer", sorted(LAYERS))
@pytest.mark.parametrize(("name", "value"), SETTINGS_CASES, ids=repr)
def test_a_setting_the_editor_refuses_is_refused_by_import(world, layer, name, value):
    value = _disabled_model() if value == "DISABLED" else value
    message = refused(
        lambda: layers.update_settings(world.admin, world.pset(layer), {name: value}), name
    )
    document, path = LAYERS[layer]
    same_words(imported(document({name: value})), f"{path}.{name}", message)


def test_a_value_equal_to_the_stored_one_only_in_python_is_still_checked(world):
    """``true`` is not the stored temperature 1.0, though Python finds them equal."""
    layers.update_settings(world.admin, world.pset("global"), {"temperature": 1})
    message = refused(
        lambda: layers.update_settings(world.admin, world.pset("global"), {"temperature": True}),
        "temperature",
    )
    same_words(imported({"settings": {"temperature": True}}), "settings.temperature", message)


# --- an organization's allowed models, on its own layer and its profiles' and features' --

ORG_LAYERS = ("org", "org profile", "org feature")
OUTSIDE = [("model", NOT_ALLOWED), ("fallback_models", [ALLOWED, NOT_ALLOWED])]


@pytest.mark.parametrize("layer", ORG_LAYERS)
@pytest.mark.parametrize(("name", "value"), OUTSIDE)
def test_a_model_the_org_does_not_allow_is_refused_by_import(world, layer, name, value):
    """The issue's example: an org allowing one model, settings naming another."""
    orgs.update_org(world.admin, world.acme, expected_version=None, allowed_models=[ALLOWED])
    message = refused(
        lambda: layers.update_settings(world.admin, world.pset(layer), {name: value}), name
    )
    assert message == f"Acme does not allow {NOT_ALLOWED}."
    document, path = LAYERS[layer]
    same_words(imported(document({name: value})), f"{path}.{name}", message)


@pytest.mark.parametrize("layer", ORG_LAYERS)
@pytest.mark.parametrize(("name", "value"), OUTSIDE)
def test_an_org_the_document_restricts_is_held_to_its_new_list(world, layer, name, value):
    """The allowed models and the settings in one document: the list after the import
    applies, for an org the document creates as for one it changes."""
    orgs.update_org(world.admin, world.acme, expected_version=None, allowed_models=[ALLOWED])
    message = refused(
        lambda: layers.update_settings(world.admin, world.pset(layer), {name: value}), name
    )
    orgs.update_org(world.admin, world.acme, expected_version=None, allowed_models=[])
    document, path = LAYERS[layer]
    changed = document({name: value})
    changed["orgs"][0]["allowed_models"] = [ALLOWED]
    same_words(imported(changed), f"{path}.{name}", message)
    created = document({name: value})
    created["orgs"][0].update(slug="acme-new", name="Acme", allowed_models=[ALLOWED])
    for record in created["orgs"][0].get("profiles", []) + created["orgs"][0].get("features", []):
        record.setdefault("name", "Summarize")
    same_words(imported(created), f"{path}.{name}", message)


# --- the other records: the editor's service refuses, the import says the same -----------


@dataclass(frozen=True)
class Case:
    kind: str  # the document's section
    editor: Callable[[World], Any]  # the save an editor makes
    field: str  # where the editor puts its message
    document: Callable[[World], dict[str, Any]]
    path: str  # where the import puts it


def _model_update(global_id: str, **data: Any) -> Callable[[World], Any]:
    def save(w: World) -> Any:
        return editing.update_model(w.admin, factories.model(global_id), data, None)

    return save


def _provider_update(slug: str, **data: Any) -> Callable[[World], Any]:
    def save(w: World) -> Any:
        row = factories.provider(slug)
        current = {"display_name": row.display_name, "protocol": row.protocol}
        return providers.update_provider(w.admin, row, {**current, **data}, None)

    return save


NEW_PROVIDER = {"slug": "newco", "display_name": "NewCo", "protocol": "openai"}

CASES = [
    # providers: a new one and a stored one
    *(
        Case(
            "providers",
            lambda w, d=d: providers.create_provider(w.admin, {**NEW_PROVIDER, **d}),
            field,
            lambda w, d=d: {"providers": [{**NEW_PROVIDER, **d}]},
            f"providers[0].{field}",
        )
        for field, d in [
            ("protocol", {"protocol": "smtp"}),
            ("display_name", {"display_name": ""}),
            ("credit_multiplier", {"credit_multiplier": "-1"}),
            ("base_url", {"protocol": "openai_compatible"}),
            ("base_url", {"base_url": "https://10.0.0.5/v1"}),
            ("extra_headers", {"extra_headers": {"Bad Header": "x"}}),
            ("api_key_env", {"api_key_env": "not a name"}),
        ]
    ),
    Case(
        "providers",
        _provider_update("openai", default_model="no-such-model"),
        "default_model",
        lambda w: {"providers": [{"slug": "openai", "default_model": "no-such-model"}]},
        "providers[0].default_model",
    ),
    # models: a new one and stored ones
    Case(
        "models",
        lambda w: editing.create_model(
            w.admin,
            {"provider": "openai", "model_id": "m-1", "display_name": "M", "input_price": "-1"},
        ),
        "input_price",
        lambda w: {"models": [{"provider": "openai", "model_id": "m-1", "input_price": "-1"}]},
        "models[0].input_price",
    ),
    *(
        Case(
            "models",
            _model_update("openai/gpt-5.5", **{field: value}),
            field,
            lambda w, f=field, v=value: {
                "models": [{"provider": "openai", "model_id": "gpt-5.5", f: v}]
            },
            f"models[0].{field}",
        )
        for field, value in [
            ("context_window", 2_000_000_000),
            ("unsupported_params", ["bogus"]),
            ("category", "huge"),
            ("display_name", ""),
        ]
    ),
    # defaults: set_default's rules, and a default that must stay a default-able model
    Case(
        "defaults",
        lambda w: editing.set_default(w.admin, factories.model("mistral/mistral-embed"), "chat"),
        "kind",
        lambda w: {"defaults": {"chat": "mistral/mistral-embed"}},
        "defaults.chat",
    ),
    Case(
        "defaults",
        lambda w: editing.set_default(w.admin, factories.model("openai/gpt-5.5"), "embedding"),
        "kind",
        lambda w: {"defaults": {"embedding": "openai/gpt-5.5"}},
        "defaults.embedding",
    ),
    Case(
        "defaults",
        lambda w: editing.set_default(w.admin, factories.model(_disabled_model()), "chat"),
        "kind",
        lambda w: {"defaults": {"chat": _disabled_model()}},
        "defaults.chat",
    ),
    *(
        Case(
            "models",
            lambda w, kind=kind, d=d: editing.update_model(w.admin, _default(kind), d, None),
            field,
            lambda w, kind=kind, d=d: {
                "models": [
                    {
                        "provider": _default(kind).provider.slug,
                        "model_id": _default(kind).model_id,
                        **d,
                    }
                ]
            },
            f"models[0].{field}",
        )
        for kind, field, d in [
            ("chat", "enabled", {"enabled": False}),
            ("embedding", "enabled", {"enabled": False}),
            ("chat", "category", {"category": "embedding"}),
            ("embedding", "category", {"category": "fast"}),
        ]
    ),
    # organizations
    *(
        Case(
            "orgs",
            lambda w, f=field, v=value: orgs.update_org(
                w.admin, w.acme, expected_version=None, **{f: v}
            ),
            field,
            lambda w, f=field, v=value: {"orgs": [{"slug": "acme", f: v}]},
            f"orgs[0].{field}",
        )
        for field, value in [
            ("name", ""),
            ("allowed_models", ["no/such"]),
            ("default_profile", "no-such-profile"),
            ("members_pay", "yes"),
        ]
    ),
    # profiles
    Case(
        "profiles",
        lambda w: profiles.create_profile(w.admin, None, "quick", "x" * 10_001),
        "description",
        lambda w: {"profiles": [{"name": "quick", "description": "x" * 10_001}]},
        "profiles[0].description",
    ),
    Case(
        "profiles",
        lambda w: profiles.create_profile(w.admin, w.acme, "quick", "x" * 10_001),
        "description",
        lambda w: {
            "orgs": [{"slug": "acme", "profiles": [{"name": "quick", "description": "x" * 10_001}]}]
        },
        "orgs[0].profiles[0].description",
    ),
    # features: new ones and stored ones, global and an org's
    *(
        Case(
            "features",
            lambda w, f=field, v=value: features.update_feature(
                w.admin, w.feature, expected_version=None, **{f: v}
            ),
            field,
            lambda w, k=key, v=value: {"features": [{"slug": "sum", k: v}]},
            f"features[0].{key}",
        )
        for field, key, value in [
            ("name", "name", ""),
            ("locked_fields", "locked_fields", ["colour"]),
            ("profile_name", "profile", "no-such-profile"),
            ("enabled", "enabled", "yes"),
            ("system_prompt", "system_prompt", "x" * 100_000),
        ]
    ),
    Case(
        "features",
        lambda w: features.create_feature(w.admin, w.acme, "new", "New", profile_name="nope"),
        "profile_name",
        lambda w: {
            "orgs": [
                {"slug": "acme", "features": [{"slug": "new", "name": "New", "profile": "nope"}]}
            ]
        },
        "orgs[0].features[0].profile",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.kind}:{c.path}")
def test_a_record_the_editor_refuses_is_refused_by_import(world, case):
    message = refused(lambda: case.editor(world), case.field)
    same_words(imported(case.document(world)), case.path, message)


def test_every_record_kind_has_cases():
    """Each kind of record a document holds has cases above: the settings layers (derived),
    and the records. Aliases and budgets are not part of a configuration document."""
    sections = set(config_export.TOP_KEYS) - {"switchboard_config"}
    covered = {c.kind for c in CASES} | {"settings"}
    assert sections == covered
    nested = set(config_export.ORG_KEYS) & {"settings", "profiles", "features"}
    assert {f"org {k.removesuffix('s')}" for k in nested} - {"org setting"} <= set(LAYERS)
    assert {"org", "org profile", "org feature"} <= set(LAYERS)
