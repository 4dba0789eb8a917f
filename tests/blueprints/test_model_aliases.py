"""Admin: model aliases for the gateway (/admin/models/aliases)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.blueprints.test_account import login_with_csrf
from webapp.extensions import db
from webapp.models import AuditEvent, ModelAlias
from webapp.services.catalog import names

URL = "/admin/models/aliases"
HX = {"HX-Request": "true"}


def test_the_page_lists_aliases_full_and_partial(admin_client, admin):
    names.create_alias("default-chat", "openai/gpt-5.4-mini", actor=admin)
    page = admin_client.get(URL)
    assert page.status_code == 200 and b"<html" in page.data
    assert b"default-chat" in page.data and b"openai/gpt-5.4-mini" in page.data
    partial = admin_client.get(URL, headers=HX)
    assert b"<html" not in partial.data and b'id="model-aliases"' in partial.data


def test_creating_an_alias_and_deleting_it(admin_client):
    response = admin_client.post(
        URL, data={"name": "default-chat", "model": "openai/gpt-5.4-mini"}, headers=HX
    )
    assert response.status_code == 200 and b"default-chat" in response.data
    alias = db.session.scalar(sa.select(ModelAlias))
    assert alias is not None and names.resolve_name("default-chat").global_id.endswith("mini")
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.target_type == "model_alias"))
    response = admin_client.post(f"{URL}/{alias.id}/delete", headers=HX)
    assert response.status_code == 200 and b"<code>default-chat</code>" not in response.data
    assert db.session.scalar(sa.select(ModelAlias)) is None


def test_a_bad_alias_is_422_at_the_field_and_saves_nothing(admin_client):
    response = admin_client.post(
        URL, data={"name": "Not OK/x", "model": "openai/gpt-5.4-mini"}, headers=HX
    )
    assert response.status_code == 422 and b"lower-case" in response.data
    response = admin_client.post(URL, data={"name": "ok", "model": "nope/nope"}, headers=HX)
    assert response.status_code == 422
    assert db.session.scalar(sa.select(ModelAlias)) is None


def test_members_cannot_see_or_change_aliases(member_client):
    assert member_client.get(URL).status_code in (403, 404)
    response = member_client.post(URL, data={"name": "x", "model": "openai/gpt-5.4-mini"})
    assert response.status_code in (403, 404)
    assert db.session.scalar(sa.select(ModelAlias)) is None


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_creating_an_alias_needs_the_csrf_token(app, admin):
    client = login_with_csrf(app, admin)
    response = client.post(URL, data={"name": "x", "model": "openai/gpt-5.4-mini"})
    assert response.status_code == 400
    assert db.session.scalar(sa.select(ModelAlias)) is None
