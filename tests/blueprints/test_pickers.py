"""/admin/pick/<kind>: the searchable pickers that replace full selects of users, orgs and
features (playground, explainer, feature owner)."""

from __future__ import annotations

from tests import factories
from tests.conftest import login
from tests.querycount import count_statements
from webapp.extensions import db
from webapp.models import Feature

HX = {"HX-Request": "true"}


def test_user_search_returns_a_short_list_of_matches(admin_client):
    for i in range(15):
        factories.make_user(f"pat{i:02d}@example.com")
    factories.make_user("someone@example.com")
    with count_statements() as counted:
        body = admin_client.get("/admin/pick/users?q=PAT", headers=HX).get_data(as_text=True)
    assert body.count("data-pick-value=") == 10  # bounded, whatever the number of users
    assert "pat00@example.com" in body and "someone@example.com" not in body
    assert "Type more" in body
    assert counted.count <= 4


def test_search_text_is_not_a_pattern(admin_client):
    factories.make_user("a_b@example.com")
    factories.make_user("axb@example.com")
    body = admin_client.get("/admin/pick/users?q=a_b", headers=HX).get_data(as_text=True)
    assert "a_b@example.com" in body and "axb@example.com" not in body
    body = admin_client.get("/admin/pick/users?q=zzz%25", headers=HX).get_data(as_text=True)
    assert "Nothing matches" in body


def test_org_admin_finds_only_their_orgs_and_no_users(app):
    mine, other = factories.make_org("mine", "Mine Inc"), factories.make_org("other", "Other Inc")
    boss = factories.make_user("boss@example.com")
    factories.add_member(mine, boss, "org_admin")
    db.session.add_all([Feature(slug="ours", name="Ours", org_id=other.id)])
    db.session.commit()
    client = login(app.test_client(), boss.email)
    body = client.get("/admin/pick/orgs?q=inc", headers=HX).get_data(as_text=True)
    assert "Mine Inc" in body and "Other Inc" not in body
    assert "data-pick-value" not in client.get("/admin/pick/features?q=ours").get_data(as_text=True)
    assert client.get("/admin/pick/users?q=b").status_code == 404
    assert client.get("/admin/pick/nothing?q=b").status_code == 404


def test_members_cannot_search(member_client):
    assert member_client.get("/admin/pick/orgs?q=a").status_code == 403


def test_explainer_refuses_an_id_that_is_not_a_user(admin_client):
    response = admin_client.get("/admin/effective?user_id=999999&org_id=abc")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "No such user: choose one from the list." in body
    assert "Choose an organization from the list." in body


def test_playground_shows_the_chosen_user_without_listing_everyone(admin_client, admin):
    for i in range(30):
        factories.make_user(f"many{i:02d}@example.com")
    body = admin_client.get("/admin/playground").get_data(as_text=True)
    assert f'value="{admin.email}"' in body  # the picker shows the signed-in admin
    assert "many05@example.com" not in body
    assert 'hx-get="/admin/pick/users"' in body
