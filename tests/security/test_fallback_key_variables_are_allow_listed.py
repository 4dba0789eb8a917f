"""A provider's fallback key variable (``api_key_env``) can name only a variable the operator
allowed in SWITCHBOARD_PROVIDER_KEY_VARS (default: the presets' own names), so an admin cannot
make Switchboard send AWS_SECRET_ACCESS_KEY or another service's token to a host of their
choosing. The provider form, config import and key resolution all enforce it.

Nor can an allowed variable go anywhere: the fallback key's approval is the pair (variable,
address). A new variable pauses it until an admin confirms "send VARIABLE to HOST" (audited),
and a new provider — by form, API or import — is approved only for a preset's own pair."""

from __future__ import annotations

import html
import json

import pytest
import sqlalchemy as sa

from tests import factories
from webapp.config import ConfigError, load_config
from webapp.extensions import db
from webapp.models import AuditEvent, Provider
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
def test_a_variable_the_operator_allowed_is_accepted_and_used_once_confirmed(
    admin_client, acme_host, member, monkeypatch
):
    response = admin_client.post(
        "/admin/providers", headers=HX, data={**NEW, "api_key_env": "ACME_API_KEY"}
    )
    assert response.status_code == 200
    monkeypatch.setenv("ACME_API_KEY", "sk-acme-env-0001")
    acme = factories.provider("acme-llm")
    with pytest.raises(NotConfigured, match="ACME_API_KEY is paused"):
        resolve_key(member, None, acme)  # not a preset's own pair: an admin confirms it
    confirm = f"/admin/keys/providers/{acme.id}/env-key/confirm"
    assert admin_client.post(confirm, headers=HX).status_code == 200
    db.session.expire_all()
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


# --- The approval is the pair (variable, address) -----------------------------------------
# Changing api_key_env sends another variable's value: it pauses the fallback key like a new
# address does, and a new provider is approved only for a preset's own pair.

OPENAI_SECRET = "sk-openai-env-never-elsewhere-01"
HI = [{"role": "user", "content": "Hi"}]


def _mistral_form(**changes: str) -> dict[str, object]:
    mistral = factories.provider("mistral")
    return {
        "display_name": mistral.display_name,
        "protocol": mistral.protocol,
        "base_url": mistral.base_url or "",
        "api_key_env": mistral.api_key_env or "",
        "credit_multiplier": "1",
        "enabled": "y",
        "version": mistral.version,
        **changes,
    }


@pytest.fixture
def mistral_env_only(wired, admin):  # type: ignore[no-untyped-def]
    """Mistral at the fake upstream with no stored key: only its fallback key can serve."""
    from webapp.services.credentials import storage

    storage.delete_credential(admin, factories.global_key("mistral"))
    return wired


def _env_confirmations() -> list[AuditEvent]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(
                AuditEvent.action == "confirm_origin", AuditEvent.target_type == "provider"
            )
        )
    )


def test_a_new_variable_pauses_the_fallback_key_and_nothing_is_sent(
    mistral_env_only, admin_client, member, monkeypatch
):
    """The audit's case: Mistral's variable becomes OPENAI_API_KEY; the OpenAI key must not
    go to Mistral's address (here the fake upstream) until an admin confirms that pair."""
    monkeypatch.setenv("MISTRAL_API_KEY", "sk-mistral-env-0000000001")
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_SECRET)
    mistral = factories.provider("mistral")
    assert resolve_key(member, None, mistral).secret == "sk-mistral-env-0000000001"
    impact = admin_client.get(
        f"/admin/providers/{mistral.id}/key-impact",
        query_string=_mistral_form(api_key_env="OPENAI_API_KEY"),
        headers=HX,
    )
    assert "Saving pauses the fallback key OPENAI_API_KEY" in impact.get_data(as_text=True)
    response = admin_client.post(
        f"/admin/providers/{mistral.id}",
        data=_mistral_form(api_key_env="OPENAI_API_KEY"),
        headers=HX,
    )
    assert response.status_code == 200 and '"level": "warning"' in response.headers["HX-Trigger"]
    assert "OPENAI_API_KEY has not been confirmed for" in response.headers["HX-Trigger"]
    db.session.expire_all()
    mistral = factories.provider("mistral")
    with pytest.raises(NotConfigured, match="fallback key OPENAI_API_KEY is paused") as excinfo:
        resolve_key(member, None, mistral)
    assert OPENAI_SECRET not in excinfo.value.message
    context = llm.CallContext(user=member)
    with pytest.raises(llm.LLMError, match="paused"):
        llm.complete(HI, context=context, model="mistral/mistral-large-4")
    assert mistral_env_only.requests == []  # nothing at all reached Mistral's address
    assert _env_confirmations() == []


