"""Sign-in, sign-out, sessions, CSRF, rate limits and the create-user command."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests import factories
from tests.conftest import login
from webapp.extensions import db
from webapp.models import User


def test_sign_in_then_out(client, member):
    response = client.post(
        "/login", data={"email": "MEMBER@example.com", "password": factories.PASSWORD}
    )
    assert response.status_code == 303
    assert client.get("/").status_code == 200
    response = client.post("/logout")
    assert response.status_code == 303 and response.headers["Location"].endswith("/login")
    assert client.get("/").status_code == 303


def test_wrong_password_is_422_with_a_message_and_no_session(client, member):
    response = client.post("/login", data={"email": member.email, "password": "not the password"})
    assert response.status_code == 422
    assert "Wrong email or password." in response.get_data(as_text=True)
    assert client.get("/").status_code == 303


def test_unknown_email_gets_the_same_message(client):
    response = client.post(
        "/login", data={"email": "nobody@example.com", "password": "whatever123"}
    )
    assert response.status_code == 422
    assert "Wrong email or password." in response.get_data(as_text=True)


def test_empty_form_is_422_with_field_errors(client):
    response = client.post("/login", data={})
    assert response.status_code == 422
    assert "field-error" in response.get_data(as_text=True)


def test_deactivated_user_cannot_sign_in(client, member):
    member.active = False
    db.session.commit()
    response = client.post("/login", data={"email": member.email, "password": factories.PASSWORD})
    assert response.status_code == 422


def test_deactivation_ends_an_existing_session(app, member):
    client = login(app.test_client(), member.email)
    member.active = False
    db.session.commit()
    assert client.get("/").status_code == 303


def test_password_is_stored_hashed(member):
    stored = db.session.scalar(sa.select(User.password_hash).where(User.id == member.id))
    assert factories.PASSWORD not in stored
    assert stored.startswith("pbkdf2:")  # tests use a cheap method; production uses scrypt


def test_next_only_redirects_within_the_site(client, member):
    for target, expected in [
        ("/admin/models", "/admin/models"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ]:
        response = client.post(
            f"/login?next={target}", data={"email": member.email, "password": factories.PASSWORD}
        )
        assert response.status_code == 303
        assert response.headers["Location"] == expected, target
        client.post("/logout")


def test_anonymous_page_request_redirects_to_sign_in(client):
    response = client.get("/admin/providers")
    assert response.status_code == 303
    assert "/login?next=/admin/providers" in response.headers["Location"]


def test_anonymous_htmx_request_gets_401_with_hx_redirect(client):
    response = client.get("/admin/providers", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


def test_anonymous_json_request_gets_401_json(client):
    response = client.get("/admin/providers", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_json()["error"]["type"] == "authentication_error"


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_sign_in_without_csrf_token_is_refused(client, member):
    response = client.post("/login", data={"email": member.email, "password": factories.PASSWORD})
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)
    assert client.get("/").status_code == 303


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_sign_out_without_csrf_token_is_refused(app, member):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post(
        "/login", data={"email": member.email, "password": factories.PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303
    assert client.post("/logout").status_code == 400
    home = client.get("/")
    assert home.status_code == 200  # still signed in
    # Signing in renewed the CSRF secret: the token of the sign-in page is dead now.
    assert client.post("/logout", headers={"X-CSRFToken": token}).status_code == 400
    fresh = home.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post("/logout", headers={"X-CSRFToken": fresh})
    assert response.status_code == 303


def test_sign_out_is_post_only(admin_client):
    assert admin_client.get("/logout").status_code == 405


@pytest.mark.app_config(LOGIN_RATE_LIMIT="3 per minute")
def test_sign_in_attempts_are_rate_limited(client, member):
    for _ in range(3):
        response = client.post("/login", data={"email": member.email, "password": "wrong-password"})
        assert response.status_code == 422
    response = client.post("/login", data={"email": member.email, "password": factories.PASSWORD})
    assert response.status_code == 429
    assert "Retry-After" in response.headers


@pytest.mark.app_config(LOGIN_RATE_LIMIT="3 per minute")
def test_failures_from_other_addresses_do_not_lock_the_account_out(client, member):
    """No hard per-account limit any more: growing delays per account and address instead
    (tests/security/test_failed_sign_ins_slow_down.py)."""
    for i in range(3):
        client.post(
            "/login",
            data={"email": member.email, "password": "wrong-password"},
            environ_base={"REMOTE_ADDR": f"10.0.0.{i}"},
        )
    response = client.post(
        "/login",
        data={"email": member.email, "password": factories.PASSWORD},
        environ_base={"REMOTE_ADDR": "10.0.0.99"},
    )
    assert response.status_code == 303


def test_create_user_command_with_password_option(runner):
    result = runner.invoke(
        args=["create-user", "new@example.com", "--role", "admin", "--password", "a-long-password"]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.email == "new@example.com"))
    assert user.role == "admin"
    assert "a-long-password" not in result.output


def test_create_user_command_reads_password_from_stdin(runner, client):
    result = runner.invoke(args=["create-user", "stdin@example.com"], input="from-stdin-pass\n")
    assert result.exit_code == 0, result.output
    login(client, "stdin@example.com", "from-stdin-pass")


def test_create_user_command_rejects_duplicates_and_short_passwords(runner, member):
    result = runner.invoke(args=["create-user", member.email, "--password", "a-long-password"])
    assert result.exit_code != 0 and "already exists" in result.output
    result = runner.invoke(args=["create-user", "short@example.com", "--password", "short"])
    assert result.exit_code != 0 and "at least" in result.output
    result = runner.invoke(
        args=["create-user", "x@example.com", "--role", "root", "--password", "a-long-password"]
    )
    assert result.exit_code != 0
