"""/admin/features: global and per-org features with a profile and overrides; global profiles."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests import factories
from tests.conftest import login
from webapp.extensions import db
from webapp.models import Feature, Profile
from webapp.services.errors import NotConfigured
from webapp.services.settings import layers as settings_service
from webapp.services.settings.resolution import resolve

HX = {"HX-Request": "true"}


def feature(slug: str) -> Feature:
    db.session.rollback()
    return db.session.scalar(sa.select(Feature).where(Feature.slug == slug))


@pytest.fixture
def acme_admin(app, member):  # type: ignore[no-untyped-def]
    acme = factories.make_org("acme", "Acme")
    factories.add_member(acme, member, "org_admin")
    return acme, login(app.test_client(), member.email)


def test_admin_creates_a_global_feature_with_a_profile(admin_client):
    response = admin_client.post(
        "/admin/features",
        headers=HX,
        data={
            "owner": "",
            "slug": "summarize",
            "name": "Summarize",
            "profile_name": "powerful",
            "enabled": "y",
        },
    )
    assert response.status_code == 200 and "summarize" in response.get_data(as_text=True)
    db.session.rollback()  # see what the requests committed
    effective = resolve(feature="summarize")
    assert effective.model.global_id == "openai/gpt-6.1-sol"  # the global "powerful" profile
    assert effective.sources["model"].layer == "profile"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"slug": "Sum Up"}, "Lowercase letters"),
        ({"profile_name": "nonexistent"}, "Not a valid choice"),
        ({"name": ""}, "This field is required"),
    ],
)
def test_bad_feature_input_is_422(admin_client, data, message):
    base = {"owner": "", "slug": "summarize", "name": "Summarize", "profile_name": ""}
    response = admin_client.post("/admin/features", headers=HX, data={**base, **data})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert feature("summarize") is None


def test_org_admin_creates_features_for_their_org_only(acme_admin):
    acme, client = acme_admin
    response = client.post(
        "/admin/features",
        headers=HX,
        data={"owner": str(acme.id), "slug": "triage", "name": "Triage", "enabled": "y"},
    )
    assert response.status_code == 200
    assert feature("triage").org_id == acme.id
    response = client.post(
        "/admin/features", headers=HX, data={"owner": "", "slug": "g", "name": "G"}
    )
    assert response.status_code == 422  # "Global" is not among their choices
    globex = factories.make_org("globex")
    response = client.post(
        "/admin/features", headers=HX, data={"owner": str(globex.id), "slug": "x", "name": "X"}
    )
    assert response.status_code == 422


def test_feature_page_edits_details_and_overrides(admin_client):
    admin_client.post(
        "/admin/features",
        headers=HX,
        data={"owner": "", "slug": "summarize", "name": "Summarize", "enabled": "y"},
    )
    item = feature("summarize")
    response = admin_client.post(
        f"/admin/features/{item.id}",
        headers=HX,
        data={"name": "Summaries", "profile_name": "fast", "enabled": "y", "version": item.version},
    )
    assert response.status_code == 200
    pset = settings_service.parameter_set_for("feature", item.id, create=False)
    response = admin_client.post(
        f"/admin/features/{item.id}/settings",
        headers=HX,
        data={"feature-version": pset.version, "feature-max_tokens": "321"},
    )
    assert response.status_code == 200
    db.session.rollback()  # see what the requests committed
    effective = resolve(feature="summarize")
    assert (
        effective.values["max_tokens"] == 321 and effective.sources["max_tokens"].layer == "feature"
    )
    assert feature("summarize").name == "Summaries"


def test_stale_feature_edit_is_a_conflict(admin_client):
    admin_client.post("/admin/features", headers=HX, data={"owner": "", "slug": "s", "name": "S"})
    item = feature("s")
    stale = item.version
    admin_client.post(
        f"/admin/features/{item.id}", headers=HX, data={"name": "A", "version": stale}
    )
    response = admin_client.post(
        f"/admin/features/{item.id}", headers=HX, data={"name": "B", "version": stale}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 409 and "Someone else changed" in body
    assert 'value="B"' in body and "Saved meanwhile by someone else: <code>A</code>" in body
    assert feature("s").name == "A"


def test_disable_then_delete_a_feature(admin_client):
    admin_client.post(
        "/admin/features", headers=HX, data={"owner": "", "slug": "s", "name": "S", "enabled": "y"}
    )
    item = feature("s")
    admin_client.post(
        f"/admin/features/{item.id}", headers=HX, data={"name": "S", "version": item.version}
    )
    db.session.rollback()
    with pytest.raises(NotConfigured, match="disabled"):
        resolve(feature="s")
    response = admin_client.post(f"/admin/features/{item.id}/delete", headers=HX)
    assert response.headers["HX-Redirect"] == "/admin/features"
    assert feature("s") is None


def test_org_admins_see_global_features_but_edit_only_their_own(acme_admin, admin_client):
    _, client = acme_admin
    admin_client.post(
        "/admin/features", headers=HX, data={"owner": "", "slug": "global-one", "name": "G"}
    )
    globex = factories.make_org("globex")
    other = Feature(slug="secret-project", name="Secret", org_id=globex.id)
    db.session.add(other)
    db.session.commit()
    listing = client.get("/admin/features").get_data(as_text=True)
    assert "global-one" in listing and "secret-project" not in listing
    assert client.get(f"/admin/features/{feature('global-one').id}").status_code == 404
    assert client.get(f"/admin/features/{other.id}").status_code == 404
    assert client.post(f"/admin/features/{other.id}/delete").status_code == 404


def test_global_profiles_are_created_edited_and_deleted_by_admins(admin_client, acme_admin):
    response = admin_client.post("/admin/features/profiles", headers=HX, data={"name": "cheap"})
    assert response.status_code == 200
    profile = db.session.scalar(sa.select(Profile).where(Profile.name == "cheap"))
    pset = settings_service.parameter_set_for("profile", profile.id, create=False)
    response = admin_client.post(
        f"/admin/features/profiles/{profile.id}",
        headers=HX,
        data={"profile-version": pset.version, "profile-model": "deepseek/deepseek-v4-flash"},
    )
    assert response.status_code == 200
    _, client = acme_admin
    assert client.get(f"/admin/features/profiles/{profile.id}").status_code == 403
    response = admin_client.post(f"/admin/features/profiles/{profile.id}/delete", headers=HX)
    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/admin/features"


def test_the_features_page_has_no_duplicate_ids(admin_client):
    import re

    body = admin_client.get("/admin/features").get_data(as_text=True)
    ids = re.findall(r'\sid="([^"]+)"', body)
    assert sorted({i for i in ids if ids.count(i) > 1}) == []
    assert '<label for="new-profile-name">' in body and 'id="new-profile-name"' in body


def test_features_list_is_paged_and_searchable(admin_client):
    db.session.add_all(Feature(slug=f"f-{i:03d}", name=f"Feature {i}") for i in range(55))
    db.session.commit()
    body = admin_client.get("/admin/features").get_data(as_text=True)
    assert "f-000" in body and "f-054" not in body and "Page 1 of 2" in body
    page = admin_client.get("/admin/features?page=2", headers=HX).get_data(as_text=True)
    assert page.lstrip().startswith('<div id="features-table"') and "f-054" in page
    found = admin_client.get("/admin/features?q=F-05", headers=HX).get_data(as_text=True)
    assert "f-050" in found and "f-049" not in found
    assert admin_client.get("/admin/features?page=999").status_code == 200  # the last page
