"""services/config/export.py: the configuration document — every record, sorted, in YAML or
JSON, never a key — and ``flask config export``; an export imported again changes nothing."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest
import sqlalchemy as sa
import yaml

from tests import factories
from tests.services.config.support import SECRETS, apply, counts, plan, stock
from webapp.extensions import db
from webapp.models import CatalogModel, Profile
from webapp.services.config import export as config_export
from webapp.services.config.document import FORMATS, parse_document
from webapp.services.settings import layers as settings
from webapp.services.settings.cache import read_version


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
    for fmt in FORMATS:
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
    from_yaml = parse_document(config_export.export_text("yaml"))
    from_json = parse_document(config_export.export_text("json"))
    assert from_yaml == from_json == config_export.export_document()
    models = [(m["provider"], m["model_id"]) for m in from_json["models"]]
    assert models == sorted(models)
    prices = [m[k] for m in from_yaml["models"] for k in ("input_price", "output_price")]
    assert all(isinstance(p, str) for p in prices if p is not None)
    assert isinstance(from_yaml["providers"][0]["credit_multiplier"], str)


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_then_import_into_the_same_database_changes_nothing(app, fmt):
    stock()
    result = plan(parse_document(config_export.export_text(fmt)))
    assert result.ok, result.errors
    assert result.changes == [] and result.unchanged > 50
    version = read_version()
    assert apply(config_export.export_document()).applied
    assert read_version() == version  # nothing to write, nothing announced


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


def test_cli_export_prints_json_and_yaml(runner, tmp_path):
    result = runner.invoke(args=["config", "export", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["switchboard_config"] == 1
    target = tmp_path / "config.yaml"
    result = runner.invoke(args=["config", "export", "--output", str(target)])
    assert result.exit_code == 0
    assert yaml.safe_load(target.read_text())["providers"][0]["slug"] == "anthropic"
