"""One schema per record: the forms, the services, config import and export and the seed all
validate through the same definition, so a rule holds (or changes) everywhere at once."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
import sqlalchemy as sa
from pydantic import field_validator

from tests import factories
from webapp.extensions import db
from webapp.models import CatalogModel, Feature, Organization, SeedRecord
from webapp.services.accounts import orgs
from webapp.services.accounts.schemas import OrgRecord
from webapp.services.catalog import editing, schemas, seed
from webapp.services.config import apply as config_apply
from webapp.services.config import export as config_export
from webapp.services.config import importing as config_import
from webapp.services.credentials import storage as credentials
from webapp.services.errors import NotFound, PermissionDenied, ValidationError
from webapp.services.settings import features, profiles

HX = {"HX-Request": "true"}
NEW_MODEL = schemas.NewModel  # as defined, before a test adds a rule


def public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


def import_errors(document: dict) -> dict[str, str]:
    plan = config_import.plan_import(document, resolver=public)
    return {issue.path: issue.message for issue in plan.errors}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("unsupported_params", ["bogus"], "unknown settings: bogus."),
        ("context_window", 2_000_000_000, "must be a whole number from 1 to 100,000,000"),
        ("cache_write_price", "-0.5", "must be a number from 0 to 999,999."),
        ("allow_unpriced", "yes", "must be true or false."),
    ],
)
def test_an_import_the_model_editor_would_refuse_is_refused_at_the_field(
    app, field, value, message
):
    """The issue's example: an import could store a model the admin UI refused to save."""
    model = {"provider": "openai", "model_id": "gpt-5.5", field: value}
    document = {"switchboard_config": 1, "models": [model]}
    found = import_errors(document)
    assert found[f"models[0].{field}"].startswith(message), found
    result = config_apply.apply_import(None, document, resolver=public)
    assert not result.applied
    with pytest.raises(ValidationError) as caught:  # and the editor says the same
        editing.check_model({"display_name": "x", field: value}, factories.model("openai/gpt-5.5"))
    assert caught.value.errors[field].lower().startswith(message)


def test_a_new_model_in_an_import_is_checked_like_one_added_by_hand(app):
    bad_id = {"provider": "openai", "model_id": "m 1"}
    bad_params = {"provider": "openai", "model_id": "m-2", "unsupported_params": ["warp"]}
    found = import_errors({"switchboard_config": 1, "models": [bad_id, bad_params]})
    assert "no spaces" in found["models[0].model_id"]
    assert "unknown settings: warp" in found["models[1].unsupported_params"]


class _NoBeta(schemas.ModelRecord):
    @field_validator("display_name")
    @classmethod
    def no_beta(cls, value: str) -> str:
        if "beta" in value.lower():
            raise ValueError("Beta models are not allowed here.")
        return value


class _NewNoBeta(_NoBeta, schemas.NewModel):
    pass


@pytest.fixture
def no_beta_rule(monkeypatch):  # type: ignore[no-untyped-def]
    """A rule added to the model schema, nowhere else."""
    monkeypatch.setattr(schemas, "ModelRecord", _NoBeta)
    monkeypatch.setattr(schemas, "NewModel", _NewNoBeta)


def test_a_rule_added_to_the_schema_holds_in_the_editor(app, admin_client, no_beta_rule):
    m = factories.model("mistral/mistral-large-4")
    data = {"display_name": "Large (beta)", "category": m.category, "version": str(m.version)}
    response = admin_client.post(f"/admin/models/{m.id}", headers=HX, data=data)
    assert response.status_code == 422
    assert "Beta models are not allowed here." in response.get_data(as_text=True)
    new = {"provider": "openai", "model_id": "x-1", "display_name": "X beta", "category": "fast"}
    response = admin_client.post("/admin/models/new", headers=HX, data=new)
    assert response.status_code == 422 and "Beta models are not allowed" in response.text


def test_a_rule_added_to_the_schema_holds_in_config_import(app, no_beta_rule):
    document = {
        "switchboard_config": 1,
        "models": [
            {"provider": "openai", "model_id": "gpt-5.5", "display_name": "GPT beta"},
            {"provider": "openai", "model_id": "new-1", "display_name": "New beta"},
        ],
    }
    found = import_errors(document)
    assert found["models[0].display_name"] == "beta models are not allowed here."
    assert found["models[1].display_name"] == "beta models are not allowed here."


def test_a_rule_added_to_the_schema_holds_in_the_seed(app, no_beta_rule, monkeypatch):
    preset = next(p for p in seed.MODELS if p.provider == "openai")
    key = f"{preset.provider}/{preset.model_id}"
    db.session.delete(factories.model(key))
    db.session.execute(sa.delete(SeedRecord).where(SeedRecord.key == key))
    db.session.commit()
    monkeypatch.setattr(
        seed, "MODELS", [p if p is not preset else preset.__class__(
            **{**preset.__dict__, "display_name": "Seeded beta"})for p in seed.MODELS]
    )  # fmt: skip
    assert key not in seed.seed_all().models  # refused by the schema's new rule
    db.session.execute(sa.delete(SeedRecord).where(SeedRecord.key == key))
    db.session.commit()
    monkeypatch.setattr(schemas, "NewModel", NEW_MODEL)  # the rule removed
    assert seed.seed_all().models == [key]


