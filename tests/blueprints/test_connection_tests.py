"""Test connection / Fetch models on providers, and Test my key on every key panel."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests import factories
from tests.fake_upstream import Reply
from webapp.extensions import db
from webapp.models import LastTestStatus, UsageRecord
from webapp.services.credentials import storage as credentials

HX = {"HX-Request": "true"}


def test_provider_test_connection_shows_latency_and_model_count(wired, admin_client):
    wired.models = ["a", "b", "c"]
    openai = factories.provider("openai")
    response = admin_client.post(f"/admin/providers/{openai.id}/test", headers=HX)
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<span id="provider-openai-test"')
    assert "connected" in body and "3 models" in body and " ms" in body
    assert "connected in" in response.headers["HX-Trigger"]
    record = db.session.scalar(sa.select(UsageRecord))
    assert record.caller == "test" and record.operation == "models"


def test_provider_test_connection_shows_the_classified_error(wired, admin_client):
    wired.script("anthropic.models", Reply.error(401, "invalid x-api-key", echo_auth=True))
    anthropic = factories.provider("anthropic")
    response = admin_client.post(f"/admin/providers/{anthropic.id}/test", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "badge-error" in body and "auth" in body
    assert "rejected the key" in body and "sk-ant-wired" not in body
    assert '"level": "error"' in response.headers["HX-Trigger"]


def test_provider_test_without_javascript_renders_the_page_with_the_result(wired, admin_client):
    openai = factories.provider("openai")
    body = admin_client.post(f"/admin/providers/{openai.id}/test").get_data(as_text=True)
    assert "<html" in body and "connected" in body


def test_fetch_models_lists_live_models_and_marks_catalog_ones(wired, admin_client):
    wired.models = ["gpt-5.4-mini", "brand-new-model"]
    openai = factories.provider("openai")
    response = admin_client.post(f"/admin/providers/{openai.id}/live-models", headers=HX)
    body = response.get_data(as_text=True)
    assert "brand-new-model" in body and "2 live models" in body
    assert "1 of them are in the catalog" in body


def test_test_my_key_updates_the_status_in_the_panel(wired, member_client, member):
    key = factories.user_key(member, "openai", "sk-member-testable-1")
    response = member_client.post(f"/account/keys/{key.id}/test", headers=HX)
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="keys-openai"') and "badge-ok" in body
    assert "works" in response.headers["HX-Trigger"]
    assert (
        wired.requests_to("openai.models")[0].headers["authorization"]
        == "Bearer sk-member-testable-1"
    )
    wired.script("openai.models", Reply.error(401, "revoked"))
    response = member_client.post(f"/account/keys/{key.id}/test", headers=HX)
    assert "invalid" in response.get_data(as_text=True)
    assert '"level": "error"' in response.headers["HX-Trigger"]


def test_test_my_key_for_someone_elses_key_is_404(wired, member_client):
    other = factories.make_user("other@example.com")
    key = factories.user_key(other, "openai", "sk-other-user-key-9")
    assert member_client.post(f"/account/keys/{key.id}/test", headers=HX).status_code == 404
    assert wired.requests == []


def test_admin_tests_a_global_key(wired, admin_client):
    key = factories.global_key("openai")
    response = admin_client.post(f"/admin/keys/{key.id}/test", headers=HX)
    assert response.status_code == 200 and "badge-ok" in response.get_data(as_text=True)


def _keyless(slug: str):  # type: ignore[no-untyped-def]
    """The provider with no stored key and no fallback variable: tried without a key."""
    from webapp.models import Credential

    provider = factories.provider(slug)
    for key in db.session.scalars(
        sa.select(Credential).where(Credential.provider_id == provider.id)
    ):
        db.session.delete(key)
    provider.api_key_env, provider.enabled = None, True
    db.session.commit()
    from webapp.services.settings.cache import settings_cache

    settings_cache().clear()
    return provider


def test_a_keyless_provider_says_no_key_configured(wired, admin_client):
    ollama = _keyless("ollama")
    response = admin_client.post(f"/admin/providers/{ollama.id}/test", headers=HX)
    body = response.get_data(as_text=True)
    assert "connected" in body and "no key configured" in body and "none key" not in body
    assert "(no key configured)" in response.headers["HX-Trigger"]


def test_a_provider_that_needs_a_key_fails_clearly_without_one(wired, admin_client):
    ollama = _keyless("ollama")
    wired.script("openai.models", Reply.error(401, "missing api key"))
    response = admin_client.post(f"/admin/providers/{ollama.id}/test", headers=HX)
    body = response.get_data(as_text=True)
    assert ">no key</span>" in body and "No key configured: Ollama needs one" in body
    assert "No key configured" in response.headers["HX-Trigger"]


def test_a_failed_key_test_shows_why_in_the_row(wired, member_client, member):
    key = factories.user_key(member, "openai", "sk-member-testable-2")
    wired.script("openai.models", Reply.error(401, "this key was revoked"))
    body = member_client.post(f"/account/keys/{key.id}/test", headers=HX).get_data(as_text=True)
    row = body.split(f'id="key-{key.id}"', 1)[1].split("</tr>", 1)[0]
    assert ">invalid</span>" in row and 'class="test-failure"' in row  # visible, not a tooltip
    assert "rejected the key" in row


def test_a_failed_connection_test_does_not_count_as_a_use_of_the_key(wired, admin_client):
    key = factories.global_key("openai")
    openai = factories.provider("openai")
    wired.script("openai.models", Reply.error(401, "this key was revoked"))
    admin_client.post(f"/admin/providers/{openai.id}/test", headers=HX)
    db.session.expire_all()
    tested = db.session.get(type(key), key.id)
    assert tested.last_test_status == "invalid" and tested.last_used_at is None


FAILED_TESTS = [s for s in LastTestStatus if s not in (LastTestStatus.OK, LastTestStatus.UNKNOWN)]


@pytest.mark.parametrize("status", FAILED_TESTS)
def test_every_kind_of_failed_test_shows_its_label_and_reason_in_the_row(
    member_client, member, status
):
    key = factories.user_key(member, "openai", "sk-member-testable-3")
    credentials.record_test(key.id, status, f"Reason for {status}.")
    body = member_client.get("/account").get_data(as_text=True)
    row = body.split(f'id="key-{key.id}"', 1)[1].split("</tr>", 1)[0]
    assert 'class="badge badge-error"' in row and "not tested" not in row
    assert f'<small class="test-failure">Reason for {status}.</small>' in row


BLOCKED = (
    "Switchboard will not call 10.0.0.5: it is a private address. An admin can allow this "
    "host and port on the Keys page."
)


def test_a_blocked_test_links_admins_to_the_allowed_hosts_but_not_members(
    admin_client, member_client, member
):
    own = factories.user_key(member, "openai", "sk-member-testable-4")
    credentials.record_test(own.id, LastTestStatus.BLOCKED, BLOCKED)
    row = member_client.get("/account").get_data(as_text=True).split(f'id="key-{own.id}"')[1]
    assert "allow this host and port on the Keys page." in row.split("</tr>")[0]
    assert "#allowed-hosts" not in row.split("</tr>")[0]  # members cannot open that page
    key = factories.global_key("openai")
    credentials.record_test(key.id, LastTestStatus.BLOCKED, BLOCKED)
    row = admin_client.get("/admin/keys").get_data(as_text=True).split(f'id="key-{key.id}"')[1]
    assert (
        'on the <a href="/admin/keys#allowed-hosts">Keys page, under Allowed private hosts</a>'
        in row.split("</tr>")[0]
    )
