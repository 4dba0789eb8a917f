"""Admin form fields for columns the services already used: a feature's locked fields and
system prompt, an org's default profile and who pays, a model's cache-write price and
whether it may be used unpriced."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests import factories
from tests.conftest import login
from webapp.extensions import db
from webapp.models import Feature
from webapp.services.settings import features, profiles

HX = {"HX-Request": "true"}


@pytest.fixture
def acme(app):  # type: ignore[no-untyped-def]
    return factories.make_org("acme", "Acme")


def _feature(admin) -> Feature:  # type: ignore[no-untyped-def]
    return features.create_feature(admin, None, "summarize", "Summarize")


def test_a_feature_locks_settings_and_carries_a_system_prompt(admin_client, admin):
    feature = _feature(admin)
    page = admin_client.get(f"/admin/features/{feature.id}").get_data(as_text=True)
    assert 'name="locked_fields"' in page and 'name="system_prompt"' in page
    assert '<option value="temperature">Temperature</option>' in page
    data = {
        "name": "Summarize",
        "enabled": "y",
        "locked_fields": ["temperature", "model"],
        "system_prompt": "  Be brief.  ",
        "version": feature.version,
    }
    response = admin_client.post(f"/admin/features/{feature.id}", headers=HX, data=data)
    assert response.status_code == 200
    db.session.refresh(feature)
    assert feature.locked_fields == ["model", "temperature"]  # the field table's order
    assert feature.system_prompt == "Be brief."
    body = response.get_data(as_text=True)
    assert '<option selected value="temperature">' in body and "Be brief." in body


def test_an_unknown_locked_field_is_422_at_the_field(admin_client, admin):
    feature = _feature(admin)
    data = {"name": "S", "locked_fields": ["warp_speed"], "version": feature.version}
    response = admin_client.post(f"/admin/features/{feature.id}", headers=HX, data=data)
    assert response.status_code == 422
    assert 'id="locked_fields-error"' in response.get_data(as_text=True)
    db.session.refresh(feature)
    assert feature.locked_fields is None and feature.name == "Summarize"


def test_a_feature_can_be_created_with_locks_and_a_prompt(admin_client):
    data = {"owner": "", "slug": "triage", "name": "Triage", "enabled": "y",
            "locked_fields": ["seed"], "system_prompt": "Sort it."}  # fmt: skip
    response = admin_client.post("/admin/features", headers=HX, data=data)
    assert response.status_code == 200
    feature = db.session.query(Feature).filter_by(slug="triage").one()
    assert feature.locked_fields == ["seed"] and feature.system_prompt == "Sort it."


def test_an_org_chooses_its_default_profile_and_who_pays(admin_client, admin, acme):
    profiles.create_profile(admin, acme, "quick")
    page = admin_client.get(f"/admin/orgs/{acme.id}").get_data(as_text=True)
    assert '<option value="quick">quick</option>' in page  # its own profile
    assert '<option value="balanced">balanced</option>' in page  # and the global ones
    assert "Members pay from their own balance" in page
    data = {"name": "Acme", "default_profile": "quick", "members_pay": "y",
            "version": acme.version}  # fmt: skip
    response = admin_client.post(f"/admin/orgs/{acme.id}", headers=HX, data=data)
    assert response.status_code == 200
    db.session.refresh(acme)
    assert acme.default_profile == "quick" and acme.members_pay
    data = {"name": "Acme", "default_profile": "nope", "version": acme.version}
    response = admin_client.post(f"/admin/orgs/{acme.id}", headers=HX, data=data)
    assert response.status_code == 422
    assert 'id="default_profile-error"' in response.get_data(as_text=True)


def test_org_admins_choose_the_default_profile_but_not_who_pays(app, acme, member):
    factories.add_member(acme, member, "org_admin")
    client = login(app.test_client(), member.email)
    page = client.get(f"/admin/orgs/{acme.id}").get_data(as_text=True)
    assert 'name="members_pay"' not in page
    data = {"name": "Acme", "default_profile": "fast", "members_pay": "y",
            "version": acme.version}  # fmt: skip
    assert client.post(f"/admin/orgs/{acme.id}", headers=HX, data=data).status_code == 200
    db.session.refresh(acme)
    assert acme.default_profile == "fast" and not acme.members_pay


def test_the_model_editor_sets_the_cache_write_price_and_allows_unpriced(admin_client):
    m = factories.model("mistral/mistral-large-4")
    page = admin_client.get(f"/admin/models/{m.id}/edit", headers=HX).get_data(as_text=True)
    assert 'name="cache_write_price"' in page and 'name="allow_unpriced"' in page
    data = {"display_name": m.display_name, "category": m.category, "input_price": "",
            "output_price": "", "cache_write_price": "2.5", "allow_unpriced": "y",
            "enabled": "y", "version": m.version}  # fmt: skip
    response = admin_client.post(f"/admin/models/{m.id}", headers=HX, data=data)
    assert response.status_code == 200
    db.session.refresh(m)
    assert m.cache_write_price == Decimal("2.5") and m.allow_unpriced and m.input_price is None
