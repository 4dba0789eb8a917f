"""The pages around a moved address: the provider editor says before saving how many keys a
new base URL pauses, the provider row and the Keys page show what was paused with the admins'
confirmation ("Send the existing keys to NEW-HOST"), org admins confirm their organization's
keys on its page, and members see on /account why their key is paused and resume it."""

from __future__ import annotations

import html

import pytest
import sqlalchemy as sa

from tests import factories
from tests.conftest import login
from webapp.extensions import db
from webapp.models import AuditEvent, Credential, Mode
from webapp.services.credentials.origins import origin_of
from webapp.services.credentials.resolution import (
    NotConfigured,
    key_from_credential,
    resolve_key,
)

HX = {"HX-Request": "true"}
NEW_URL, NEW_HOST = "https://llm.elsewhere.example/v1", "https://llm.elsewhere.example"
NEW_ORIGIN = "https://llm.elsewhere.example:443"
ENV_KEY = "sk-env-origin-0003"


@pytest.fixture
def keys(wired, admin, member, monkeypatch):  # type: ignore[no-untyped-def]
    """A global, an org and a personal OpenAI key, and OPENAI_API_KEY, all following OpenAI."""
    factories.allowed_host("llm.elsewhere.example:443")  # no DNS in tests
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    org = factories.make_org("acme")
    factories.add_member(org, member)
    org_key = factories.org_key(org, "openai", "sk-org-origin-0001")
    user_key = factories.user_key(member, "openai", "sk-user-origin-0002")
    return org, org_key, user_key


def text(response) -> str:  # type: ignore[no-untyped-def]
    """The body as a reader sees it: entities decoded, runs of whitespace as one space."""
    return " ".join(html.unescape(response.get_data(as_text=True)).split())


def move_openai(client) -> None:  # type: ignore[no-untyped-def]
    openai = factories.provider("openai")
    data = {
        "display_name": "OpenAI",
        "protocol": "openai",
        "base_url": NEW_URL,
        "api_key_env": "OPENAI_API_KEY",
        "credit_multiplier": "1",
        "enabled": "y",
        "version": openai.version,
    }
    response = client.post(f"/admin/providers/{openai.id}", headers=HX, data=data)
    assert response.status_code == 200
    assert '"level": "warning"' in response.headers["HX-Trigger"]
    assert "are paused until confirmed" in response.headers["HX-Trigger"]


def test_the_provider_editor_counts_the_keys_a_new_address_would_pause(
    keys, admin_client, member_client
):
    openai = factories.provider("openai")
    editor = text(admin_client.get(f"/admin/providers/{openai.id}/edit", headers=HX))
    assert 'id="provider-openai-impact"' in editor
    assert (
        "Keys sent to this address today: 1 global key, 1 organization key, 1 personal key "
        "and the fallback key OPENAI_API_KEY" in editor
    )
    preview = f"/admin/providers/{openai.id}/key-impact"
    answer = text(
        admin_client.get(
            preview, headers=HX, query_string={"base_url": NEW_URL, "protocol": "openai"}
        )
    )
    assert answer.startswith('<p id="provider-openai-impact"')
    assert (
        "Saving pauses 1 global key, 1 organization key, 1 personal key and the fallback key "
        f"OPENAI_API_KEY</strong>: they would now be sent to {NEW_HOST}" in answer
    )
    same = text(
        admin_client.get(
            preview, headers=HX, query_string={"base_url": openai.base_url, "protocol": "openai"}
        )
    )
    assert "Saving pauses" not in same
    assert member_client.get(preview, headers=HX).status_code == 403


def test_a_rejected_save_shows_the_count_next_to_the_errors(keys, admin_client):
    openai = factories.provider("openai")
    data = {"display_name": "", "protocol": "openai", "base_url": NEW_URL, "version": "1"}
    response = admin_client.post(f"/admin/providers/{openai.id}", headers=HX, data=data)
    assert response.status_code == 422
    assert "Saving pauses 1 global key" in text(response)


def test_admins_see_paused_keys_and_send_the_global_and_fallback_keys_on(
    keys, admin_client, member
):
    org, org_key, _ = keys
    move_openai(admin_client)
    openai = factories.provider("openai")
    row = text(admin_client.get("/admin/providers"))
    assert (
        "Paused until confirmed:</strong> 1 global key, 1 organization key, 1 personal key and the "
        f"fallback key OPENAI_API_KEY — OpenAI's address changed to {NEW_HOST}" in row
    )
    assert f"Send the existing keys to {NEW_HOST}" in row
    panel = text(admin_client.get("/admin/keys"))
    assert f"paused: OpenAI's address changed to {NEW_HOST}; re-enter the key or confirm." in panel
    assert 'id="keys-openai-env"' in panel and f"Send the existing key to {NEW_HOST}" in panel

    confirm = f"/admin/providers/{openai.id}/keys/confirm"
    stale = admin_client.post(confirm, headers=HX, data={"origin": "https://stale.example:443"})
    assert stale.status_code == 409 and "changed again" in stale.headers["HX-Trigger"]
    db.session.expire_all()
    with pytest.raises(NotConfigured):
        resolve_key(None, None, factories.provider("openai"))

    done = admin_client.post(confirm, headers=HX, data={"origin": NEW_ORIGIN})
    assert done.status_code == 200 and "2 keys are now sent to" in done.headers["HX-Trigger"]
    body = text(done)
    assert "Paused until confirmed:</strong> 1 organization key and 1 personal key" in body
    assert "Send the existing keys" not in body  # the rest is for org admins and the member
    db.session.expire_all()
    assert resolve_key(None, None, factories.provider("openai")).source == "global"
    # The org's call skips its paused key for the confirmed global one; the org key stays paused.
    assert resolve_key(member, org, factories.provider("openai")).source == "global"
    with pytest.raises(NotConfigured, match="organization OpenAI key"):
        key_from_credential(db.session.get(Credential, org_key.id))
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "confirm_origin")
    ).all()
    assert sorted(e.target_type for e in events) == ["credential", "provider"]


