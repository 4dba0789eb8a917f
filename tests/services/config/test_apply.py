"""services/config/apply.py: an import applied in one transaction, audited — all of it or,
when any record is invalid or the database fails, nothing."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tests import factories
from tests.services.config.support import apply, counts, errors, plan
from webapp.extensions import db
from webapp.models import AuditEvent, CatalogModel, Feature, Organization, Profile, Provider
from webapp.services import changes
from webapp.services.config import export as config_export
from webapp.services.settings import layers as settings
from webapp.services.settings.cache import read_version


def test_apply_creates_and_updates_in_one_transaction(app):
    document = {
        "switchboard_config": 1,
        "providers": [
            {"slug": "openai", "credit_multiplier": "1.5"},
            {"slug": "acme-llm", "display_name": "Acme LLM", "protocol": "openai_compatible",
             "base_url": "https://llm.acme.example/v1", "extra_headers": {"X-Team": "ai"}},
        ],
        "models": [
            {"provider": "acme-llm", "model_id": "acme-1", "category": "fast",
             "input_price": "0.25", "output_price": 1, "supports_tools": True},
            {"provider": "openai", "model_id": "gpt-5.4-mini", "input_price": "0.3"},
        ],
        "settings": {"model": "acme-llm/acme-1", "temperature": 1},
    }  # fmt: skip
    version, events = read_version(), counts()["AuditEvent"]
    result = apply(document)
    assert result.ok and result.applied, result.errors
    assert result.counts() == {
        "create": {"model": 1, "provider": 1},
        "update": {"model": 1, "provider": 1, "settings": 1},
        "unchanged": 0,
    }
    db.session.expire_all()
    provider = factories.provider("acme-llm")
    assert provider.base_url == "https://llm.acme.example/v1" and not provider.is_preset
    assert provider.extra_headers == {"X-Team": "ai"}
    assert factories.provider("openai").credit_multiplier == Decimal("1.5")
    model = factories.model("acme-llm/acme-1")
    assert (model.input_price, model.output_price) == (Decimal("0.25"), Decimal("1"))
    assert model.price_source == "config import"
    assert model.display_name == "acme-1" and model.supports_tools and model.enabled
    assert factories.model("openai/gpt-5.4-mini").input_price == Decimal("0.3")
    pset = settings.parameter_set_for("global")
    assert pset.model_id == model.id and pset.temperature == 1.0
    assert read_version() == version + 1
    assert counts()["AuditEvent"] == events + 6  # five records and the import itself
    summary = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "import"))
    assert summary.target_type == "config" and summary.actor_label == "system"
    assert summary.diff["create"] == {"model": 1, "provider": 1}
    assert plan(document).changes == []


def test_one_invalid_record_at_the_end_writes_nothing(app):
    document = config_export.export_document()
    document["providers"].append({"slug": "newco", "display_name": "NewCo", "protocol": "openai"})
    document["models"][0]["display_name"] = "Renamed"
    document["models"].append({"provider": "newco", "model_id": "m1", "input_price": "-1"})
    before = counts()
    result = apply(document)
    assert not result.applied and not result.ok
    index = len(document["models"]) - 1
    assert list(errors(result)) == [f"models[{index}].input_price"]
    db.session.expire_all()
    assert counts() == before
    assert db.session.scalar(sa.select(Provider).where(Provider.slug == "newco")) is None


def test_a_database_failure_rolls_back_every_change(app, monkeypatch):
    document = {"switchboard_config": 1, "orgs": [{"slug": "beta", "name": "Beta"}]}
    document["providers"] = [{"slug": "openai", "display_name": "Changed"}]

    def fail() -> None:
        raise IntegrityError("UPDATE app_counters", {}, Exception("simulated"))

    monkeypatch.setattr(changes, "bump_settings_version", fail)
    before = counts()
    result = apply(document)
    assert not result.applied and "nothing was changed" in result.errors[0].message
    db.session.expire_all()
    assert counts() == before and factories.provider("openai").display_name == "OpenAI"


def test_defaults_switch_to_the_document_models(app):
    document = {
        "switchboard_config": 1,
        "defaults": {"chat": "anthropic/claude-haiku-4-5", "embedding": "mistral/mistral-embed"},
    }
    assert apply(document).applied
    db.session.expire_all()
    chat = db.session.scalars(sa.select(CatalogModel).where(CatalogModel.is_default_chat)).all()
    embedding = db.session.scalars(
        sa.select(CatalogModel).where(CatalogModel.is_default_embedding)
    ).all()
    assert [m.global_id for m in chat] == ["anthropic/claude-haiku-4-5"]
    assert [m.global_id for m in embedding] == ["mistral/mistral-embed"]


def test_an_org_with_profiles_features_and_settings_is_created(app):
    document = {
        "switchboard_config": 1,
        "providers": [{"slug": "local", "display_name": "Local", "protocol": "openai_compatible",
                       "base_url": "https://local.example/v1"}],
        "models": [{"provider": "local", "model_id": "tiny", "category": "fast"}],
        "orgs": [
            {"slug": "beta", "name": "Beta", "allowed_models": ["local/tiny", "openai/gpt-5.5"],
             "archived": True,
             "settings": {"model": "local/tiny", "max_retries": 1},
             "profiles": [{"name": "quick", "description": "Quick",
                           "settings": {"model": "local/tiny", "temperature": 0.2}}],
             "features": [{"slug": "triage", "name": "Triage", "profile": "quick",
                           "settings": {"fallback_models": ["openai/gpt-5.5"]}},
                          {"slug": "draft", "name": "Draft", "profile": "balanced"}]},
        ],
    }  # fmt: skip
    result = apply(document)
    assert result.applied, result.errors
    db.session.expire_all()
    org = db.session.scalar(sa.select(Organization).where(Organization.slug == "beta"))
    assert org.archived and org.allowed_models == ["local/tiny", "openai/gpt-5.5"]
    tiny = factories.model("local/tiny")
    assert settings.parameter_set_for("org", org.id).model_id == tiny.id
    profile = db.session.scalar(sa.select(Profile).where(Profile.org_id == org.id))
    assert profile.settings.model_id == tiny.id and profile.settings.temperature == 0.2
    features = {f.slug: f for f in db.session.scalars(sa.select(Feature))}
    assert features["triage"].org_id == org.id and features["triage"].profile_name == "quick"
    assert features["triage"].settings.fallback_models == ["openai/gpt-5.5"]
    exported = next(o for o in config_export.export_document()["orgs"] if o["slug"] == "beta")
    assert (
        exported["features"][1]["slug"] == "triage" and exported["profiles"][0]["name"] == "quick"
    )
    assert plan(document).changes == []
