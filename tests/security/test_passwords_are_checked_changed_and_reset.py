"""Passwords: one set of rules everywhere (length, not a common password), a member's own
change, an admin's reset that forces a change at the next sign-in, the ``reset-password``
command — and no password in any log line, audit diff or later page."""

from __future__ import annotations

import logging
import re

import pytest
import sqlalchemy as sa

from tests import factories
from tests.security.sign_in_helpers import HX, sign_in, signed_in
from webapp.extensions import db
from webapp.models import AuditEvent, User
from webapp.services.accounts import passwords
from webapp.services.errors import ValidationError

NEW = "a brand new passphrase 31"
COMMON = ["password123", "qwertyuiop", "1234567890", "  Password123 "]


def _user(email: str) -> User:
    db.session.expire_all()
    return db.session.scalar(sa.select(User).where(User.email == email))


def _audit_text() -> str:
    return " ".join(str(e.diff) for e in db.session.scalars(sa.select(AuditEvent)))


def _change(client, current, new, confirm=None, headers=None):  # type: ignore[no-untyped-def]
    data = {"current_password": current, "new_password": new, "confirm": confirm or new}
    return client.post("/account/password", data=data, headers=headers or {})


# --- the rules ------------------------------------------------------------------------------


@pytest.mark.parametrize("password", COMMON)
def test_common_passwords_are_refused_by_the_rules(password):
    with pytest.raises(ValidationError, match="most common passwords"):
        passwords.check_password_strength(password)


def test_the_common_list_is_the_maintained_one_not_a_handful():
    assert len(passwords._common_passwords()) >= 30_000
    assert not passwords.is_common(factories.PASSWORD)


@pytest.mark.parametrize("password", ["short", "x" * 201])
def test_length_is_bounded(password):
    with pytest.raises(ValidationError, match="characters"):
        passwords.check_password_strength(password)


def test_the_admin_create_form_refuses_a_common_password(admin_client):
    data = {"new-email": "n@example.com", "new-role": "member"}
    data |= {"new-password": "password123", "new-confirm": "password123"}
    response = admin_client.post("/admin/users", data=data, headers=HX)
    assert response.status_code == 422 and "most common passwords" in response.get_data(
        as_text=True
    )


def test_create_user_command_refuses_a_common_password(runner):
    result = runner.invoke(args=["create-user", "c@example.com", "--password", "1234567890"])
    assert result.exit_code != 0 and "most common passwords" in result.output


def test_a_generated_password_for_a_new_user_must_be_changed(app, admin_client):
    data = {"new-email": "gen@example.com", "new-role": "member", "new-generate": "y"}
    body = admin_client.post("/admin/users", data=data, headers=HX).get_data(as_text=True)
    password = re.search(r'class="users-password">([^<]+)<', body).group(1)
    assert _user("gen@example.com").must_change_password
    client = sign_in(app, "gen@example.com", password)
    assert client.get("/").headers["Location"] == "/account/password"


# --- a member's own change ------------------------------------------------------------------


def test_a_member_changes_their_password_on_the_account_page(app, member, caplog):
    caplog.set_level(logging.DEBUG)
    client = sign_in(app, member.email)
    assert 'id="password-section"' in client.get("/account").get_data(as_text=True)
    response = _change(client, factories.PASSWORD, NEW, headers=HX)
    assert response.status_code == 200 and "Password changed" in response.headers["HX-Trigger"]
    assert response.get_data(as_text=True).lstrip().startswith('<section id="password-section"')
    assert signed_in(client)
    assert (
        app.test_client()
        .post("/login", data={"email": member.email, "password": factories.PASSWORD})
        .status_code
        == 422
    )
    sign_in(app, member.email, NEW)
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.target_type == "user", AuditEvent.action == "update")
    )
    assert event.diff == {"password": "[changed]"} and event.actor_id == member.id
    assert _user(member.email).password_changed_at is not None
    for secret in (NEW, factories.PASSWORD):
        assert secret not in caplog.text and secret not in _audit_text()