def test_the_keys_page_sends_the_new_variable_only_once_confirmed_and_audited(
    mistral_env_only, admin_client, member, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_SECRET)
    mistral = factories.provider("mistral")
    origin = mistral.env_key_origin
    admin_client.post(
        f"/admin/providers/{mistral.id}",
        data=_mistral_form(api_key_env="OPENAI_API_KEY"),
        headers=HX,
    )
    for url in ("/admin/keys", "/admin/providers"):  # the Keys page and the provider row
        page = " ".join(html.unescape(admin_client.get(url).get_data(as_text=True)).split())
        assert f"has not been confirmed for {mistral_env_only.base_url}" in page
        assert f"Send OPENAI_API_KEY to {mistral_env_only.base_url}" in page
    confirm = f"/admin/keys/providers/{mistral.id}/env-key/confirm"
    stale = admin_client.post(
        confirm, data={"origin": origin, "variable": "MISTRAL_API_KEY"}, headers=HX
    )
    assert (
        stale.status_code == 409
        and "changed again, to OPENAI_API_KEY" in stale.headers["HX-Trigger"]
    )
    response = admin_client.post(
        confirm, data={"origin": origin, "variable": "OPENAI_API_KEY"}, headers=HX
    )
    assert response.status_code == 200
    db.session.expire_all()
    assert resolve_key(member, None, factories.provider("mistral")).secret == OPENAI_SECRET
    (event,) = _env_confirmations()
    assert event.diff == {"env_key_var": {"before": "MISTRAL_API_KEY", "after": "OPENAI_API_KEY"}}
    assert OPENAI_SECRET not in json.dumps(event.diff)
    # Back to the variable approved before: the old pair is not remembered, so it pauses too.
    admin_client.post(
        f"/admin/providers/{mistral.id}",
        data=_mistral_form(api_key_env="MISTRAL_API_KEY"),
        headers=HX,
    )
    db.session.expire_all()
    monkeypatch.setenv("MISTRAL_API_KEY", "sk-mistral-env-0000000001")
    with pytest.raises(NotConfigured, match="MISTRAL_API_KEY is paused"):
        resolve_key(member, None, factories.provider("mistral"))


def _create_by_form(admin, client, data):  # type: ignore[no-untyped-def]
    assert client.post("/admin/providers", headers=HX, data=data).status_code == 200


def _create_by_api(admin, client, data):  # type: ignore[no-untyped-def]
    from tests.gateway.support import make_token

    _, secret = make_token(admin, scope="full")
    body = {k: v for k, v in data.items() if k != "enabled"}
    response = client.post(
        "/api/v1/providers", json=body, headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 201, response.get_json()


def _create_by_import(admin, client, data):  # type: ignore[no-untyped-def]
    item = {k: v for k, v in data.items() if k != "enabled"}
    plan = apply_import(admin, {"switchboard_config": 1, "providers": [item]})
    assert plan.applied, plan.errors


@pytest.mark.parametrize("create", [_create_by_form, _create_by_api, _create_by_import])
def test_a_new_provider_is_approved_only_for_a_presets_own_pair(
    admin_client, admin, member, monkeypatch, create
):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_SECRET)
    elsewhere = {
        **NEW,
        "slug": "grab",
        "base_url": "https://8.8.8.8/v1",
        "api_key_env": "OPENAI_API_KEY",
    }
    create(admin, admin_client, elsewhere)
    grab = factories.provider("grab")
    assert (grab.env_key_var, grab.env_key_origin) == (None, None)
    with pytest.raises(NotConfigured, match="OPENAI_API_KEY is paused") as excinfo:
        resolve_key(member, None, grab)
    assert "8.8.8.8" in excinfo.value.message and OPENAI_SECRET not in excinfo.value.message
    own = {
        **NEW,
        "slug": "openai-two",
        "protocol": "openai",
        "base_url": "",
        "api_key_env": "OPENAI_API_KEY",
    }
    create(admin, admin_client, own)
    assert resolve_key(member, None, factories.provider("openai-two")).secret == OPENAI_SECRET


def test_an_import_that_changes_the_variable_says_it_pauses_the_key(app, admin, monkeypatch):
    from webapp.services.config.importing import plan_import

    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_SECRET)
    document = {
        "switchboard_config": 1,
        "providers": [{"slug": "mistral", "api_key_env": "OPENAI_API_KEY"}],
    }
    (note,) = plan_import(document).notes
    assert note.path == "providers[0].api_key_env"
    assert "OPENAI_API_KEY has not been confirmed for https://api.mistral.ai" in note.message
    assert apply_import(admin, document).applied
    with pytest.raises(NotConfigured, match="OPENAI_API_KEY is paused"):
        resolve_key(None, None, factories.provider("mistral"))
