"""/admin/users: list, search and filter; add users; the inline role / mode / status editor."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests import factories
from tests.conftest import login
from webapp.extensions import db
from webapp.models import AuditEvent, User
from webapp.services.accounts import passwords, users

HX = {"HX-Request": "true"}
NEW_PASSWORD = "a fresh password 42"


def _user(email: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(User).where(User.email == email))


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User)) or 0


def _edit(client, user: User, headers=HX, version: int | None = None, **fields):  # type: ignore[no-untyped-def]
    values = {
        "role": user.role,
        "mode": user.mode,
        "active": "active" if user.active else "deactivated",
        "version": user.version if version is None else version,
        **fields,
    }
    data = {f"user-{user.id}-{name}": value for name, value in values.items()}
    return client.post(f"/admin/users/{user.id}", data=data, headers=headers)


def _create(client, headers=HX, **fields):  # type: ignore[no-untyped-def]
    values = {"email": "new@example.com", "role": "member", **fields}
    data = {f"new-{name}": value for name, value in values.items()}
    return client.post("/admin/users", data=data, headers=headers)


def _user_events(action: str = "update") -> list[AuditEvent]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.target_type == "user", AuditEvent.action == action)
            .order_by(AuditEvent.id)
        )
    )


# --- the list ------------------------------------------------------------------------------


def test_page_lists_users_with_role_mode_status_and_orgs(admin_client, member):
    factories.add_member(factories.make_org("acme", "Acme Corp"), member, "org_admin")
    byok = factories.make_user(
        "byok@example.com", display_name="Bea Byok", mode="byok", active=False
    )
    response = admin_client.get("/admin/users")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    member_row = body.split(f'id="user-{member.id}"')[1].split("</tr>")[0]
    assert "member@example.com" in member_row and "Acme Corp" in member_row
    assert "org admin" in member_row and "managed" in member_row and "never" in member_row
    byok_row = body.split(f'id="user-{byok.id}"')[1].split("</tr>")[0]
    assert "Bea Byok" in byok_row and "bring your own key" in byok_row
    assert "deactivated" in byok_row
    assert 'id="user-create"' in body and 'id="users-table"' in body


def test_last_sign_in_is_shown(admin_client, admin):
    body = admin_client.get("/admin/users").get_data(as_text=True)
    admin_row = body.split(f'id="user-{admin.id}"')[1].split("</tr>")[0]
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", admin_row)


def test_search_matches_email_or_name_ignoring_case(admin_client):
    factories.make_user("alice@example.com", display_name="Alice Liddell")
    factories.make_user("bob@example.com", display_name="Robert")
    body = admin_client.get("/admin/users?q=ALICE").get_data(as_text=True)
    assert "alice@example.com" in body and "bob@example.com" not in body
    body = admin_client.get("/admin/users?q=rob").get_data(as_text=True)
    assert "bob@example.com" in body and "alice@example.com" not in body


def test_search_treats_wildcards_literally(admin_client):
    factories.make_user("carol@example.com", display_name="100% Carol")
    body = admin_client.get("/admin/users?q=%25", headers=HX).get_data(as_text=True)
    assert "carol@example.com" in body and "admin@example.com" not in body


def test_filter_by_role_and_status(admin_client, member):
    factories.make_user("gone@example.com", active=False)
    body = admin_client.get("/admin/users?role=admin", headers=HX).get_data(as_text=True)
    assert "admin@example.com" in body and "member@example.com" not in body
    body = admin_client.get("/admin/users?status=deactivated").get_data(as_text=True)
    assert "gone@example.com" in body and "member@example.com" not in body
    body = admin_client.get("/admin/users?role=member&status=active").get_data(as_text=True)
    assert "member@example.com" in body and "gone@example.com" not in body


def test_filter_partial_for_htmx(admin_client, member):
    response = admin_client.get("/admin/users?role=member", headers=HX)
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="users-table"') and "<html" not in body
    assert "member@example.com" in body and "admin@example.com" not in body
    assert 'hx-get="/admin/users?role=member"' in body  # refreshes itself with its filters


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("role=owner", "Not a valid choice"),
        ("status=zombie", "Not a valid choice"),
        ("page=abc", "Not a valid integer value"),
        ("page=0", "Number must be at least 1"),
        ("q=" + "x" * 101, "cannot be longer than 100"),
        ("q=a%01b", "Remove the control characters."),
    ],
)
def test_bad_filter_is_422_not_500(admin_client, query, message):
    for headers in ({}, HX):
        response = admin_client.get(f"/admin/users?{query}", headers=headers)
        assert response.status_code == 422, (query, headers)
        assert message in response.get_data(as_text=True)


def test_pages_of_fifty(admin_client):
    for n in range(55):
        factories.make_user(f"user{n:02d}@example.com")
    first = admin_client.get("/admin/users?role=member").get_data(as_text=True)
    assert len(re.findall(r'id="user-\d+"', first)) == 50 and "Page 1 of 2" in first
    assert 'href="/admin/users?page=2&amp;role=member"' in first
    second = admin_client.get("/admin/users?role=member&page=2").get_data(as_text=True)
    assert len(re.findall(r'id="user-\d+"', second)) == 5 and "user54@example.com" in second
    beyond = admin_client.get("/admin/users?role=member&page=99").get_data(as_text=True)
    assert "Page 2 of 2" in beyond


# --- adding users --------------------------------------------------------------------------


def test_add_a_user_with_a_typed_password(app, admin_client, admin):
    response = _create(
        admin_client, display_name="Nia New", password=NEW_PASSWORD, confirm=NEW_PASSWORD
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="user-create"')
    assert NEW_PASSWORD not in body
    trigger = response.headers["HX-Trigger"]
    assert "new@example.com added" in trigger and "users-changed" in trigger
    user = _user("new@example.com")
    assert user.display_name == "Nia New" and user.role == "member"
    login(app.test_client(), "new@example.com", NEW_PASSWORD)
    (event,) = _user_events("create")[-1:]
    assert event.actor_id == admin.id
    assert event.diff == {"email": "new@example.com", "role": "member", "password": "[set]"}


def test_add_a_user_with_a_generated_password_shown_once(app, admin_client):
    response = _create(admin_client, role="admin", generate="y")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    password = re.search(r'<code class="users-password">([^<]+)</code>', body).group(1)
    assert len(password) >= passwords.MIN_PASSWORD_LENGTH
    assert password not in response.headers["HX-Trigger"]
    assert "shown once" in response.headers["HX-Trigger"]
    assert _user("new@example.com").role == "admin"
    login(app.test_client(), "new@example.com", password)
    assert password not in admin_client.get("/admin/users").get_data(as_text=True)
    assert all(password not in str(e.diff) for e in db.session.scalars(sa.select(AuditEvent)))


def test_add_a_user_without_javascript(admin_client):
    response = _create(admin_client, headers={}, password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert response.status_code == 303 and response.headers["Location"] == "/admin/users"
    assert "new@example.com added" in admin_client.get("/admin/users").get_data(as_text=True)


def test_generated_password_without_javascript_is_shown_on_the_page(admin_client):
    response = _create(admin_client, headers={}, generate="y")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in body
    assert 'class="users-password"' in body and response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": "not-an-email", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, "email"),
        ({"password": "short", "confirm": "short"}, "at least 10 characters"),
        ({"password": NEW_PASSWORD, "confirm": "something else"}, "The two passwords differ."),
        ({}, "Type a password twice"),
        ({"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "generate": "y"}, "Leave the"),
        (
            {"email": "MEMBER@example.com", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
            "already exists",
        ),
        ({"role": "root", "generate": "y"}, "Not a valid choice"),
        ({"display_name": "ctl\x01byte", "generate": "y"}, "Remove the control characters."),
    ],
)
def test_bad_new_user_is_422_at_the_field_and_saves_nothing(admin_client, member, fields, message):
    before = _count()
    for headers in (HX, {}):
        response = _create(admin_client, headers=headers, **fields)
        body = response.get_data(as_text=True)
        assert response.status_code == 422, (fields, headers)
        assert message in body and "field-error" in body
        assert NEW_PASSWORD not in body  # a typed password is never echoed back
    assert _count() == before


# --- the row editor ------------------------------------------------------------------------


def test_open_the_row_editor_and_cancel(admin_client, member):
    response = admin_client.get(f"/admin/users/{member.id}?edit=1", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<tr id="user-{member.id}" class="editing"')
    assert f'name="user-{member.id}-role"' in body and f'name="user-{member.id}-version"' in body
    response = admin_client.get(f"/admin/users/{member.id}", headers=HX)
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith(f'<tr id="user-{member.id}">') and "<form" not in body


def test_row_editor_without_javascript_is_a_page(admin_client, member):
    body = admin_client.get(f"/admin/users/{member.id}?edit=1").get_data(as_text=True)
    assert "<html" in body and f'name="user-{member.id}-mode"' in body


def test_unknown_user_is_404(admin_client):
    assert admin_client.get("/admin/users/9999?edit=1").status_code == 404
    assert admin_client.post("/admin/users/9999", data={}).status_code == 404


def test_edit_role_mode_and_status_is_audited(admin_client, admin, member):
    response = _edit(admin_client, member, role="admin", mode="byok", active="deactivated")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<tr id="user-{member.id}"')
    assert "deactivated" in body and "member@example.com saved" in response.headers["HX-Trigger"]
    user = _user("member@example.com")
    assert (user.role, user.mode, user.active) == ("admin", "byok", False)
    event = _user_events()[-1]
    assert event.actor_id == admin.id and event.target_id == str(member.id)
    assert event.target_label == "member@example.com"
    assert event.diff == {
        "active": {"before": True, "after": False},
        "mode": {"before": "managed", "after": "byok"},
        "role": {"before": "member", "after": "admin"},
    }
    assert "password" not in str(event.diff) and "nonce" not in str(event.diff)


def test_saving_unchanged_values_records_nothing(admin_client, member):
    version = member.version
    assert _edit(admin_client, member).status_code == 200
    assert _user_events() == [] and _user("member@example.com").version == version


def test_edit_without_javascript_redirects(admin_client, member):
    response = _edit(admin_client, member, headers={}, mode="byok")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/users"
    assert _user("member@example.com").mode == "byok"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"role": "member"}, "cannot remove your own admin role"),
        ({"active": "deactivated"}, "cannot deactivate your own account"),
    ],
)
def test_admin_cannot_demote_or_deactivate_themselves(admin_client, admin, fields, message):
    factories.make_user("second-admin@example.com", role="admin")
    for headers in (HX, {}):
        response = _edit(admin_client, admin, headers=headers, **fields)
        body = response.get_data(as_text=True)
        assert response.status_code == 422 and message in body and "field-error" in body
    user = _user("admin@example.com")
    assert user.role == "admin" and user.active
    assert _user_events() == []


def test_bad_edit_values_are_422(admin_client, member):
    response = _edit(admin_client, member, role="root", mode="free")
    assert response.status_code == 422
    assert response.get_data(as_text=True).count("Not a valid choice") == 2
    response = _edit(admin_client, member, version="abc")
    assert response.status_code == 422 and "out of date" in response.get_data(as_text=True)
    assert _user("member@example.com").role == "member"


def test_deactivation_ends_the_users_sessions(app, admin_client, member):
    member_client = login(app.test_client(), member.email)
    assert member_client.get("/account").status_code == 200
    _edit(admin_client, member, active="deactivated")
    response = member_client.get("/account")
    assert response.status_code == 303 and "/login" in response.headers["Location"]
    response = member_client.get("/account", headers=HX)
    assert response.status_code == 401 and "/login" in response.headers["HX-Redirect"]
    refused = app.test_client().post(
        "/login", data={"email": member.email, "password": factories.PASSWORD}
    )
    assert refused.status_code == 422
    _edit(admin_client, _user(member.email), active="active")
    login(app.test_client(), member.email)


def test_stale_form_is_409_with_the_current_values(admin_client, admin, member):
    stale = member.version
    users.update_user(admin, member, role="member", mode="byok", active=True, expected_version=None)
    response = _edit(admin_client, member, version=stale, role="admin", mode="managed")
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Someone else changed this user" in body
    assert body.lstrip().startswith(f'<tr id="user-{member.id}" class="editing"')
    assert '<option selected value="admin">' in body  # what this admin typed is kept
    assert '<option selected value="managed">' in body
    assert "Saved meanwhile by someone else: <code>Bring your own key" in body or (
        "Saved meanwhile by someone else: <code>byok" in body
    )  # and the other admin's value beside it
    assert f'value="{stale + 1}"' in body  # a save from this form now goes through
    user = _user("member@example.com")
    assert (user.role, user.mode) == ("member", "byok")


def test_members_get_403_on_every_users_route(member_client, admin):
    for method, url, data in [
        ("GET", "/admin/users", None),
        ("GET", f"/admin/users/{admin.id}?edit=1", None),
        ("POST", "/admin/users", {"new-email": "x@example.com", "new-generate": "y"}),
        (
            "POST",
            f"/admin/users/{admin.id}",
            {f"user-{admin.id}-{k}": v for k, v in {"role": "member", "version": 1}.items()},
        ),
    ]:
        for headers in ({}, HX):
            response = member_client.open(url, method=method, data=data, headers=headers)
            assert response.status_code == 403, (method, url)
    assert _user("admin@example.com").role == "admin" and _user("x@example.com") is None


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_user_forms_require_the_csrf_token(app, admin, member):
    client = _login_with_csrf(app, admin)
    assert _edit(client, member, mode="byok").status_code == 400
    assert _create(client, generate="y").status_code == 400
    assert _user("member@example.com").mode == "managed" and _user("new@example.com") is None
    page = client.get("/admin/users").get_data(as_text=True)
    token = page.split('"X-CSRFToken": "')[1].split('"')[0]
    response = _edit(client, member, headers={**HX, "X-CSRFToken": token}, mode="byok")
    assert response.status_code == 200 and _user("member@example.com").mode == "byok"


def _login_with_csrf(app, user: User):  # type: ignore[no-untyped-def]
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post(
        "/login", data={"email": user.email, "password": factories.PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303
    return client
