"""A provider's fallback key variable (``api_key_env``) can name only a variable the operator
allowed in SWITCHBOARD_PROVIDER_KEY_VARS (default: the presets' own names), so an admin cannot
make Switchboard send AWS_SECRET_ACCESS_KEY or another service's token to a host of their
choosing. The provider form, config import and key resolution all enforce it."""

from __future__ import annotations

import html

import pytest
import sqlalchemy as sa

from tests import factories
from webapp.config import ConfigError, load_config
from webapp.extensions import db
from webapp.models import Provider
from webapp.services import llm
from webapp.services.catalog.seed_data import PROVIDERS
from webapp.services.config.apply import apply_import
from webapp.services.credentials.resolution import resolve_key
from webapp.services.errors import NotConfigured

HX = {"HX-Request": "true"}
SETTING = "SWITCHBOARD_PROVIDER_KEY_VARS"
FOREIGN_SECRET = "aws-secret-never-leaves-0001"
NEW = {
    "slug": "acme-llm",
    "display_name": "Acme LLM",
    "protocol": "openai_compatible",
    "base_url": "https://llm.acme.example/v1",
    "credit_multiplier": "1",
    "enabled": "y",
}


@pytest.fixture
def acme_host(app):  # type: ignore[no-untyped-def]
    factories.allowed_host("llm.acme.example:443")  # no DNS in tests


def test_by_default_only_the_presets_own_variables_are_allowed(app):
    presets = {p.api_key_env for p in PROVIDERS if p.api_key_env}
    assert set(app.config["PROVIDER_KEY_VARS"]) == presets
    assert {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GITHUB_TOKEN"} <= presets
    assert "AWS_SECRET_ACCESS_KEY" not in app.config["PROVIDER_KEY_VARS"]


def test_the_operator_sets_the_list_and_mistakes_stop_the_start(tmp_path, monkeypatch):
    monkeypatch.setenv(SETTING, " ACME_API_KEY, OPENAI_API_KEY ,ACME_API_KEY")
    assert load_config(tmp_path, {})["PROVIDER_KEY_VARS"] == ("ACME_API_KEY", "OPENAI_API_KEY")
    monkeypatch.setenv(SETTING, "none")
    assert load_config(tmp_path, {})["PROVIDER_KEY_VARS"] == ()
    for wrong in ("SECRET_KEY", "SWITCHBOARD_ENCRYPTION_KEYS", "PATH", "acme key"):
        monkeypatch.setenv(SETTING, f"OPENAI_API_KEY,{wrong}")
        with pytest.raises(ConfigError, match=f"{SETTING} lists {wrong}"):
            load_config(tmp_path, {})


def test_the_provider_form_refuses_a_variable_the_operator_did_not_allow(admin_client, acme_host):
    response = admin_client.post(
        "/admin/providers", headers=HX, data={**NEW, "api_key_env": "AWS_SECRET_ACCESS_KEY"}
    )
    assert response.status_code == 422
    body = html.unescape(response.get_data(as_text=True))
    assert f"Not allowed: AWS_SECRET_ACCESS_KEY is not listed in {SETTING}" in body
    assert db.session.scalar(sa.select(Provider).where(Provider.slug == "acme-llm")) is None

    openai = factories.provider("openai")
    edit = {
        "display_name": "OpenAI",
        "protocol": "openai",
        "base_url": openai.base_url,
        "api_key_env": "AWS_SECRET_ACCESS_KEY",
        "credit_multiplier": "1",
        "enabled": "y",
        "version": openai.version,
    }
    response = admin_client.post(f"/admin/providers/{openai.id}", headers=HX, data=edit)
    assert response.status_code == 422 and SETTING in response.get_data(as_text=True)
    db.session.expire_all()
    assert factories.provider("openai").api_key_env == "OPENAI_API_KEY"


@pytest.mark.app_config(PROVIDER_KEY_VARS=("ACME_API_KEY",))
def test_a_variable_the_operator_allowed_is_accepted_and_used(
    admin_client, acme_host, member, monkeypatch
):
    response = admin_client.post(
        "/admin/providers", headers=HX, data={**NEW, "api_key_env": "ACME_API_KEY"}
    )
    assert response.status_code == 200
    monkeypatch.setenv("ACME_API_KEY", "sk-acme-env-0001")
    resolved = resolve_key(member, None, factories.provider("acme-llm"))
    assert (resolved.source, resolved.secret) == ("environment", "sk-acme-env-0001")


def test_config_import_refuses_the_same_variables(app, admin):
    document = {
        "switchboard_config": 1,
        "providers": [{"slug": "openai", "api_key_env": "AWS_SECRET_ACCESS_KEY"}],
    }
    plan = apply_import(admin, document)
    assert not plan.applied
    (issue,) = plan.errors
    assert issue.path == "providers[0].api_key_env"
    assert f"not allowed: AWS_SECRET_ACCESS_KEY is not listed in {SETTING}" in issue.message
    db.session.expire_all()
    assert factories.provider("openai").api_key_env == "OPENAI_API_KEY"


def test_a_variable_no_longer_allowed_resolves_no_key(wired, member, monkeypatch):
    """A provider row saved before the operator narrowed the list (or edited in the database)."""
    openai = factories.provider("openai")
    openai.api_key_env = "AWS_SECRET_ACCESS_KEY"
    db.session.delete(factories.global_key("openai"))
    db.session.commit()
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FOREIGN_SECRET)
    with pytest.raises(NotConfigured) as excinfo:
        resolve_key(member, None, openai)
    message = excinfo.value.message
    assert "fallback key variable AWS_SECRET_ACCESS_KEY is no longer allowed" in message
    assert SETTING in message and FOREIGN_SECRET not in message
    with pytest.raises(llm.LLMError, match="no longer allowed"):
        llm.complete([{"role": "user", "content": "Hi"}], context=llm.CallContext(user=member))
    assert wired.requests == []


def test_the_keys_page_says_a_variable_is_not_allowed(admin_client, app):
    openai = factories.provider("openai")
    openai.api_key_env = "AWS_SECRET_ACCESS_KEY"
    db.session.commit()
    body = " ".join(html.unescape(admin_client.get("/admin/keys").get_data(as_text=True)).split())
    shown = '<code>AWS_SECRET_ACCESS_KEY</code>: <span class="badge badge-error">not allowed</span>'
    assert f"Fallback key {shown}" in body and f"not listed in {SETTING}" in body
