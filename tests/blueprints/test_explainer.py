"""/admin/effective: every field's value and source with a link to edit it, and the key source."""

from __future__ import annotations

from tests import factories
from webapp.extensions import db
from webapp.models import Feature
from webapp.services.settings import layers as settings_service

HX = {"HX-Request": "true"}


def test_explainer_shows_each_value_with_its_layer_and_edit_link(admin_client, member, monkeypatch):
    org = factories.make_org("acme", "Acme")
    factories.add_member(org, member)
    settings_service.update_settings(
        None, settings_service.parameter_set_for("global"), {"max_retries": 4}
    )
    settings_service.update_settings(
        None, settings_service.parameter_set_for("org", org.id), {"temperature": 0.2}
    )
    item = Feature(slug="summarize", name="Summarize", profile_name="balanced")
    db.session.add(item)
    db.session.commit()
    settings_service.update_settings(
        None, settings_service.parameter_set_for("feature", item.id), {"max_tokens": 777}
    )
    settings_service.update_settings(
        member, settings_service.parameter_set_for("user", member.id), {"seed": 9}
    )
    factories.org_key(org, "anthropic", "sk-ant-acme-SECRET-1")
    body = admin_client.get(
        f"/admin/effective?user_id={member.id}&org_id={org.id}&feature=summarize"
    ).get_data(as_text=True)
    rows = {
        name: body.split(f'id="effective-{name}"')[1].split("</tr>")[0]
        for name in ("model", "temperature", "max_tokens", "max_retries", "seed", "top_p")
    }
    assert "anthropic/claude-sonnet-5-5" in rows["model"] and "profile" in rows["model"]
    assert "/admin/features/profiles/" in rows["model"]
    assert (
        "0.2" in rows["temperature"] and f"/admin/orgs/{org.id}?tab=settings" in rows["temperature"]
    )
    assert "777" in rows["max_tokens"] and f"/admin/features/{item.id}" in rows["max_tokens"]
    assert "4" in rows["max_retries"] and "/admin/defaults" in rows["max_retries"]
    assert "9" in rows["seed"] and "user" in rows["seed"]
    assert "built-in" in rows["top_p"]
    keys = body.split('id="explainer-keys"')[1]
    assert "org" in keys and "“default”" in keys
    assert "sk-ant-acme" not in body and "SECRET" not in body


def test_explainer_says_why_a_call_would_fail(admin_client, member):
    factories.provider("openai").enabled = False
    db.session.commit()
    from webapp.services.settings.cache import settings_cache

    settings_cache().clear()
    body = admin_client.get(f"/admin/effective?user_id={member.id}").get_data(as_text=True)
    assert "would fail" in body and "OpenAI is disabled" in body


def test_explainer_reports_a_missing_key(admin_client, member, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    body = admin_client.get(f"/admin/effective?user_id={member.id}", headers=HX).get_data(
        as_text=True
    )
    assert body.lstrip().startswith('<section id="explainer-result"')
    assert "not configured" in body and "OPENAI_API_KEY" in body


def test_bad_explainer_input_is_422(admin_client):
    assert admin_client.get("/admin/effective?user_id=999999").status_code == 422
    assert admin_client.get("/admin/effective?feature=nope").status_code == 422


def test_explainer_says_which_settings_the_model_will_not_receive(admin_client, member):
    settings_service.update_settings(
        None,
        settings_service.parameter_set_for("global"),
        {"temperature": 0.4, "model": "anthropic/claude-haiku-4-5"},
    )
    body = admin_client.get(f"/admin/effective?user_id={member.id}").get_data(as_text=True)
    row = body.split('id="effective-temperature"')[1].split("</tr>")[0]
    assert "0.4" in row and "not sent to this model" in row
    max_tokens = body.split('id="effective-max_tokens"')[1].split("</tr>")[0]
    assert "not sent" not in max_tokens


def _locking_feature(member):  # type: ignore[no-untyped-def]
    """A feature that locks the temperature at 0.2 and carries a system prompt, and a user
    who prefers another temperature."""
    item = Feature(
        slug="summarize",
        name="Summarize",
        locked_fields=["temperature"],
        system_prompt="Answer in one <b>sentence</b>.",
    )
    db.session.add(item)
    db.session.commit()
    settings_service.update_settings(
        None, settings_service.parameter_set_for("feature", item.id), {"temperature": 0.2}
    )
    settings_service.update_settings(
        member, settings_service.parameter_set_for("user", member.id), {"temperature": 1.5}
    )
    return item


def test_explainer_shows_what_the_feature_locks_and_its_system_prompt(admin_client, member):
    item = _locking_feature(member)
    body = admin_client.get(
        f"/admin/effective?user_id={member.id}&feature=summarize", headers=HX
    ).get_data(as_text=True)
    row = body.split('id="effective-temperature"')[1].split("</tr>")[0]
    assert "0.2" in row and "locked by the feature" in row and "1.5" not in row
    assert f"/admin/features/{item.id}" in row  # the source: the feature, with its edit link
    other = body.split('id="effective-top_p"')[1].split("</tr>")[0]
    assert "locked by the feature" not in other
    prompt = body.split('id="effective-system-prompt"')[1].split("</tr>")[0]
    assert "Answer in one &lt;b&gt;sentence&lt;/b&gt;." in prompt and "feature" in prompt


def test_the_api_explains_locks_sources_and_the_system_prompt(app, admin, member):
    from tests.api.conftest import token_for

    _locking_feature(member)
    found = (
        token_for(app, admin)
        .get("settings/effective", query_string={"user_id": member.id, "feature": "summarize"})
        .get_json()
    )
    assert found["locked"] == ["temperature"] and found["values"]["temperature"] == 0.2
    assert found["sources"]["temperature"]["layer"] == "feature"
    assert found["system_prompt"] == "Answer in one <b>sentence</b>."
