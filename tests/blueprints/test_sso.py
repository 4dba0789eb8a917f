"""Single sign-on pages: "Sign in with Corp", first sign-in, linking, group mapping, the
password switch, and /reauth by SSO — against the fake OpenID provider on loopback."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests import factories
from tests.conftest import login
from tests.fake_oidc import Login, provider_for, sso_sign_in
from webapp.extensions import db
from webapp.models import AuditEvent, Membership, OrgRole, SsoIdentity, User
from webapp.services.accounts.sso_config import GroupGrant
from webapp.sign_in import SIGNED_IN_AT


@pytest.fixture
def corp(app, fake_oidc, monkeypatch):  # type: ignore[no-untyped-def]
    """The fake provider configured as "corp"; ``corp(**settings)`` reconfigures it."""

    def configure(**settings):  # type: ignore[no-untyped-def]
        provider = provider_for(fake_oidc, "corp", **settings)
        monkeypatch.setitem(app.config, "OIDC_PROVIDERS", (provider,))
        return provider

    configure()
    return configure


def _signed_in_as(client) -> str | None:  # type: ignore[no-untyped-def]
    with client.session_transaction() as session:
        user_id = session.get("_user_id")
    if not user_id:
        return None
    user = db.session.get(User, int(user_id.split(":")[0]))
    return user.email if user else None


def _user(email: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(User).where(User.email == email))


def test_sign_in_page_offers_the_provider_and_the_password_form(app, client, corp):
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in with Corp" in page and "/login/sso/corp" in page
    assert 'name="password"' in page


def test_first_sign_in_creates_a_member_with_a_fresh_session(app, client, corp, fake_oidc):
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
        session["csrf_token"] = "old-csrf-secret"
    login_ = Login(sub="corp-123", email="Ada@Corp.example", name="Ada Lovelace")
    response = sso_sign_in(client, fake_oidc, login_, next="/account")
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    user = _user("ada@corp.example")
    assert user is not None and user.role == "member" and user.active
    assert user.display_name == "Ada Lovelace" and user.last_login_at is not None
    identity = db.session.scalar(sa.select(SsoIdentity).where(SsoIdentity.user_id == user.id))
    assert (identity.issuer, identity.subject) == (fake_oidc.issuer, "corp-123")
    with client.session_transaction() as session:
        assert "planted" not in session and session.get("csrf_token") != "old-csrf-secret"
        assert session["_user_id"].split(":")[1] == user.session_token
        assert isinstance(session.get(SIGNED_IN_AT), int)
    assert client.get("/account").status_code == 200
    # The authorization request carried state, nonce and an S256 challenge.
    sent = fake_oidc.authorize_requests[-1]
    assert sent["code_challenge_method"] == "S256" and sent["nonce"] and sent["state"]
    assert sent["scope"] == "openid email profile" and sent["response_type"] == "code"
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).where(
                AuditEvent.target_type == "sso_identity", AuditEvent.action == "link"
            )
        )
        == 1
    )


def test_second_sign_in_is_the_same_account(app, client, corp, fake_oidc):
    sso_sign_in(client, fake_oidc, Login(sub="s-1", email="bo@corp.example"))
    client.post("/logout")
    other = app.test_client()
    response = sso_sign_in(other, fake_oidc, Login(sub="s-1", email="bo@corp.example"))
    assert response.status_code == 303 and _signed_in_as(other) == "bo@corp.example"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SsoIdentity)) == 1


def test_email_outside_the_allowed_domains_is_refused(app, client, corp, fake_oidc):
    corp(allowed_domains=("corp.example",))
    response = sso_sign_in(client, fake_oidc, Login(sub="x", email="eve@gmail.example"))
    assert response.status_code == 403
    assert "not open to gmail.example" in response.get_data(as_text=True)
    assert _user("eve@gmail.example") is None and _signed_in_as(client) is None


@pytest.mark.parametrize("verified", [False, "false", None])
def test_unverified_email_is_refused(app, client, corp, fake_oidc, verified):
    response = sso_sign_in(
        client, fake_oidc, Login(sub="u", email="una@corp.example", email_verified=verified)
    )
    assert response.status_code == 403
    assert "did not confirm your email" in response.get_data(as_text=True)
    assert _user("una@corp.example") is None and _signed_in_as(client) is None


def test_an_existing_account_is_not_taken_over_by_email(app, client, corp, fake_oidc, member):
    response = sso_sign_in(client, fake_oidc, Login(sub="m-1", email=member.email))
    assert response.status_code == 403
    assert "An admin must link" in response.get_data(as_text=True)
    assert _signed_in_as(client) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SsoIdentity)) == 0


def test_link_by_email_setting_links_an_existing_account(app, client, corp, fake_oidc, member):
    corp(link_by_email=True)
    response = sso_sign_in(client, fake_oidc, Login(sub="m-1", email=member.email))
    assert response.status_code == 303 and _signed_in_as(client) == member.email


def test_no_new_accounts_when_the_provider_does_not_create_users(app, client, corp, fake_oidc):
    corp(create_users=False)
    response = sso_sign_in(client, fake_oidc, Login(sub="n", email="new@corp.example"))
    assert response.status_code == 403 and _user("new@corp.example") is None


def test_deactivated_user_is_refused(app, client, corp, fake_oidc, member):
    db.session.add(SsoIdentity(user_id=member.id, issuer=fake_oidc.issuer, subject="m-9"))
    member.active = False
    db.session.commit()
    response = sso_sign_in(client, fake_oidc, Login(sub="m-9", email=member.email))
    assert response.status_code == 403 and "deactivated" in response.get_data(as_text=True)
    assert _signed_in_as(client) is None


def test_groups_map_to_the_admin_role_and_org_places(app, client, corp, fake_oidc):
    acme, beta = factories.make_org("acme"), factories.make_org("beta")
    corp(
        group_map={
            "sb-admins": (GroupGrant(admin=True),),
            "eng": (GroupGrant(org_slug="acme"),),
            "beta-leads": (GroupGrant(org_slug="beta", org_admin=True),),
        }
    )
    login_ = Login(sub="g-1", email="gil@corp.example", groups=["eng", "beta-leads", "other"])
    assert sso_sign_in(client, fake_oidc, login_).status_code == 303
    user = _user("gil@corp.example")
    assert user.role == "member"
    places = {m.org_id: m.org_role for m in db.session.scalars(sa.select(Membership))}
    assert places == {acme.id: OrgRole.MEMBER, beta.id: OrgRole.ORG_ADMIN}
    # Next time they are in the admins' group: promoted, with a fresh session token.
    client.post("/logout")
    token_before = _user("gil@corp.example").session_token
    login_ = Login(sub="g-1", email="gil@corp.example", groups=["sb-admins", "eng"])
    again = app.test_client()
    assert sso_sign_in(again, fake_oidc, login_).status_code == 303
    user = _user("gil@corp.example")
    assert user.role == "admin" and user.session_token != token_before
    assert again.get("/admin/users").status_code == 200
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.target_label == "gil@corp.example")
    ).all()
    assert any(e.diff and e.diff.get("via") == "corp group sb-admins" for e in events)


def test_admin_links_and_unlinks_an_identity(app, client, corp, fake_oidc, admin, member):
    admin_client = login(app.test_client(), admin.email)
    page = admin_client.get(f"/admin/users/{member.id}").get_data(as_text=True)
    assert 'id="user-sso"' in page and "Link identity" in page
    response = admin_client.post(
        f"/admin/users/{member.id}/sso",
        data={"provider": "corp", "subject": "corp-777"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and "corp-777" in response.get_data(as_text=True)
    # The linked identity signs in as the member, whatever email it carries.
    signed = sso_sign_in(client, fake_oidc, Login(sub="corp-777", email="m@elsewhere.example"))
    assert signed.status_code == 303 and _signed_in_as(client) == member.email
    identity = db.session.scalar(sa.select(SsoIdentity).where(SsoIdentity.subject == "corp-777"))
    response = admin_client.post(
        f"/admin/users/{member.id}/sso/{identity.id}/delete", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and "corp-777" not in response.get_data(as_text=True)
    actions = set(
        db.session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.target_type == "sso_identity")
        )
    )
    assert actions == {"link", "unlink"}
    refused = sso_sign_in(app.test_client(), fake_oidc, Login(sub="corp-777", email=member.email))
    assert refused.status_code == 403


def test_link_form_errors_are_422_at_the_field(app, corp, fake_oidc, admin, member):
    admin_client = login(app.test_client(), admin.email)
    empty = admin_client.post(
        f"/admin/users/{member.id}/sso",
        data={"provider": "corp", "subject": ""},
        headers={"HX-Request": "true"},
    )
    assert empty.status_code == 422 and "field-error" in empty.get_data(as_text=True)
    db.session.add(SsoIdentity(user_id=admin.id, issuer=fake_oidc.issuer, subject="taken"))
    db.session.commit()
    taken = admin_client.post(
        f"/admin/users/{member.id}/sso",
        data={"provider": "corp", "subject": "taken"},
        headers={"HX-Request": "true"},
    )
    assert taken.status_code == 422
    assert "already linked to another user" in taken.get_data(as_text=True)


def test_members_cannot_link_identities(app, corp, member, member_client):
    response = member_client.post(
        f"/admin/users/{member.id}/sso", data={"provider": "corp", "subject": "mine"}
    )
    assert response.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SsoIdentity)) == 0


def test_password_sign_in_turned_off_hides_the_form_and_refuses_posts(
    app, client, corp, member, monkeypatch
):
    monkeypatch.setitem(app.config, "PASSWORD_SIGN_IN", False)
    page = client.get("/login").get_data(as_text=True)
    assert 'name="password"' not in page and "Sign in with Corp" in page
    response = client.post("/login", data={"email": member.email, "password": factories.PASSWORD})
    assert response.status_code == 403 and "turned off" in response.get_data(as_text=True)
    assert _signed_in_as(client) is None


def test_reset_password_cli_still_works_with_password_sign_in_off(
    app, runner, corp, member, monkeypatch
):
    """The emergency path: reset a password from the shell, turn password sign-in back on."""
    monkeypatch.setitem(app.config, "PASSWORD_SIGN_IN", False)
    new_password = "Emergency-pass-2026!"
    result = runner.invoke(args=["reset-password", member.email, "--password", new_password])
    assert result.exit_code == 0, result.output
    monkeypatch.setitem(app.config, "PASSWORD_SIGN_IN", True)
    response = app.test_client().post(
        "/login", data={"email": member.email, "password": new_password}
    )
    assert response.status_code == 303


def test_reauth_by_sso_confirms_a_recent_sign_in(app, client, corp, fake_oidc, monkeypatch):
    monkeypatch.setitem(app.config, "PASSWORD_SIGN_IN", False)
    sso_sign_in(client, fake_oidc, Login(sub="r-1", email="rae@corp.example"))
    with client.session_transaction() as session:
        session[SIGNED_IN_AT] = 0  # long ago
    page = client.get("/reauth?next=/account").get_data(as_text=True)
    assert "Confirm with Corp" in page and 'name="password"' not in page
    response = sso_sign_in(
        client, fake_oidc, Login(sub="r-1", email="rae@corp.example"), reauth="1", next="/account"
    )
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert fake_oidc.authorize_requests[-1]["prompt"] == "login"
    with client.session_transaction() as session:
        assert session[SIGNED_IN_AT] > 0


def test_reauth_by_someone_elses_identity_is_refused(app, client, corp, fake_oidc, member):
    db.session.add(SsoIdentity(user_id=member.id, issuer=fake_oidc.issuer, subject="mem"))
    db.session.commit()
    sso_sign_in(client, fake_oidc, Login(sub="r-2", email="ray@corp.example"))
    with client.session_transaction() as session:
        session[SIGNED_IN_AT] = 0
    response = sso_sign_in(client, fake_oidc, Login(sub="mem", email=member.email), reauth="1")
    assert response.status_code == 403
    with client.session_transaction() as session:
        assert session[SIGNED_IN_AT] == 0


def test_plain_link_post_redirects_and_a_plain_422_shows_the_page(app, corp, admin, member):
    admin_client = login(app.test_client(), admin.email)
    ok = admin_client.post(
        f"/admin/users/{member.id}/sso", data={"provider": "corp", "subject": "plain-1"}
    )
    assert ok.status_code == 303 and ok.headers["Location"] == f"/admin/users/{member.id}"
    bad = admin_client.post(
        f"/admin/users/{member.id}/sso", data={"provider": "nope", "subject": "plain-2"}
    )
    assert bad.status_code == 422
    body = bad.get_data(as_text=True)
    assert "<html" in body.lower() and "Not a valid choice" in body
