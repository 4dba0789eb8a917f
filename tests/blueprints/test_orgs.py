"""/admin/orgs: organizations, members, org keys, settings and profiles; org admins only
ever reach their own organization."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests import factories
from tests.conftest import login
from webapp.extensions import db
from webapp.models import AuditEvent, Organization, Profile
from webapp.services.credentials import storage as credentials
from webapp.services.credentials.resolution import resolve_key
from webapp.services.errors import NotConfigured
from webapp.services.settings import layers as settings_service
from webapp.services.settings.resolution import resolve

HX = {"HX-Request": "true"}


@pytest.fixture
def acme(app):  # type: ignore[no-untyped-def]
    return factories.make_org("acme", "Acme")


@pytest.fixture
def org_admin_client(app, acme, member):  # type: ignore[no-untyped-def]
    factories.add_member(acme, member, "org_admin")
    return login(app.test_client(), member.email)


def test_admin_creates_an_organization(admin_client):
    response = admin_client.post(
        "/admin/orgs", headers=HX, data={"slug": "globex", "name": "Globex", "description": "d"}
    )
    assert response.status_code == 200 and "Globex" in response.get_data(as_text=True)
    org = db.session.scalar(sa.select(Organization).where(Organization.slug == "globex"))
    assert org.name == "Globex"
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.target_type == "organization"))


@pytest.mark.parametrize(
    ("slug", "message"), [("Bad Slug", "Lowercase letters"), ("acme", "exists already")]
)
def test_bad_or_duplicate_slug_is_422(admin_client, acme, slug, message):
    response = admin_client.post("/admin/orgs", headers=HX, data={"slug": slug, "name": "X"})
    assert response.status_code == 422 and message in response.get_data(as_text=True)


def test_org_admins_cannot_create_organizations(org_admin_client):
    assert (
        org_admin_client.post("/admin/orgs", data={"slug": "mine", "name": "Mine"}).status_code
        == 403
    )


def test_org_page_has_a_tab_per_section(admin_client, acme):
    body = admin_client.get(f"/admin/orgs/{acme.id}").get_data(as_text=True)
    assert 'id="org-details"' in body and 'id="org-members"' not in body
    for tab in ("members", "keys", "settings", "profiles"):
        assert f'href="/admin/orgs/{acme.id}?tab={tab}"' in body
        page = admin_client.get(f"/admin/orgs/{acme.id}?tab={tab}").get_data(as_text=True)
        assert f'id="org-{tab}"' in page and 'id="org-details"' not in page
        assert f'aria-current="page">{tab.title()}</a>' in page
    keys = admin_client.get(f"/admin/orgs/{acme.id}?tab=keys", headers=HX).get_data(as_text=True)
    assert keys.lstrip().startswith('<div id="org-tabs"') and 'id="keys-openai"' in keys
    assert "<html" not in keys


def test_details_and_allowed_models_and_conflict(admin_client, acme):
    data = {
        "name": "Acme Corp",
        "description": "Widgets",
        "version": acme.version,
        "allowed_models": ["openai/gpt-5.4-mini", "anthropic/claude-haiku-4-5"],
    }
    response = admin_client.post(f"/admin/orgs/{acme.id}", headers=HX, data=data)
    assert response.status_code == 200 and "Organization saved" in response.headers["HX-Trigger"]
    db.session.refresh(acme)
    assert acme.name == "Acme Corp"
    assert acme.allowed_models == ["anthropic/claude-haiku-4-5", "openai/gpt-5.4-mini"]
    stale = admin_client.post(f"/admin/orgs/{acme.id}", headers=HX, data={**data, "name": "Old"})
    body = stale.get_data(as_text=True)
    assert stale.status_code == 409 and "Someone else changed" in body
    assert (
        'value="Old"' in body and "Saved meanwhile by someone else: <code>Acme Corp</code>" in body
    )
    db.session.refresh(acme)
    assert acme.name == "Acme Corp"


def test_org_admins_edit_details_but_not_the_allowed_models(org_admin_client, acme):
    response = org_admin_client.post(
        f"/admin/orgs/{acme.id}",
        headers=HX,
        data={"name": "Acme 2", "version": acme.version, "allowed_models": ["openai/gpt-5.4-mini"]},
    )
    assert response.status_code == 200
    db.session.refresh(acme)
    assert acme.name == "Acme 2" and acme.allowed_models is None


def test_archiving_stops_calls_in_the_org(admin_client, acme):
    response = admin_client.post(f"/admin/orgs/{acme.id}/archive", headers=HX)
    assert response.status_code == 200 and "archived" in response.headers["HX-Trigger"]
    db.session.rollback()  # the request committed in its own session; start afresh
    with pytest.raises(NotConfigured, match="archived"):
        resolve(org_id=acme.id)
    admin_client.post(f"/admin/orgs/{acme.id}/archive", headers=HX)
    db.session.rollback()
    assert resolve(org_id=acme.id).org_id == acme.id


def test_members_are_invited_promoted_and_removed(app, org_admin_client, acme, member):
    other = factories.make_user("colleague@example.com")
    response = org_admin_client.post(
        f"/admin/orgs/{acme.id}/members",
        headers=HX,
        data={"email": "colleague@example.com", "org_role": "member"},
    )
    assert response.status_code == 200 and "colleague@example.com" in response.get_data(
        as_text=True
    )
    assert "Invitation recorded" in response.headers["HX-Trigger"]
    colleague = login(app.test_client(), other.email)
    invitation_id = colleague.get("/").get_data(as_text=True).split("/account/invitations/")[1]
    colleague.post(f"/account/invitations/{invitation_id.split('/')[0]}/accept")
    db.session.expire_all()
    membership = next(m for m in acme.memberships if m.user_id == other.id)
    response = org_admin_client.post(
        f"/admin/orgs/{acme.id}/members/{membership.id}", headers=HX, data={"org_role": "org_admin"}
    )
    assert "now an org admin" in response.headers["HX-Trigger"]
    response = org_admin_client.post(
        f"/admin/orgs/{acme.id}/members/{membership.id}/delete", headers=HX
    )
    assert response.status_code == 200
    assert other.org_role(acme.id) is None


def test_bad_member_input_is_422(org_admin_client, acme, member):
    response = org_admin_client.post(
        f"/admin/orgs/{acme.id}/members",
        headers=HX,
        data={"email": "not an email", "org_role": "member"},
    )
    assert response.status_code == 422 and "Not a valid email" in response.get_data(as_text=True)
    response = org_admin_client.post(
        f"/admin/orgs/{acme.id}/members", headers=HX, data={"email": member.email}
    )
    assert response.status_code == 422 and "already a member" in response.get_data(as_text=True)
    own = next(m for m in acme.memberships if m.user_id == member.id)
    response = org_admin_client.post(f"/admin/orgs/{acme.id}/members/{own.id}/delete", headers=HX)
    assert response.status_code == 422 and "cannot remove yourself" in response.get_data(
        as_text=True
    )


def test_org_keys_serve_the_orgs_managed_calls(org_admin_client, acme, member):
    openai = factories.provider("openai")
    response = org_admin_client.post(
        f"/admin/orgs/{acme.id}/keys/providers/{openai.id}/keys",
        headers=HX,
        data={f"add-{openai.id}-secret": "sk-acme-org-key-ABCD", f"add-{openai.id}-label": "acme"},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "•••• set (…ABCD)" in body and "sk-acme-org" not in body
    key = resolve_key(member, acme, openai)
    assert key.source == "org" and key.secret == "sk-acme-org-key-ABCD"


def test_org_settings_override_the_global_ones(org_admin_client, acme):
    pset = settings_service.parameter_set_for("org", acme.id, create=False)
    response = org_admin_client.post(
        f"/admin/orgs/{acme.id}/settings",
        headers=HX,
        data={"org-settings-version": pset.version, "org-settings-temperature": "0.15"},
    )
    assert response.status_code == 200
    assert response.get_data(as_text=True).lstrip().startswith('<section id="org-settings"')
    effective = resolve(org_id=acme.id)
    assert (
        effective.values["temperature"] == 0.15 and effective.sources["temperature"].layer == "org"
    )


def test_an_org_profile_shadows_the_global_one(org_admin_client, acme):
    response = org_admin_client.post(
        f"/admin/orgs/{acme.id}/profiles",
        headers=HX,
        data={"name": "fast", "description": "Our fast tier"},
    )
    assert response.status_code == 200
    profile = db.session.scalar(sa.select(Profile).where(Profile.org_id == acme.id))
    page = org_admin_client.get(f"/admin/orgs/{acme.id}/profiles/{profile.id}")
    assert page.status_code == 200 and "Profile fast" in page.get_data(as_text=True)
    pset = settings_service.parameter_set_for("profile", profile.id, create=False)
    response = org_admin_client.post(
        f"/admin/orgs/{acme.id}/profiles/{profile.id}",
        headers=HX,
        data={"profile-version": pset.version, "profile-model": "anthropic/claude-haiku-4-5"},
    )
    assert response.status_code == 200
    from webapp.services.settings import features

    features.create_feature(_admin(), None, "summarize", "Summarize", profile_name="fast")
    assert (
        resolve(org_id=acme.id, feature="summarize").model.global_id == "anthropic/claude-haiku-4-5"
    )
    assert resolve(feature="summarize").model.global_id == "openai/gpt-5.4-mini"
    response = org_admin_client.post(
        f"/admin/orgs/{acme.id}/profiles/{profile.id}/delete", headers=HX
    )
    assert response.headers["HX-Redirect"].startswith(f"/admin/orgs/{acme.id}")
    assert resolve(org_id=acme.id, feature="summarize").model.global_id == "openai/gpt-5.4-mini"


def test_duplicate_profile_name_is_422(org_admin_client, acme):
    org_admin_client.post(f"/admin/orgs/{acme.id}/profiles", headers=HX, data={"name": "fast"})
    response = org_admin_client.post(
        f"/admin/orgs/{acme.id}/profiles", headers=HX, data={"name": "fast"}
    )
    assert response.status_code == 422 and "already a profile" in response.get_data(as_text=True)


def test_an_org_admin_never_reaches_another_org(org_admin_client, acme):
    globex = factories.make_org("globex", "Globex")
    key = factories.org_key(globex, "openai", "sk-globex-secret-1")
    profile = Profile(name="fast", org_id=globex.id)
    db.session.add(profile)
    db.session.commit()
    listing = org_admin_client.get("/admin/orgs").get_data(as_text=True)
    assert "Acme" in listing and "Globex" not in listing
    openai = factories.provider("openai")
    for method, url in [
        ("GET", f"/admin/orgs/{globex.id}"),
        ("POST", f"/admin/orgs/{globex.id}"),
        ("POST", f"/admin/orgs/{globex.id}/members"),
        ("POST", f"/admin/orgs/{globex.id}/settings"),
        ("POST", f"/admin/orgs/{globex.id}/profiles"),
        ("GET", f"/admin/orgs/{globex.id}/profiles/{profile.id}"),
        ("GET", f"/admin/orgs/{globex.id}/keys/providers/{openai.id}"),
        ("POST", f"/admin/orgs/{globex.id}/keys/{key.id}/delete"),
        ("POST", f"/admin/orgs/{acme.id}/keys/{key.id}/delete"),  # right org, wrong key
        ("GET", f"/admin/orgs/{acme.id}/profiles/{profile.id}"),
    ]:
        response = org_admin_client.open(
            url, method=method, data={"name": "x", "email": "x@example.com"}
        )
        assert response.status_code == 404, (method, url, response.status_code)
    assert credentials.decrypt_secret(key) == "sk-globex-secret-1"


def _admin():  # type: ignore[no-untyped-def]
    return factories.make_user("boss@example.com", role="admin")


def test_members_tab_pages_and_searches_members(admin_client, acme):
    for i in range(55):
        factories.add_member(acme, factories.make_user(f"m{i:02d}@example.com"))
    body = admin_client.get(f"/admin/orgs/{acme.id}?tab=members").get_data(as_text=True)
    assert "m00@example.com" in body and "m54@example.com" not in body
    assert "Page 1 of 3" in body
    url = f"/admin/orgs/{acme.id}/members?page=3"
    second = admin_client.get(url, headers=HX).get_data(as_text=True)
    assert second.lstrip().startswith('<div id="org-members-table"')
    assert "m54@example.com" in second and "m00@example.com" not in second
    found = admin_client.get(f"/admin/orgs/{acme.id}/members?q=M07", headers=HX)
    assert "m07@example.com" in found.get_data(as_text=True)
    assert "m08@example.com" not in found.get_data(as_text=True)
    plain = admin_client.get(f"/admin/orgs/{acme.id}/members?page=3").get_data(as_text=True)
    assert "<html" in plain and "m54@example.com" in plain


def test_orgs_list_counts_members_and_pages(admin_client, acme):
    factories.add_member(acme, factories.make_user("one@example.com"))
    factories.add_member(acme, factories.make_user("two@example.com"))
    db.session.add_all(Organization(slug=f"o-{i:02d}", name=f"Zeta {i:02d}") for i in range(55))
    db.session.commit()
    body = admin_client.get("/admin/orgs?q=acme").get_data(as_text=True)
    row = body.split(f'id="org-{acme.id}"')[1].split("</tr>")[0]
    assert '<td class="num">2</td>' in row
    first = admin_client.get("/admin/orgs").get_data(as_text=True)
    assert "Page 1 of 2" in first and "Zeta 54" not in first
    second = admin_client.get("/admin/orgs?page=2", headers=HX).get_data(as_text=True)
    assert second.lstrip().startswith('<div id="orgs-table"') and "Zeta 54" in second
