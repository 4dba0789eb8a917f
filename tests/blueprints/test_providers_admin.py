"""/admin/providers: create, inline edit, enable toggle, delete with its consequences, and
adding models from the live list."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests import factories
from webapp.extensions import db
from webapp.models import AuditEvent, Credential, Provider, UsageRecord

HX = {"HX-Request": "true"}
# The operator allowed Acme's variable next to the presets' (SWITCHBOARD_PROVIDER_KEY_VARS).
pytestmark = pytest.mark.app_config(PROVIDER_KEY_VARS=("OPENAI_API_KEY", "ACME_API_KEY"))
NEW = {
    "slug": "acme-llm",
    "display_name": "Acme LLM",
    "protocol": "openai_compatible",
    "base_url": "https://llm.acme.example/v1",
    "api_key_env": "ACME_API_KEY",
    "credit_multiplier": "0.5",
    "enabled": "y",
    "extra_headers": '{"X-Title": "Switchboard"}',
}


@pytest.fixture
def public_dns(monkeypatch):  # type: ignore[no-untyped-def]
    """Pretend example hosts resolve to a public address (tests never use real DNS)."""
    from webapp.services.credentials import url_guard

    real = url_guard.system_resolver

    def resolve(host: str, port: int) -> list[str]:
        return real(host, port) if host[0].isdigit() or ":" in host else ["93.184.216.34"]

    monkeypatch.setattr(url_guard, "system_resolver", resolve)


def provider(slug: str) -> Provider | None:
    db.session.rollback()
    return db.session.scalar(sa.select(Provider).where(Provider.slug == slug))


def test_add_a_provider_that_needs_no_code(admin_client, public_dns):
    response = admin_client.post("/admin/providers", headers=HX, data=NEW)
    assert response.status_code == 200 and "Acme LLM added" in response.headers["HX-Trigger"]
    created = provider("acme-llm")
    assert created.credit_multiplier == Decimal("0.5") and created.extra_headers == {
        "X-Title": "Switchboard"
    }
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.target_type == "provider"))
    assert 'id="keys-acme-llm"' in admin_client.get("/admin/keys").get_data(as_text=True)


@pytest.mark.parametrize(
    ("change", "field_message"),
    [
        ({"slug": "Acme LLM"}, "Lowercase letters"),
        ({"slug": "openai"}, "exists already"),
        ({"protocol": "grpc"}, "Not a valid choice"),
        ({"base_url": ""}, "needs a base URL"),
        ({"base_url": "http://10.0.0.5/v1"}, "private network address"),
        ({"api_key_env": "acme key"}, "ending in _KEY or _TOKEN"),
        ({"api_key_env": "SWITCHBOARD_ENCRYPTION_KEYS"}, "own settings cannot be used"),
        ({"api_key_env": "SECRET_KEY"}, "own settings cannot be used"),
        ({"extra_headers": '{"X-Goog-Api-Key": "abc"}'}, "would hold a key"),
        ({"extra_headers": '{"X-Title": "a\\r\\nEvil: 1"}'}, "line breaks"),
        ({"extra_headers": '{"Transfer-Encoding": "chunked"}'}, "set by Switchboard"),
        ({"extra_headers": '{"Content-Length": "0"}'}, "set by Switchboard"),
        ({"credit_multiplier": "-1"}, "from 0 to 1,000"),
        ({"credit_multiplier": "lots"}, "decimal number"),
        ({"extra_headers": '{"Authorization": "Bearer x"}'}, "would hold a key"),
        ({"extra_headers": "[1]"}, "JSON object"),
        ({"display_name": ""}, "This field is required"),
    ],
)
def test_bad_provider_input_is_422_and_saves_nothing(
    admin_client, public_dns, change, field_message
):
    response = admin_client.post("/admin/providers", headers=HX, data={**NEW, **change})
    assert response.status_code == 422
    assert field_message in response.get_data(as_text=True)
    assert provider("acme-llm") is None or change.get("slug") == "openai"


def test_inline_edit_keeps_the_slug_and_detects_conflicts(admin_client):
    openai = provider("openai")
    editor = admin_client.get(f"/admin/providers/{openai.id}/edit", headers=HX).get_data(
        as_text=True
    )
    assert editor.lstrip().startswith('<tbody id="provider-openai"') and 'name="version"' in editor
    data = {
        "display_name": "OpenAI (corp)",
        "protocol": "openai",
        "base_url": openai.base_url,
        "api_key_env": "OPENAI_API_KEY",
        "credit_multiplier": "1.2",
        "enabled": "y",
        "version": openai.version,
    }
    response = admin_client.post(f"/admin/providers/{openai.id}", headers=HX, data=data)
    assert response.status_code == 200 and "OpenAI (corp)" in response.get_data(as_text=True)
    response = admin_client.post(
        f"/admin/providers/{openai.id}", headers=HX, data={**data, "display_name": "Stale"}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 409 and "Someone else changed" in body
    assert 'value="Stale"' in body  # what this admin typed stays in the form
    assert "Saved meanwhile by someone else: <code>OpenAI (corp)</code>" in body
    assert "the saved value is shown under Name. Save again" in body
    assert provider("openai").display_name == "OpenAI (corp)"


def test_enable_toggle_changes_what_users_are_offered(admin_client, member_client):
    mistral = provider("mistral")
    response = admin_client.post(f"/admin/providers/{mistral.id}/enabled", headers=HX, data={})
    assert response.status_code == 200 and "disabled" in response.headers["HX-Trigger"]
    assert 'id="keys-mistral"' not in member_client.get("/account").get_data(as_text=True)
    admin_client.post(f"/admin/providers/{mistral.id}/enabled", headers=HX, data={"enabled": "on"})
    assert 'id="keys-mistral"' in member_client.get("/account").get_data(as_text=True)


def test_delete_asks_first_and_says_what_goes(admin_client, member):
    xai = provider("xai")
    factories.user_key(member, "xai", "sk-xai-member-0001")
    db.session.add(
        UsageRecord(
            request_id="r-xai",
            provider_id=xai.id,
            provider_slug="xai",
            model_name="grok-4.7",
            status="ok",
        )
    )
    db.session.commit()
    confirm = admin_client.get(f"/admin/providers/{xai.id}/delete", headers=HX).get_data(
        as_text=True
    )
    assert "Delete xAI?" in confirm and "3 catalog models" in confirm
    assert "1 stored key" in confirm and "1 usage record" in confirm
    response = admin_client.post(f"/admin/providers/{xai.id}/delete", headers=HX)
    assert response.status_code == 200 and response.get_data(as_text=True) == ""
    assert provider("xai") is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Credential)) == 0
    record = db.session.scalar(sa.select(UsageRecord).where(UsageRecord.request_id == "r-xai"))
    assert record.provider_id is None and record.provider_slug == "xai"


def test_a_provider_holding_a_default_model_cannot_be_deleted(admin_client):
    openai = provider("openai")
    response = admin_client.post(f"/admin/providers/{openai.id}/delete", headers=HX)
    assert response.status_code == 422 and "is a default model" in response.get_data(as_text=True)
    assert provider("openai") is not None


def test_add_models_from_the_live_list(wired, admin_client):
    wired.models = ["gpt-5.4-mini", "gpt-5.5-pro", "text-embedding-3-large", "brand-new-model"]
    openai = provider("openai")
    listing = admin_client.post(f"/admin/providers/{openai.id}/live-models", headers=HX).get_data(
        as_text=True
    )
    assert 'value="brand-new-model"' in listing and 'value="gpt-5.4-mini"' not in listing
    response = admin_client.post(
        f"/admin/providers/{openai.id}/live-models/add",
        headers=HX,
        data={"model": ["gpt-5.5-pro", "brand-new-model"]},
    )
    assert response.status_code == 200 and "brand-new-model" in response.headers["HX-Trigger"]
    db.session.rollback()
    pro = factories.model("openai/gpt-5.5-pro")
    assert pro.input_price is not None and pro.price_source.startswith("genai-prices")
    new = factories.model("openai/brand-new-model")
    assert new.input_price is None  # unknown to the price data: unpriced, never invented
    response = admin_client.post(
        f"/admin/providers/{openai.id}/live-models/add", headers=HX, data={}
    )
    assert response.status_code == 422


def test_hints_and_errors_about_private_hosts_link_to_the_setting(admin_client):
    body = admin_client.get("/admin/providers").get_data(as_text=True)
    link = '<a href="/admin/keys#allowed-hosts">Keys page, under Allowed private hosts</a>'
    assert f"Private hosts must be allowed on the {link}" in body
    response = admin_client.post(
        "/admin/providers",
        headers=HX,
        data={
            "slug": "local",
            "display_name": "Local",
            "protocol": "openai_compatible",
            "base_url": "http://10.1.2.3:8080/v1",
            "credit_multiplier": "1",
        },
    )
    body = response.get_data(as_text=True)
    error = body.split('id="base_url-error"', 1)[1].split("</small>", 1)[0]
    assert response.status_code == 422 and link in error
