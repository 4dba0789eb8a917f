"""services/config/importing.py: the dry-run plan of an import — what would change, and each
problem at its place in the document — and ``flask config import``."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from tests import factories
from tests.services.config.support import apply, counts, errors, plan, stock
from webapp.extensions import db
from webapp.models import Organization
from webapp.services.config import export as config_export
from webapp.services.config import importing as config_import
from webapp.services.settings.cache import read_version


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
