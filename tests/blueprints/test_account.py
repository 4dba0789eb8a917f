"""/account: managed or BYOK mode, and personal keys for every enabled provider."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests import factories
from tests.conftest import login
from webapp.extensions import db
from webapp.models import AuditEvent, Credential, Provider, User
from webapp.services.credentials import storage as credentials

HX = {"HX-Request": "true"}
SECRET = "sk-settings-SECRET-9zQx"


def add(client, provider: Provider, secret: str = SECRET, headers=HX, **fields):  # type: ignore[no-untyped-def]
    data = {f"add-{provider.id}-{k}": v for k, v in {"secret": secret, **fields}.items()}
    return client.post(f"/account/providers/{provider.id}/keys", data=data, headers=headers)


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Credential)) or 0


def test_a_row_for_every_enabled_provider_from_the_registry(member_client):
    body = member_client.get("/account").get_data(as_text=True)
    enabled = db.session.scalars(sa.select(Provider).where(Provider.enabled)).all()
    for provider in enabled:
        assert f'id="keys-{provider.slug}"' in body
    assert 'id="keys-lmstudio"' not in body  # disabled presets are not offered


def test_a_new_provider_appears_without_code_changes(member_client):
    db.session.add(
        Provider(
            slug="acme-llm",
            display_name="Acme LLM",
            protocol="openai_compatible",
            base_url="https://llm.acme.example/v1",
            enabled=True,
        )
    )
    factories.provider("openai").enabled = False
    db.session.commit()
    body = member_client.get("/account").get_data(as_text=True)
    assert 'id="keys-acme-llm"' in body and 'id="keys-openai"' not in body


def test_switch_mode_with_htmx(member_client, member):
    response = member_client.post("/account/mode", data={"mode": "byok"}, headers=HX)
    assert response.status_code == 200
    assert response.get_data(as_text=True).lstrip().startswith('<form id="mode-form"')
    assert "bring-your-own-key" in response.headers["HX-Trigger"]
    db.session.refresh(member)
    assert member.mode == "byok"
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.target_type == "user", AuditEvent.action == "update")
    )
    assert event.diff == {"mode": {"before": "managed", "after": "byok"}}


def test_switch_mode_without_javascript_redirects(member_client, member):
    response = member_client.post("/account/mode", data={"mode": "byok"})
    assert response.status_code == 303 and response.headers["Location"] == "/account"


def test_bad_mode_is_422_and_changes_nothing(member_client, member):
    response = member_client.post("/account/mode", data={"mode": "free-for-all"}, headers=HX)
    assert response.status_code == 422
    assert "field-error" in response.get_data(as_text=True)
    db.session.refresh(member)
    assert member.mode == "managed"


def test_add_a_key_inline(member_client, member):
    openai = factories.provider("openai")
    response = add(member_client, openai, label="work")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="keys-openai"')
    assert "•••• set (…9zQx)" in body and SECRET not in body
    assert "saved for OpenAI" in response.headers["HX-Trigger"]
    (key,) = credentials.list_credentials(credentials.user_owner(member.id))
    assert credentials.decrypt_secret(key) == SECRET and key.label == "work"


def test_add_a_key_without_javascript(member_client):
    response = add(member_client, factories.provider("openai"), headers={})
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert "•••• set (…9zQx)" in member_client.get("/account").get_data(as_text=True)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"secret": "short"}, "at least 8 characters"),
        ({"secret": ""}, "at least 8 characters"),
        ({"expires_on": "not-a-date"}, "Not a valid date"),
        ({"expires_on": "2001-01-01"}, "in the past"),
        ({"label": "x" * 150}, "Field cannot be longer than 100 characters."),
    ],
)
def test_bad_key_input_is_422_at_the_field_and_saves_nothing(member_client, fields, message):
    provider = factories.provider("openai")
    data = {"secret": SECRET, **fields}
    response = add(
        member_client,
        provider,
        **{k: v for k, v in data.items() if k != "secret"},
        secret=data["secret"],
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in body and "field-error" in body
    assert SECRET not in body  # a typed key is never echoed back
    assert _count() == 0


def test_private_base_url_is_refused_with_the_reason(member_client):
    gemini = factories.provider("gemini")
    response = add(member_client, gemini, base_url="http://169.254.169.254/latest")
    assert response.status_code == 422
    assert "cloud metadata address" in response.get_data(as_text=True)
    assert _count() == 0


def test_base_url_field_only_for_openai_compatible_providers(member_client):
    body = member_client.get("/account").get_data(as_text=True)
    openai_panel = body.split('id="keys-openai"')[1].split("</section>")[0]
    gemini_panel = body.split('id="keys-gemini"')[1].split("</section>")[0]
    assert "base_url" not in openai_panel and "base_url" in gemini_panel


def test_edit_with_empty_key_keeps_it_then_replace_then_remove(member_client, member):
    key = factories.user_key(member, "openai", SECRET)
    editor = member_client.get(f"/account/providers/{key.provider_id}?edit={key.id}", headers=HX)
    assert editor.status_code == 200 and f"edit-{key.id}-secret" in editor.get_data(as_text=True)
    prefix = f"edit-{key.id}-"
    response = member_client.post(
        f"/account/keys/{key.id}",
        headers=HX,
        data={prefix + "label": "renamed", prefix + "secret": "", prefix + "version": key.version},
    )
    assert response.status_code == 200
    db.session.refresh(key)
    assert key.label == "renamed" and credentials.decrypt_secret(key) == SECRET
    response = member_client.post(
        f"/account/keys/{key.id}",
        headers=HX,
        data={
            prefix + "label": "renamed",
            prefix + "secret": "sk-new-longer-key-AAAA",
            prefix + "version": key.version,
        },
    )
    assert "•••• set (…AAAA)" in response.get_data(as_text=True)
    response = member_client.post(f"/account/keys/{key.id}/delete", headers=HX)
    assert response.status_code == 200 and "No key stored." in response.get_data(as_text=True)
    assert _count() == 0


def test_stale_edit_gets_a_conflict_with_current_values(member_client, member):
    key = factories.user_key(member, "openai", SECRET)
    stale = key.version
    credentials.update_credential(
        member, key, credentials.CredentialInput(label="from-another-tab"), None
    )
    prefix = f"edit-{key.id}-"
    response = member_client.post(
        f"/account/keys/{key.id}",
        headers=HX,
        data={prefix + "label": "mine", prefix + "version": stale},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 409 and "Someone else changed this key" in body
    assert 'value="mine"' in body  # what was typed stays, the saved label beside it
    assert "Saved meanwhile by someone else: <code>from-another-tab</code>" in body
    assert "<code>(empty)</code>" not in body  # the secret is never compared or shown
    db.session.refresh(key)
    assert key.label == "from-another-tab"


def test_another_users_keys_are_404_on_every_route(app, member):
    other = factories.make_user("other@example.com")
    key = factories.user_key(other, "openai", SECRET)
    client = login(app.test_client(), member.email)
    prefix = f"edit-{key.id}-"
    for method, url, data in [
        ("GET", f"/account/providers/{key.provider_id}?edit={key.id}", None),
        (
            "POST",
            f"/account/keys/{key.id}",
            {prefix + "label": "x", prefix + "secret": "sk-hijack-1234"},
        ),
        ("POST", f"/account/keys/{key.id}/delete", {}),
    ]:
        for headers in ({}, HX):
            response = client.open(url, method=method, data=data, headers=headers)
            assert response.status_code == 404, (method, url, response.status_code)
            assert SECRET not in response.get_data(as_text=True)
    db.session.refresh(key)
    assert key.label == "default" and credentials.decrypt_secret(key) == SECRET


def test_admin_cannot_reach_personal_keys_of_others(admin_client, member):
    key = factories.user_key(member, "openai", SECRET)
    assert admin_client.post(f"/account/keys/{key.id}/delete").status_code == 404


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_key_forms_require_the_csrf_token(app, member):
    client = login_with_csrf(app, member)
    provider = factories.provider("openai")
    response = add(client, provider)
    assert response.status_code == 400
    assert _count() == 0
    page = client.get("/account").get_data(as_text=True)
    token = page.split('"X-CSRFToken": "')[1].split('"')[0]
    response = add(client, provider, headers={**HX, "X-CSRFToken": token})
    assert response.status_code == 200 and _count() == 1


def login_with_csrf(app, user: User):  # type: ignore[no-untyped-def]
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post(
        "/login", data={"email": user.email, "password": factories.PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303
    return client


def test_old_settings_urls_redirect_to_account(member_client) -> None:  # type: ignore[no-untyped-def]
    response = member_client.get("/settings?x=1")
    assert response.status_code == 308 and response.headers["Location"] == "/account?x=1"
    response = member_client.post("/settings/mode", data={"mode": "byok"})
    assert response.status_code == 308 and response.headers["Location"] == "/account/mode"
