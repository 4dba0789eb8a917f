"""Sessions end on the server: cookies captured before a sign-out, a password change or
reset, a role change or a deactivation stop working, and a remember-me cookie has a
lifetime the server checks. "Sign out everywhere" for oneself and for admins (audited).
A password change and "sign out everywhere" also revoke the user's tokens that reach the
management API, so a stolen session leaves no lasting credential; gateway tokens stay."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import factories
from tests.security.sign_in_helpers import (
    HX,
    REMEMBER_COOKIE,
    SESSION_COOKIE,
    client_with,
    cookie,
    sign_in,
    signed_in,
)
from webapp.config import ConfigError, load_config
from webapp.extensions import db
from webapp.models import AccessToken, AuditEvent, User
from webapp.services.accounts import passwords, sessions, users

DAY = 24 * 3600


def _stolen(app, email: str):  # type: ignore[no-untyped-def]
    """A signed-in client, and copies of its session and remember-me cookies."""
    client = sign_in(app, email, remember=True)
    return client, cookie(client, SESSION_COOKIE), cookie(client, REMEMBER_COOKIE)


def test_cookies_captured_before_sign_out_fail_afterwards(app, member):
    client, session_cookie, remember_cookie = _stolen(app, member.email)
    assert signed_in(client_with(app, **{SESSION_COOKIE: session_cookie}))
    assert signed_in(client_with(app, **{REMEMBER_COOKIE: remember_cookie}))
    assert client.post("/logout").status_code == 303
    assert not signed_in(client)
    assert not signed_in(client_with(app, **{SESSION_COOKIE: session_cookie}))
    assert not signed_in(client_with(app, **{REMEMBER_COOKIE: remember_cookie}))


def test_sign_out_deletes_the_remember_cookie_in_the_browser(app, member):
    client, _, _ = _stolen(app, member.email)
    response = client.post("/logout")
    deletions = [h for h in response.headers.getlist("Set-Cookie") if REMEMBER_COOKIE in h]
    assert deletions and "Expires=Thu, 01 Jan 1970" in deletions[0]
    assert cookie(client, REMEMBER_COOKIE) is None


@pytest.mark.parametrize(
    "change",
    [
        "password_reset",
        "password_set_by_operator",
        "promoted",
        "demoted",
        "deactivated",
    ],
)
def test_account_changes_end_every_session(app, admin, member, change):
    target = member
    if change == "demoted":
        target = factories.make_user("second-admin@example.com", role="admin")
    client, session_cookie, remember_cookie = _stolen(app, target.email)
    if change == "password_reset":
        passwords.reset_password(target, actor=admin)
    elif change == "password_set_by_operator":
        passwords.set_password(target, "an operator's choice 77", actor=None)
    else:
        role = {"promoted": "admin", "demoted": "member"}.get(change, target.role)
        users.update_user(
            admin,
            target,
            role=role,
            mode=target.mode,
            active=change != "deactivated",
            expected_version=None,
        )
    assert not signed_in(client)
    assert not signed_in(client_with(app, **{SESSION_COOKIE: session_cookie}))
    assert not signed_in(client_with(app, **{REMEMBER_COOKIE: remember_cookie}))


def test_a_mode_change_keeps_the_sessions(app, admin, member):
    client = sign_in(app, member.email)
    users.update_user(admin, member, role="member", mode="byok", active=True, expected_version=None)
    assert signed_in(client)


def test_own_password_change_ends_other_sessions_and_keeps_this_one(app, member):
    here = sign_in(app, member.email, remember=True)
    elsewhere, session_cookie, remember_cookie = _stolen(app, member.email)
    new = "my own new passphrase 8"
    response = here.post(
        "/account/password",
        data={"current_password": factories.PASSWORD, "new_password": new, "confirm": new},
    )
    assert response.status_code == 303
    assert signed_in(here)
    renewed = cookie(here, REMEMBER_COOKIE)
    assert renewed and renewed != remember_cookie  # this browser keeps a valid remember cookie
    assert signed_in(client_with(app, **{REMEMBER_COOKIE: renewed}))
    assert not signed_in(elsewhere)
    assert not signed_in(client_with(app, **{SESSION_COOKIE: session_cookie}))
    assert not signed_in(client_with(app, **{REMEMBER_COOKIE: remember_cookie}))


def test_remember_cookie_lifetime_is_checked_on_the_server(app, member, monkeypatch):
    _, _, remember_cookie = _stolen(app, member.email)
    start = sessions.now()
    monkeypatch.setattr(sessions, "now", lambda: start + 13 * DAY)
    assert signed_in(client_with(app, **{REMEMBER_COOKIE: remember_cookie}))
    # The browser was told 14 days, but an attacker's copy keeps no expiry: the server decides.
    monkeypatch.setattr(sessions, "now", lambda: start + 14 * DAY + 60)
    assert not signed_in(client_with(app, **{REMEMBER_COOKIE: remember_cookie}))


@pytest.mark.app_config(REMEMBER_COOKIE_DURATION=__import__("datetime").timedelta(days=2))
def test_remember_lifetime_follows_the_configuration(app, member, monkeypatch):
    client, _, remember_cookie = _stolen(app, member.email)
    start = sessions.now()
    monkeypatch.setattr(sessions, "now", lambda: start + 3 * DAY)
    assert not signed_in(client_with(app, **{REMEMBER_COOKIE: remember_cookie}))
    assert not signed_in(client)  # a session is no older than its sign-in allows either


def test_remember_days_come_from_the_environment(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_REMEMBER_DAYS", "3")
    config = load_config(tmp_path, {"SECRET_KEY": "x" * 32})
    assert config["REMEMBER_COOKIE_DURATION"].days == 3
    monkeypatch.setenv("SWITCHBOARD_REMEMBER_DAYS", "forever")
    with pytest.raises(ConfigError, match="SWITCHBOARD_REMEMBER_DAYS"):
        load_config(tmp_path, {"SECRET_KEY": "x" * 32})


def test_session_ids_without_a_current_token_and_sign_in_time_are_refused(member):
    token, now = member.session_token, sessions.now()
    assert sessions.load_session_user(f"{member.id}:{token}:{now}") == member
    for forged in (
        f"{member.id}:{token}",  # the format before sign-in times
        f"{member.id}:{token}:",
        f"{member.id}::{now}",
        f"{member.id}:{'0' * 64}:{now}",
        f"{member.id}:{token}:{now + 3600}",  # from the future
        f"x:{token}:{now}",
    ):
        assert sessions.load_session_user(forged) is None, forged


def test_sign_out_everywhere_from_the_account_page(app, member):
    here = sign_in(app, member.email)
    elsewhere, _, remember_cookie = _stolen(app, member.email)
    assert "Sign out everywhere" in here.get("/account").get_data(as_text=True)
    response = here.post("/account/sessions/end", headers=HX)
    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/login"
    assert not signed_in(here) and not signed_in(elsewhere)
    assert not signed_in(client_with(app, **{REMEMBER_COOKIE: remember_cookie}))
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "sign_out"))
    assert event.actor_id == member.id and event.target_id == str(member.id)


def test_admin_signs_a_user_out_everywhere_and_it_is_audited(app, admin, member):
    admin_client = sign_in(app, admin.email)
    victim, _, remember_cookie = _stolen(app, member.email)
    page = admin_client.get(f"/admin/users/{member.id}").get_data(as_text=True)
    assert 'id="user-access"' in page and "Sign out everywhere" in page
    response = admin_client.post(f"/admin/users/{member.id}/sessions/end", headers=HX)
    assert response.status_code == 200
    assert response.get_data(as_text=True).lstrip().startswith('<section id="user-access"')
    assert "signed out everywhere" in response.headers["HX-Trigger"]
    assert not signed_in(victim)
    assert not signed_in(client_with(app, **{REMEMBER_COOKIE: remember_cookie}))
    assert signed_in(admin_client)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "sign_out"))
    assert (event.actor_id, event.target_label) == (admin.id, member.email)


def test_sign_out_does_not_bump_the_version_an_admin_form_relies_on(app, member):
    client = sign_in(app, member.email)
    client.post("/logout")
    db.session.expire_all()
    assert db.session.get(User, member.id).version == 1


# --- No lasting credential left behind ----------------------------------------------------


def _tokens_of(user, org=None):  # type: ignore[no-untyped-def]
    """A personal token of ``user`` per scope, an already revoked full one, and (with
    ``org``) the org's full service token: name → (row, secret)."""
    from tests.gateway.support import make_token
    from webapp.models.base import utcnow

    made = {scope: make_token(user, scope=scope, name=scope) for scope in SCOPES}
    made["revoked"] = make_token(user, scope="full", name="old", revoked_at=utcnow())
    if org is not None:
        made["service"] = make_token(None, kind="service", org_id=org.id, scope="full")
    return made


