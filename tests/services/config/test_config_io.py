"""Configuration export and import: the document, the dry-run plan, one-transaction apply."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.exc import IntegrityError

from tests import factories
from webapp.extensions import db
from webapp.models import (
    AuditEvent,
    CatalogModel,
    Feature,
    Organization,
    ParameterSet,
    Profile,
    Provider,
)
from webapp.services import changes
from webapp.services.config import apply as config_apply
from webapp.services.config import document as config_io
from webapp.services.config import export as config_export
from webapp.services.config import importing as config_import
from webapp.services.settings import layers as settings
from webapp.services.settings.cache import read_version

SECRETS = ("sk-cfg-GLOBAL-a1b2c3d4e5", "sk-cfg-ORG-f6a7b8c9d0", "sk-cfg-USER-0a9b8c7d6e")


def public(host: str, port: int) -> list[str]:
    """Resolver stub: every host is a public address (tests never use DNS)."""
    return ["93.184.216.34"]


def stock() -> Organization:
    """An org with settings, a profile and a feature; global settings and a global feature."""
    org = factories.make_org("acme", "Acme Corp")
    org.description = "Our company"
    org.allowed_models = ["anthropic/claude-haiku-4-5", "openai/gpt-5.4-mini", "openai/gpt-5.5"]
    db.session.add(ParameterSet(scope="org", org_id=org.id, temperature=0.5, logging_level="full"))
    profile = Profile(org_id=org.id, name="fast", description="Acme's fast tier")
    profile.settings = ParameterSet(
        scope="profile", model=factories.model("anthropic/claude-haiku-4-5"), max_tokens=800
    )
    feature = Feature(org_id=org.id, slug="summarize", name="Summarize", profile_name="fast")
    feature.settings = ParameterSet(
        scope="feature", stop=["END"], fallback_models=["openai/gpt-5.5"]
    )
    chat = Feature(slug="chat", name="Chat", profile_name="balanced", enabled=False)
    chat.settings = ParameterSet(scope="feature", extra_options={"reasoning": {"effort": "low"}})
    db.session.add_all([profile, feature, chat])
    pset = settings.parameter_set_for("global")
    pset.seed, pset.request_timeout_ms = 42, 30000
    db.session.commit()
    return org


def counts() -> dict[str, int]:
    tables = (Provider, CatalogModel, Organization, Profile, Feature, ParameterSet, AuditEvent)
    return {
        t.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(t)) or 0
        for t in tables
    }


def plan(document: dict[str, Any]) -> config_io.ImportPlan:
    return config_import.plan_import(document, resolver=public)


def apply(document: dict[str, Any]) -> config_io.ImportPlan:
    return config_apply.apply_import(None, document, resolver=public)


def errors(result: config_io.ImportPlan) -> dict[str, str]:
    return {issue.path: issue.message for issue in result.errors}


def test_export_holds_the_seeded_catalog_and_no_secret(app, member):
    org = stock()
    factories.global_key("openai", SECRETS[0])
    factories.org_key(org, "anthropic", SECRETS[1])
    factories.user_key(member, "openai", SECRETS[2])
    document = config_export.export_document()
    assert [p["slug"] for p in document["providers"]][:3] == ["anthropic", "deepseek", "gemini"]
    assert len(document["providers"]) == 10
    assert len(document["models"]) == counts()["CatalogModel"] >= 38
    assert document["defaults"]["chat"] and document["defaults"]["embedding"]
    assert document["orgs"][0]["profiles"][0]["settings"]["model"] == "anthropic/claude-haiku-4-5"
    for fmt in config_io.FORMATS:
        text = config_export.export_text(fmt)
        assert "secret_hint" not in text and "credential" not in text.lower()
        assert "member@example.com" not in text
        for secret in SECRETS:
            assert secret not in text and secret[-4:] not in text and secret[3:-4] not in text


def test_a_key_put_in_extra_headers_by_hand_is_not_exported(app):
    openrouter = factories.provider("openrouter")
    openrouter.extra_headers = {"X-Title": "Switchboard", "Authorization": "Bearer sk-hand-put"}
    db.session.commit()
    text = config_export.export_text("yaml")
    assert "sk-hand-put" not in text and "X-Title: Switchboard" in text
    assert plan(config_export.export_document()).changes == []


def test_yaml_and_json_exports_are_the_same_sorted_document(app):
    stock()
    from_yaml = config_io.parse_document(config_export.export_text("yaml"))
    from_json = config_io.parse_document(config_export.export_text("json"))
    assert from_yaml == from_json == config_export.export_document()
    models = [(m["provider"], m["model_id"]) for m in from_json["models"]]
    assert models == sorted(models)
    prices = [m[k] for m in from_yaml["models"] for k in ("input_price", "output_price")]
    assert all(isinstance(p, str) for p in prices if p is not None)
    assert isinstance(from_yaml["providers"][0]["credit_multiplier"], str)


@pytest.mark.parametrize("fmt", config_io.FORMATS)
def test_export_then_import_into_the_same_database_changes_nothing(app, fmt):
    stock()
    result = plan(config_io.parse_document(config_export.export_text(fmt)))
    assert result.ok, result.errors
    assert result.changes == [] and result.unchanged > 50
    version = read_version()
    assert apply(config_export.export_document()).applied
    assert read_version() == version  # nothing to write, nothing announced


def test_dry_run_writes_nothing(app):
    stock()
    document = config_export.export_document()
    document["providers"][0]["display_name"] = "Anthropic (renamed)"
    document["orgs"].append({"slug": "beta", "name": "Beta"})
    before, version = counts(), read_version()
    result = plan(document)
    assert result.ok and {c.key for c in result.changes} == {"anthropic", "beta"}
    db.session.expire_all()
    assert counts() == before and read_version() == version
    assert factories.provider("anthropic").display_name == "Anthropic"


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


def test_defaults_must_be_known_usable_and_of_the_right_kind(app):
    document = {
        "switchboard_config": 1,
        "defaults": {"chat": "mistral/mistral-embed", "embedding": "openai/gpt-5.5"},
    }
    found = errors(plan(document))
    assert found == {  # set_default's words
        "defaults.chat": "mistral/mistral-embed cannot be the default chat model: "
        "it is a embedding model.",
        "defaults.embedding": "openai/gpt-5.5 cannot be the default embedding model: "
        "it is a powerful model.",
    }
    document["defaults"] = {"chat": "nobody/none", "embedding": "ollama/nomic-embed-text"}
    found = errors(plan(document))
    assert "not in the model catalog" in found["defaults.chat"]
    assert found["defaults.embedding"] == (
        "Enable the model (and its provider) before making it a default."
    )


def test_settings_are_checked_by_the_settings_rules_with_paths(app):
    document = {
        "switchboard_config": 1,
        "settings": {"temperature": 5, "colour": "blue", "fallback_models": ["x/y"]},
        "orgs": [
            {"slug": "acme", "name": "Acme", "settings": {"logging_level": "loud"},
             "profiles": [{"name": "fast", "settings": {"max_tokens": 0, "model": "no/such"}}],
             "features": [{"slug": "sum", "name": "Sum", "profile": "nonexistent"}]},
        ],
    }  # fmt: skip
    found = errors(plan(document))
    assert "between 0 and 2" in found["settings.temperature"]
    assert "Unknown setting" in found["settings.colour"]
    assert "not in the model catalog" in found["settings.fallback_models"]
    assert "orgs[0].settings.logging_level" in found
    assert "orgs[0].profiles[0].settings.max_tokens" in found
    assert "orgs[0].profiles[0].settings.model" in found
    assert "no profile named" in found["orgs[0].features[0].profile"]


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


def test_export_imported_into_a_changed_database_recreates_the_export(app):
    org = stock()
    original = config_export.export_document()
    db.session.delete(factories.provider("gemini"))  # its models go with it
    db.session.delete(org)  # and its settings, profiles and features
    db.session.delete(db.session.scalar(sa.select(Profile).where(Profile.name == "powerful")))
    factories.provider("openai").display_name = "Open AI"
    factories.model("anthropic/claude-haiku-4-5").input_price = Decimal("9.5")
    for model in db.session.scalars(sa.select(CatalogModel).where(CatalogModel.is_default_chat)):
        model.is_default_chat = False
    db.session.flush()
    factories.model("anthropic/claude-haiku-4-5").is_default_chat = True
    settings.parameter_set_for("global").seed = 7
    db.session.commit()
    result = apply(copy.deepcopy(original))
    assert result.applied, result.errors
    db.session.expire_all()
    assert config_export.export_document() == original


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("providers: [\n  - slug", "Not valid YAML"),
        ('{"switchboard_config": 1,', "Not valid JSON"),
        ("a: &x [1]\nb: *x\n", "aliases"),
        ("switchboard_config: 1\nblob: !!binary aGk=\n", "bytes"),
        ("[" * 5000 + "]" * 5000, "nested"),
        ('{"switchboard_config": 1, "settings": {"seed": NaN}}', "NaN and infinity"),
        ("settings: {temperature: .inf}", "NaN and infinity"),
        ('{"name": "a\\u0000b"}', "NUL"),
    ],
)
def test_unreadable_documents_get_a_clear_error(app, text, fragment):
    with pytest.raises(config_io.DocumentError) as caught:
        config_io.parse_document(text)
    assert fragment in caught.value.errors["document"]


def test_oversized_documents_are_refused():
    big = b"#" * (config_io.MAX_DOCUMENT_BYTES + 1)
    with pytest.raises(config_io.DocumentError, match="larger than 2 MB"):
        config_io.parse_document(big)


def test_yaml_dates_stay_text(app):
    data = config_io.parse_document("switchboard_config: 1\nnote: 2024-01-01\n")
    assert data["note"] == "2024-01-01"


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ([], "switchboard_config"),
        ({"switchboard_config": 2}, "switchboard_config"),
        ({"switchboard_config": True}, "switchboard_config"),
        ({"switchboard_config": 1, "providers": "openai"}, "providers"),
        ({"switchboard_config": 1, "users": []}, "users"),
        ({"switchboard_config": 1, "models": ["x"]}, "models[0]"),
        ({"switchboard_config": 1, "providers": [{"slug": "openai", "enabled": "yes"}]},
         "providers[0].enabled"),
        ({"switchboard_config": 1, "providers": [{"slug": "Bad Slug"}]}, "providers[0].slug"),
        ({"switchboard_config": 1, "providers": [{"slug": "openai", "credit_multiplier": -1}]},
         "providers[0].credit_multiplier"),
        ({"switchboard_config": 1, "providers": [{"slug": "openai", "protocol": "grpc"}]},
         "providers[0].protocol"),
        ({"switchboard_config": 1, "providers": [{"slug": "openai", "credit_multiplier": "5000"}]},
         "providers[0].credit_multiplier"),
        ({"switchboard_config": 1, "providers": [{"slug": "openai", "api_key_env": "my key"}]},
         "providers[0].api_key_env"),
        ({"switchboard_config": 1,
          "providers": [{"slug": "openai", "extra_headers": {"Authorization": "Bearer sk-x"}}]},
         "providers[0].extra_headers"),
        ({"switchboard_config": 1, "providers": [{"slug": "new", "display_name": "New"}]},
         "providers[0].protocol"),
        ({"switchboard_config": 1, "models": [{"provider": "openai", "model_id": "gpt-5.5",
                                               "output_price": "0.0000001"}]},
         "models[0].output_price"),
        ({"switchboard_config": 1, "models": [{"provider": "nobody", "model_id": "m"}]},
         "models[0].provider"),
        ({"switchboard_config": 1, "models": [{"provider": "openai", "model_id": "gpt-5.5",
                                               "context_window": 1.5}]},
         "models[0].context_window"),
        ({"switchboard_config": 1, "orgs": [{"slug": "x", "name": "X"}, {"slug": "x"}]},
         "orgs[1]"),
        ({"switchboard_config": 1, "orgs": [{"slug": "x", "allowed_models": ["no/pe"]}]},
         "orgs[0].allowed_models"),
    ],
)  # fmt: skip
def test_wrong_documents_are_refused_with_a_path(app, document, path):
    result = plan(document)
    assert path in errors(result), result.errors
    assert not apply(document).applied


def test_base_urls_pass_the_ssrf_guard_unless_the_host_is_allowed(app):
    provider = {"slug": "box", "display_name": "Box", "protocol": "openai_compatible"}
    document = {"switchboard_config": 1, "providers": [provider]}
    assert "needs a base URL" in errors(plan(document))["providers[0].base_url"]
    provider["base_url"] = "http://127.0.0.1:8080/v1"
    found = errors(config_import.plan_import(document))
    assert "loopback" in found["providers[0].base_url"]
    factories.allowed_host("127.0.0.1:8080")
    assert config_import.plan_import(document).ok
    # Unchanged stored URLs are not re-checked: the seeded Ollama preset stays importable.
    assert plan(config_export.export_document()).ok


def test_cli_export_prints_json_and_yaml(runner, tmp_path):
    result = runner.invoke(args=["config", "export", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["switchboard_config"] == 1
    target = tmp_path / "config.yaml"
    result = runner.invoke(args=["config", "export", "--output", str(target)])
    assert result.exit_code == 0
    assert yaml.safe_load(target.read_text())["providers"][0]["slug"] == "anthropic"


def test_cli_import_is_a_dry_run_until_apply(runner, tmp_path):
    document = config_export.export_document()
    document["orgs"] = [{"slug": "cli-org", "name": "From the CLI"}]
    source = tmp_path / "config.json"
    source.write_text(json.dumps(document))
    result = runner.invoke(args=["config", "import", str(source)])
    assert result.exit_code == 0, result.output
    assert "Dry run" in result.stdout and "create organization cli-org" in result.stdout
    assert 'name: — -> "From the CLI"' in result.stdout and "left alone" in result.stdout
    assert db.session.scalar(sa.select(Organization)) is None
    result = runner.invoke(args=["config", "import", str(source), "--apply"])
    assert result.exit_code == 0 and "Imported: 1 created, 0 updated" in result.stdout
    assert db.session.scalar(sa.select(Organization.name)) == "From the CLI"


def test_cli_import_of_a_bad_document_exits_1(runner, tmp_path):
    source = tmp_path / "bad.yaml"
    source.write_text("switchboard_config: 1\nproviders:\n  - slug: openai\n    enabled: maybe\n")
    result = runner.invoke(args=["config", "import", str(source), "--apply"])
    assert result.exit_code == 1
    assert "providers[0].enabled: must be true or false" in result.stderr
    source.write_text("{not json")
    result = runner.invoke(args=["config", "import", str(source), "--format", "json"])
    assert result.exit_code == 1 and "Not valid JSON" in result.stderr
