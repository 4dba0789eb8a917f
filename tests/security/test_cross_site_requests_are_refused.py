"""Cross-site requests are refused even with a valid CSRF token (Origin and Sec-Fetch-Site
checked on every state change; token-authenticated paths exempt in one place); signing in
starts a new session with a new CSRF secret; production cookies carry the ``__Host-``
prefix; signed-in pages are never cached."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import factories
from tests.conftest import make_app
from tests.security.sign_in_helpers import HX, csrf_token, sign_in, signed_in
from webapp.config import load_config
from webapp.extensions import db
from webapp.models import User
from webapp.request_guards import TOKEN_AUTHENTICATED_PREFIXES, is_token_authenticated

pytestmark = pytest.mark.app_config(WTF_CSRF_ENABLED=True)


def _signed_in_with_token(app, email: str):  # type: ignore[no-untyped-def]
    client = app.test_client()
    token = csrf_token(client, "/login")
    data = {"email": email, "password": factories.PASSWORD, "csrf_token": token}
    assert client.post("/login", data=data).status_code == 303
    return client, csrf_token(client, "/account")


def _mode(client, token, **headers):  # type: ignore[no-untyped-def]
    """A state change with a valid CSRF token: switch the call mode to BYOK."""
    return client.post("/account/mode", data={"mode": "byok", "csrf_token": token}, headers=headers)


def _member_mode(member) -> str:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    return db.session.scalar(sa.select(User.mode).where(User.id == member.id))


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "http://localhost.evil.example"},
        {"Origin": "https://localhost"},  # another scheme is another origin
        {"Origin": "http://localhost:8080"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain is not this app
        {"Sec-Fetch-Site": "same-origin", "Origin": "https://evil.example"},
        {"Origin": "http://localhost", "Sec-Fetch-Site": "cross-site"},
    ],
)
def test_a_cross_site_state_change_is_refused_despite_a_valid_token(app, member, headers):
    client, token = _signed_in_with_token(app, member.email)
    response = _mode(client, token, **headers)
    assert response.status_code == 403
    assert "another site" in response.get_data(as_text=True)
    assert _member_mode(member) == "managed"


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl, tests, old browsers: the CSRF token alone decides
        {"Origin": "http://localhost"},
        {"Origin": "http://LOCALHOST:80"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
        {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
    ],
)
def test_a_same_origin_state_change_goes_through(app, member, headers):
    client, token = _signed_in_with_token(app, member.email)
    assert _mode(client, token, **headers).status_code == 303
    assert _member_mode(member) == "byok"


def test_without_either_header_the_token_is_still_required(app, member):
    client, _ = _signed_in_with_token(app, member.email)
    assert client.post("/account/mode", data={"mode": "byok"}).status_code == 400
    assert _member_mode(member) == "managed"


def test_cross_site_sign_in_is_refused_too(app, member):
    client = app.test_client()
    data = {"email": member.email, "password": factories.PASSWORD}
    data["csrf_token"] = csrf_token(client, "/login")
    response = client.post("/login", data=data, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and not signed_in(client)


def test_reading_is_never_refused(app, member):
    client, _ = _signed_in_with_token(app, member.email)
    response = client.get("/account", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 200  # links from elsewhere still open pages


def test_token_authenticated_paths_are_exempt_in_one_place(client):
    assert TOKEN_AUTHENTICATED_PREFIXES == ("/v1/", "/api/v1/")
    assert is_token_authenticated("/v1/chat/completions")
    assert is_token_authenticated("/api/v1/providers")
    assert not is_token_authenticated("/v1")  # only below the prefix
    assert not is_token_authenticated("/admin/v1/")
    foreign = {"Origin": "https://elsewhere.example", "Sec-Fetch-Site": "cross-site"}
    assert client.post("/v1/chat/completions", headers=foreign).status_code != 403
    assert client.post("/admin/providers", headers=foreign).status_code == 403


@pytest.mark.committed  # a second app: its own connections must see the member
def test_behind_a_trusted_proxy_the_public_origin_counts(
    app, member, database_url: str, instance_path: Path, monkeypatch
):
    monkeypatch.setenv("SWITCHBOARD_TRUSTED_PROXIES", "1")
    proxied = make_app(database_url, instance_path, WTF_CSRF_ENABLED=True)
    proxy = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "switchboard.example.com",
        "Referer": "https://switchboard.example.com/login",  # Flask-WTF's check over HTTPS
    }
    client = proxied.test_client()
    token = csrf_token(client, "/login")
    data = {"email": member.email, "password": factories.PASSWORD, "csrf_token": token}
    own = {**proxy, "Origin": "https://switchboard.example.com"}
    assert client.post("/login", data=data, headers=own).status_code == 303
    internal = {**proxy, "Origin": "http://localhost"}
    token = csrf_token(client, "/account")
    data = {"mode": "byok", "csrf_token": token}
    assert client.post("/account/mode", data=data, headers=internal).status_code == 403


# --- the session and CSRF secret at sign-in ---------------------------------------------------


def test_signing_in_renews_the_csrf_secret(app, member):
    client = app.test_client()
    before = csrf_token(client, "/login")
    data = {"email": member.email, "password": factories.PASSWORD, "csrf_token": before}
    assert client.post("/login", data=data).status_code == 303
    assert _mode(client, before).status_code == 400  # the pre-sign-in token is dead
    after = csrf_token(client, "/account")
    assert after != before and _mode(client, after).status_code == 303


def test_signing_in_starts_a_new_session(app, member):
    client = app.test_client()
    token = csrf_token(client, "/login")
    with client.session_transaction() as planted:
        planted["planted_by_attacker"] = "x"
        planted["next"] = "/account"
    data = {"email": member.email, "password": factories.PASSWORD, "csrf_token": token}
    assert client.post("/login", data=data).status_code == 303
    with client.session_transaction() as session:
        assert "planted_by_attacker" not in session
        assert session["next"] == "/account"  # kept across the sign-in
        assert session["_user_id"].startswith(f"{member.id}:")


# --- cookies and caching ---------------------------------------------------------------------


def test_production_cookies_are_host_prefixed(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    config = load_config(tmp_path, {"SWITCHBOARD_ENV": "production", "SECRET_KEY": "k" * 32})
    assert config["SESSION_COOKIE_NAME"] == "__Host-switchboard_session"
    assert config["REMEMBER_COOKIE_NAME"] == "__Host-switchboard_remember"
    assert config["SESSION_COOKIE_SECURE"] and config["REMEMBER_COOKIE_SECURE"]
    assert config["SESSION_COOKIE_PATH"] == config["REMEMBER_COOKIE_PATH"] == "/"
    assert config["SESSION_COOKIE_DOMAIN"] is None and config["REMEMBER_COOKIE_DOMAIN"] is None
    # Without HTTPS (an operator's explicit choice) browsers would drop __Host- cookies.
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "0")
    config = load_config(tmp_path, {"SWITCHBOARD_ENV": "production", "SECRET_KEY": "k" * 32})
    assert config["SESSION_COOKIE_NAME"] == "switchboard_session"


@pytest.mark.app_config(
    WTF_CSRF_ENABLED=False,
    SESSION_COOKIE_NAME="__Host-switchboard_session",
    SESSION_COOKIE_SECURE=True,
    REMEMBER_COOKIE_NAME="__Host-switchboard_remember",
    REMEMBER_COOKIE_SECURE=True,
)
def test_host_prefixed_cookies_are_set_and_deleted_as_browsers_require(app, member):
    client = app.test_client()
    data = {"email": member.email, "password": factories.PASSWORD, "remember": "y"}
    response = client.post("/login", data=data, base_url="https://localhost")
    cookies = response.headers.getlist("Set-Cookie")
    for name in ("__Host-switchboard_session=", "__Host-switchboard_remember="):
        (header,) = [c for c in cookies if c.startswith(name)]
        assert "Secure" in header and "Path=/" in header and "HttpOnly" in header
        assert "Domain" not in header
    response = client.post("/logout", base_url="https://localhost")
    (deletion,) = [c for c in response.headers.getlist("Set-Cookie") if "switchboard_remember" in c]
    assert "Secure" in deletion and "Expires=Thu, 01 Jan 1970" in deletion


@pytest.mark.app_config(WTF_CSRF_ENABLED=False)
def test_signed_in_pages_are_never_cached(app, admin, member):
    org = factories.make_org("acme")
    client = sign_in(app, admin.email)
    for path in ("/", "/admin/keys", "/account", f"/admin/orgs/{org.id}", "/admin/users"):
        response = client.get(path)
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    response = client.get(f"/admin/orgs/{org.id}", headers=HX)
    assert response.headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/static/css/app.css").headers.get("Cache-Control", "")
    assert "no-store" not in app.test_client().get("/login").headers.get("Cache-Control", "")