def _revoked(tokens) -> set[str]:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    return {
        name
        for name, (token, _) in tokens.items()
        if name != "revoked" and db.session.get(AccessToken, token.id).revoked_at is not None
    }


SCOPES = ("full", "read_only", "gateway")
NEW_PASSWORD = "my own new passphrase 8"
ENDINGS = {
    "own password change": lambda app, user, admin: sign_in(app, user.email).post(
        "/account/password",
        data={
            "current_password": factories.PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
        headers=HX,
    ),
    "sign out everywhere": lambda app, user, admin: sign_in(app, user.email).post(
        "/account/sessions/end", headers=HX
    ),
    "an admin's reset": lambda app, user, admin: sign_in(app, admin.email).post(
        f"/admin/users/{user.id}/password", headers=HX
    ),
    "an admin signs them out": lambda app, user, admin: sign_in(app, admin.email).post(
        f"/admin/users/{user.id}/sessions/end", headers=HX
    ),
    "reset-password command": lambda app, user, admin: app.test_cli_runner().invoke(
        args=["reset-password", user.email]
    ),
}


@pytest.mark.parametrize("ending", ENDINGS)
def test_management_tokens_are_revoked_gateway_tokens_stay(app, admin, member, ending):
    from webapp.services.tokens import auth

    org = factories.make_org("acme")
    factories.add_member(org, member, "org_admin")
    tokens = _tokens_of(member, org)
    before = db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "revoke"))
    response = ENDINGS[ending](app, member, admin)
    assert getattr(response, "status_code", 200) == 200 and getattr(response, "exit_code", 0) == 0
    assert _revoked(tokens) == {"full", "read_only"}
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "revoke")).all()
    assert len(events) == before + 2
    assert all(e.diff["reason"] in ("password changed", "signed out everywhere") for e in events)
    auth.clear_cache()
    for name, (_, secret) in tokens.items():
        answer = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
        expected = {"full": 401, "read_only": 401, "revoked": 401}.get(name, 403)  # gateway: scope
        assert answer.status_code == expected, name


def test_the_pages_say_what_happens_to_the_tokens(app, member):
    _tokens_of(member)
    client = sign_in(app, member.email)
    page = " ".join(client.get("/account").get_data(as_text=True).split())
    assert "revokes your access tokens that reach the management API" in page
    assert "gateway-only tokens keep working" in page
    response = client.post(
        "/account/password",
        data={
            "current_password": factories.PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
        headers=HX,
    )
    assert (
        "2 access tokens reaching the management API were revoked" in response.headers["HX-Trigger"]
    )


def test_signing_out_everywhere_through_the_api_revokes_the_calling_token(app, member):
    from webapp.services.tokens import auth

    tokens = _tokens_of(member)
    auth.clear_cache()
    headers = {"Authorization": f"Bearer {tokens['full'][1]}"}
    assert app.test_client().post("/api/v1/me/sessions/end", headers=headers).status_code == 204
    assert _revoked(tokens) == {"full", "read_only"}
    auth.clear_cache()
    assert app.test_client().get("/api/v1/me", headers=headers).status_code == 401


def test_a_plain_sign_out_leaves_the_tokens_alone(app, member):
    tokens = _tokens_of(member)
    sign_in(app, member.email).post("/logout")
    assert _revoked(tokens) == set()