def test_the_fallback_key_is_confirmed_on_the_keys_page(keys, admin_client):
    move_openai(admin_client)
    openai = factories.provider("openai")
    response = admin_client.post(
        f"/admin/keys/providers/{openai.id}/env-key/confirm",
        headers=HX,
        data={"origin": NEW_ORIGIN},
    )
    assert response.status_code == 200
    assert f"OPENAI_API_KEY will now be sent to {NEW_HOST}" in response.headers["HX-Trigger"]
    db.session.expire_all()
    assert factories.provider("openai").env_key_origin == NEW_ORIGIN


def test_org_admins_see_and_confirm_their_organizations_keys(keys, app, admin_client, member):
    org, org_key, _ = keys
    move_openai(admin_client)
    boss = factories.make_user("boss@example.com")
    factories.add_member(org, boss, "org_admin")
    boss_client = login(app.test_client(), boss.email)
    page = text(boss_client.get(f"/admin/orgs/{org.id}?tab=keys"))
    assert f"paused: OpenAI's address changed to {NEW_HOST}; re-enter the key or confirm." in page
    confirm = f"/admin/orgs/{org.id}/keys/{org_key.id}/confirm"
    member_client = login(app.test_client(), member.email)
    assert member_client.post(confirm, data={"origin": NEW_ORIGIN}).status_code in (403, 404)
    response = boss_client.post(confirm, headers=HX, data={"origin": NEW_ORIGIN})
    assert response.status_code == 200 and "paused" not in text(response).split("<form")[0]
    db.session.expire_all()
    assert resolve_key(member, org, factories.provider("openai")).secret == "sk-org-origin-0001"


def test_members_see_why_their_key_is_paused_and_resume_it(
    keys, admin_client, member_client, member
):
    _, _, user_key = keys
    move_openai(admin_client)
    page = text(member_client.get("/account"))
    assert f"paused: OpenAI's address changed to {NEW_HOST}; re-enter the key or confirm." in page
    editor = text(
        member_client.get(
            f"/account/providers/{user_key.provider_id}",
            headers=HX,
            query_string={"edit": user_key.id},
        )
    )
    assert f"Send the existing key to {NEW_HOST}" in editor
    response = member_client.post(
        f"/account/keys/{user_key.id}/confirm", headers=HX, data={"origin": NEW_ORIGIN}
    )
    assert response.status_code == 200 and NEW_HOST in response.headers["HX-Trigger"]
    assert "re-enter the key or confirm" not in text(response)
    db.session.expire_all()
    assert resolve_key(member, None, factories.provider("openai"), mode=Mode.BYOK).source == "user"


def test_the_key_editor_keeps_a_moved_override_paused_unless_the_box_is_ticked(keys, admin_client):
    key = factories.global_key("openai")
    prefix = f"edit-{key.id}-"
    version = str(key.version)
    form = {f"{prefix}label": "default", f"{prefix}base_url": NEW_URL, f"{prefix}version": version}
    response = admin_client.post(f"/admin/keys/{key.id}", headers=HX, data=form)
    assert response.status_code == 200
    assert f"It is paused: its base URL now points at {NEW_HOST}" in response.headers["HX-Trigger"]
    assert "paused: its base URL now points at" in text(response)
    db.session.expire_all()
    assert key.approved_origin != NEW_ORIGIN

    version = str(factories.global_key("openai").version)
    ticked = {**form, f"{prefix}version": version, f"{prefix}confirm_origin": "y"}
    response = admin_client.post(f"/admin/keys/{key.id}", headers=HX, data=ticked)
    assert response.status_code == 200 and '"level": "success"' in response.headers["HX-Trigger"]
    db.session.expire_all()
    assert factories.global_key("openai").approved_origin == NEW_ORIGIN
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "confirm_origin")
    ).one()
    assert event.diff["approved_origin"]["after"] == NEW_ORIGIN
    assert event.diff["approved_origin"]["before"] == origin_of(
        factories.provider("openai").base_url
    )


def test_confirmations_need_the_csrf_token(keys, app, admin_client, member_client):
    _, _, user_key = keys
    move_openai(admin_client)
    app.config["WTF_CSRF_ENABLED"] = True
    openai = factories.provider("openai")
    for client, url in (
        (admin_client, f"/admin/providers/{openai.id}/keys/confirm"),
        (admin_client, f"/admin/keys/providers/{openai.id}/env-key/confirm"),
        (member_client, f"/account/keys/{user_key.id}/confirm"),
    ):
        assert client.post(url, data={"origin": NEW_ORIGIN}).status_code == 400
    db.session.expire_all()
    assert factories.provider("openai").env_key_origin != NEW_ORIGIN