def test_export_produces_what_import_accepts_with_every_schema_field(app, admin):
    org = factories.make_org("acme", "Acme")
    profiles.create_profile(admin, org, "quick", "Quick")
    feature = features.create_feature(
        admin,
        org,
        "triage",
        "Triage",
        locked_fields=["temperature", "model"],
        system_prompt="Answer in French.",
    )
    orgs.update_org(
        admin, org, default_profile="quick", members_pay=True, expected_version=org.version
    )
    m = factories.model("openai/gpt-5.5")
    m.cache_write_price, m.allow_unpriced = Decimal("1.875"), True
    db.session.commit()
    original = config_export.export_document()
    exported_org = next(o for o in original["orgs"] if o["slug"] == "acme")
    assert exported_org["default_profile"] == "quick" and exported_org["members_pay"] is True
    assert exported_org["features"][0]["locked_fields"] == ["model", "temperature"]
    assert exported_org["features"][0]["system_prompt"] == "Answer in French."
    gpt = next(x for x in original["models"] if x["model_id"] == "gpt-5.5")
    assert gpt["cache_write_price"] == "1.875" and gpt["allow_unpriced"] is True
    assert set(schemas.ModelRecord.model_fields) <= set(gpt)  # the schema says what is exported
    assert set(OrgRecord.model_fields) <= set(exported_org)
    assert config_import.plan_import(copy.deepcopy(original), resolver=public).changes == []
    # Undo the lot, import the export: the same export again.
    feature = db.session.get(Feature, feature.id)
    feature.locked_fields, feature.system_prompt = None, None
    org.default_profile, org.members_pay = None, False
    m.cache_write_price, m.allow_unpriced = None, False
    db.session.commit()
    result = config_apply.apply_import(None, copy.deepcopy(original), resolver=public)
    assert result.applied, result.errors
    db.session.expire_all()
    assert config_export.export_document() == original


def test_services_check_permissions_for_update_and_delete(app, admin, member):
    org = factories.make_org("acme", "Acme")
    key = factories.org_key(org, "openai", "sk-org-key-perm-0001")
    data = credentials.CredentialInput(label="renamed")
    with pytest.raises(NotFound):
        credentials.update_credential(member, key, data, None)
    with pytest.raises(NotFound):
        credentials.delete_credential(member, key)
    feature = features.create_feature(admin, None, "summarize", "Summarize")
    with pytest.raises(PermissionDenied):
        features.update_feature(member, feature, name="Mine", expected_version=None)
    with pytest.raises(PermissionDenied):
        features.delete_feature(member, feature)
    with pytest.raises(PermissionDenied):
        orgs.update_org(member, org, name="Mine", expected_version=None)
    with pytest.raises(PermissionDenied):
        editing.update_model(member, factories.model("openai/gpt-5.5"), {}, None)
    db.session.rollback()
    assert db.session.get(Feature, feature.id).name == "Summarize"
    assert db.session.get(CatalogModel, factories.model("openai/gpt-5.5").id).enabled


def test_features_and_orgs_in_an_import_are_checked_by_their_services(app):
    document = {
        "switchboard_config": 1,
        "features": [{"slug": "chat", "name": "Chat", "locked_fields": ["bogus"]}],
        "orgs": [
            {"slug": "beta", "name": "Beta", "default_profile": "nope", "members_pay": "yes",
             "profiles": [{"name": "quick"}],
             "features": [{"slug": "t", "name": "T", "system_prompt": "x" * 20_001}]},
            {"slug": "gamma", "name": "Gamma", "default_profile": "quick"},
        ],
    }  # fmt: skip
    found = import_errors(document)
    assert found["features[0].locked_fields"] == "unknown settings: bogus."
    assert "no profile named 'nope'" in found["orgs[0].default_profile"]
    assert found["orgs[0].members_pay"] == "must be true or false."
    assert found["orgs[0].features[0].system_prompt"] == "at most 20,000 characters."
    assert "no profile named 'quick'" in found["orgs[1].default_profile"]  # beta's, not gamma's
    document["orgs"][0].update(default_profile="quick", members_pay=True)
    document["orgs"][0]["features"][0]["system_prompt"] = "Be kind."
    document["features"][0]["locked_fields"] = ["seed", "model"]
    document["orgs"].pop()
    result = config_apply.apply_import(None, document, resolver=public)
    assert result.applied, result.errors
    beta = db.session.scalar(sa.select(Organization).order_by(Organization.id))
    assert beta.default_profile == "quick" and beta.members_pay
    chat = db.session.scalar(sa.select(Feature).where(Feature.slug == "chat"))
    assert chat.locked_fields == ["model", "seed"]
