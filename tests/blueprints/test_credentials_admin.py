"""/admin/keys: global keys for every provider and the allowed private hosts."""

from __future__ import annotations

import sqlalchemy as sa

from tests import factories
from webapp.extensions import db
from webapp.models import AllowedHost
from webapp.services.credentials import storage as credentials

HX = {"HX-Request": "true"}


def test_page_lists_every_provider_including_disabled(admin_client):
    body = admin_client.get("/admin/keys").get_data(as_text=True)
    assert 'id="keys-openai"' in body and 'id="keys-lmstudio"' in body
    assert "encrypted with key version" in body


def test_add_a_global_key_with_base_url_override(admin_client):
    factories.allowed_host("proxy.corp.example:443")
    openai = factories.provider("openai")
    response = admin_client.post(
        f"/admin/keys/providers/{openai.id}/keys",
        headers=HX,
        data={
            f"add-{openai.id}-secret": "sk-admin-GLOBAL-1111",
            f"add-{openai.id}-label": "primary",
            f"add-{openai.id}-base_url": "https://proxy.corp.example/v1",
        },
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "•••• set (…1111)" in body
    assert (
        "https://proxy.corp.example/v1" in body.replace("<wbr>", "")
        and "sk-admin-GLOBAL" not in body
    )
    (key,) = credentials.list_credentials(credentials.GLOBAL)
    assert key.scope == "global" and key.label == "primary"


def test_allow_and_remove_a_private_host(admin_client):
    response = admin_client.post(
        "/admin/keys/allowed-hosts",
        headers=HX,
        data={"host": "LOCALHOST:11434", "note": "Ollama on the box"},
    )
    assert response.status_code == 200
    assert "localhost:11434" in response.get_data(as_text=True)
    entry = db.session.scalar(sa.select(AllowedHost))
    assert (entry.host, entry.port) == ("localhost", 11434)
    response = admin_client.post(f"/admin/keys/allowed-hosts/{entry.id}/delete", headers=HX)
    assert response.status_code == 200
    assert db.session.scalar(sa.select(AllowedHost)) is None


def test_bad_host_is_422(admin_client):
    for host in ("http://localhost", "exa mple.com", ""):
        response = admin_client.post("/admin/keys/allowed-hosts", headers=HX, data={"host": host})
        assert response.status_code == 422, host
    assert db.session.scalar(sa.select(AllowedHost)) is None


def test_deleting_a_missing_host_is_404(admin_client):
    assert admin_client.post("/admin/keys/allowed-hosts/999/delete").status_code == 404


def test_members_cannot_touch_global_keys(member_client):
    key = factories.global_key("openai")
    assert member_client.post(f"/admin/keys/{key.id}/delete").status_code == 403
    assert member_client.get("/admin/keys").status_code == 403