@pytest.mark.parametrize(
    ("current", "new", "confirm", "field", "message"),
    [
        ("not my password", NEW, NEW, "current_password", "not your current password"),
        (factories.PASSWORD, NEW, NEW + "x", "confirm", "two passwords differ"),
        (factories.PASSWORD, "short", "short", "new_password", "at least 10"),
        (factories.PASSWORD, "password123", "password123", "new_password", "most common"),
        (factories.PASSWORD, factories.PASSWORD, factories.PASSWORD, "new_password", "other"),
    ],
)
def test_a_bad_change_is_422_at_the_field_and_changes_nothing(
    app, member, current, new, confirm, field, message
):
    client = sign_in(app, member.email)
    response = _change(client, current, new, confirm, headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and message in body
    assert f'id="{field}-error"' in body
    assert new not in body and current not in body  # password fields are never re-filled
    sign_in(app, member.email)  # the old password still works


def test_change_without_javascript_redirects_back_to_the_account(app, member):
    client = sign_in(app, member.email)
    response = _change(client, factories.PASSWORD, NEW)
    assert response.status_code == 303 and response.headers["Location"] == "/account"


# --- an admin's reset -----------------------------------------------------------------------


def test_an_admin_reset_shows_a_password_once_and_forces_a_change(app, admin, member, caplog):
    caplog.set_level(logging.DEBUG)
    admin_client = sign_in(app, admin.email)
    victim = sign_in(app, member.email)
    response = admin_client.post(f"/admin/users/{member.id}/password", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    password = re.search(r'class="users-password">([^<]+)<', body).group(1)
    assert password not in response.headers["HX-Trigger"]
    assert password not in admin_client.get(f"/admin/users/{member.id}").get_data(as_text=True)
    assert not signed_in(victim)
    assert password not in caplog.text and password not in _audit_text()
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "update").order_by(AuditEvent.id)
    ).all()[-1]
    assert event.diff == {
        "password": "[changed]",
        "must_change_password": {"before": False, "after": True},
    }

    client = sign_in(app, member.email, password)
    for path in ("/", "/account", "/admin/orgs", "/settings"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["Location"] == "/account/password"
    response = client.get("/account", headers=HX)
    assert response.headers["HX-Redirect"] == "/account/password"
    page = client.get("/account/password")
    assert page.status_code == 200 and "reset by an admin" in page.get_data(as_text=True)
    assert client.get("/static/css/app.css").status_code == 200

    response = _change(client, password, NEW)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert not _user(member.email).must_change_password


def test_sign_out_stays_open_during_a_forced_change(app, admin, member):
    password = passwords.reset_password(member, actor=admin)
    client = sign_in(app, member.email, password)
    assert client.post("/logout").status_code == 303
    assert not signed_in(client)


def test_members_cannot_reset_passwords(member_client, admin):
    assert member_client.post(f"/admin/users/{admin.id}/password").status_code == 403


# --- the command line -----------------------------------------------------------------------


def test_reset_password_command_prints_a_generated_password_once(app, runner, admin):
    victim = sign_in(app, admin.email)
    result = runner.invoke(args=["reset-password", admin.email])
    assert result.exit_code == 0, result.output
    password = re.search(r"New password for \S+: (\S+)", result.output).group(1)
    assert not signed_in(victim)
    client = sign_in(app, admin.email, password)
    assert client.get("/admin/providers").headers["Location"] == "/account/password"


def test_reset_password_command_takes_a_password_or_stdin(app, runner, member):
    result = runner.invoke(args=["reset-password", member.email, "--password", NEW])
    assert result.exit_code == 0 and NEW not in result.output
    assert signed_in(sign_in(app, member.email, NEW))
    args = ["reset-password", member.email, "--stdin"]
    result = runner.invoke(args=args, input="piped pass 99\n")
    assert result.exit_code == 0, result.output
    assert signed_in(sign_in(app, member.email, "piped pass 99"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["reset-password", "nobody@example.com"], "No user has the email"),
        (["reset-password", "member@example.com", "--password", "qwertyuiop"], "most common"),
        (["reset-password", "member@example.com", "--password", "short"], "at least 10"),
    ],
)
def test_reset_password_command_refuses_bad_input(runner, member, args, message):
    result = runner.invoke(args=args)
    assert result.exit_code != 0 and message in result.output
