"""Dangerous actions need a sign-in from the last 15 minutes: creating or promoting an admin,
a provider's base URL or fallback-key variable, allowed private hosts, configuration import
and export, deleting providers. A session restored from the remember-me cookie is never
recent. htmx requests get a re-authentication prompt (401 + HX-Redirect), not a partial."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from tests import factories
from tests.security.sign_in_helpers import HX, REMEMBER_COOKIE, client_with, cookie, sign_in
from webapp.extensions import db
from webapp.models import AllowedHost, Provider, User
from webapp.services.accounts import sessions

STALE = 16 * 60
PAGE = "http://localhost/admin/providers?q=x"


def _provider_form(provider: Provider, **changes: str) -> dict[str, object]:
    return {
        "display_name": provider.display_name,
        "protocol": provider.protocol,
        "base_url": provider.base_url or "",
        "api_key_env": provider.api_key_env or "",
        "credit_multiplier": "1",
        "enabled": "y",
        "version": provider.version,
        **changes,
    }


def _user_edit(user: User, role: str) -> dict[str, object]:
    values = {"role": role, "mode": user.mode, "active": "active", "version": user.version}
    return {f"user-{user.id}-{k}": v for k, v in values.items()}


# name → (method, url, form data) built when the test runs
DANGEROUS: dict[str, Callable[[], tuple[str, str, dict[str, object]]]] = {
    "create an admin": lambda: (
        "POST",
        "/admin/users",
        {"new-email": "boss@example.com", "new-role": "admin", "new-generate": "y"},
    ),
    "promote to admin": lambda: (
        "POST",
        f"/admin/users/{_someone().id}",
        _user_edit(_someone(), "admin"),
    ),
    "change a base URL": lambda: (
        "POST",
        f"/admin/providers/{factories.provider('mistral').id}",
        _provider_form(factories.provider("mistral"), base_url="https://other.example.com/v1"),
    ),
    "change the fallback-key variable": lambda: (
        "POST",
        f"/admin/providers/{factories.provider('mistral').id}",
        _provider_form(factories.provider("mistral"), api_key_env="OPENAI_API_KEY"),
    ),
    "delete a provider": lambda: (
        "POST",
        f"/admin/providers/{factories.provider('mistral').id}/delete",
        {},
    ),
    "allow a private host": lambda: ("POST", "/admin/keys/allowed-hosts", {"host": "10.1.2.3:80"}),
    "open the config page": lambda: ("GET", "/admin/config", {}),
    "export the config": lambda: ("GET", "/admin/config/export?format=json", {}),
    "import a config": lambda: ("POST", "/admin/config/import", {"document": "{}", "apply": "1"}),
}


def _someone() -> User:
    return db.session.scalar(sa.select(User).where(User.email == "someone@example.com")) or (
        factories.make_user("someone@example.com")
    )


def _unchanged() -> dict[str, object]:
    """What the dangerous actions would change."""
    db.session.expire_all()
    mistral = factories.provider("mistral")
    return {
        "admins": db.session.scalar(sa.select(sa.func.count()).where(User.role == "admin")),
        "mistral": (mistral.base_url, mistral.api_key_env) if mistral else None,
        "hosts": db.session.scalar(sa.select(sa.func.count()).select_from(AllowedHost)),
    }


@pytest.fixture
def stale(monkeypatch):  # type: ignore[no-untyped-def]
    """Call after signing in: moves the clock past the 15 minutes a sign-in is recent."""
    start = sessions.now()
    return lambda: monkeypatch.setattr(sessions, "now", lambda: start + STALE)


@pytest.mark.parametrize("action", DANGEROUS)
def test_a_stale_session_is_asked_for_the_password_and_nothing_changes(app, admin, stale, action):
    client = sign_in(app, admin.email)
    stale()
    _someone()
    before = _unchanged()
    method, url, data = DANGEROUS[action]()
    response = client.open(url, method=method, data=data)
    assert response.status_code == 303, f"{action}: {response.status_code}"
    location = urlsplit(response.headers["Location"])
    assert location.path == "/reauth"
    expected_next = url if method == "GET" else "/"
    assert parse_qs(location.query)["next"] == [expected_next]
    assert _unchanged() == before


@pytest.mark.parametrize("action", DANGEROUS)
def test_htmx_gets_a_reauthentication_prompt_not_a_partial(app, admin, stale, action):
    client = sign_in(app, admin.email)
    stale()
    method, url, data = DANGEROUS[action]()
    response = client.open(url, method=method, data=data, headers={**HX, "HX-Current-URL": PAGE})
    assert response.status_code == 401 and response.get_data(as_text=True) == ""
    assert response.headers["HX-Redirect"] == "/reauth?next=/admin/providers?q%3Dx"
    page = client.get(response.headers["HX-Redirect"]).get_data(as_text=True)
    assert "needs a recent sign-in" in page and 'name="password"' in page


@pytest.mark.parametrize("action", DANGEROUS)
def test_a_recent_sign_in_goes_straight_through(app, admin, action):
    client = sign_in(app, admin.email)
    method, url, data = DANGEROUS[action]()
    response = client.open(url, method=method, data=data, headers=HX)
    assert response.status_code not in (401, 303), f"{action}: {response.status_code}"
    assert "HX-Redirect" not in response.headers


def test_harmless_changes_need_no_recent_sign_in(app, admin, stale):
    client = sign_in(app, admin.email)
    stale()
    mistral = factories.provider("mistral")
    data = _provider_form(mistral, display_name="Mistral (EU)")
    response = client.post(f"/admin/providers/{mistral.id}", data=data, headers=HX)
    assert response.status_code == 200 and "Mistral (EU)" in response.get_data(as_text=True)
    member = {"new-email": "m@example.com", "new-role": "member", "new-generate": "y"}
    assert client.post("/admin/users", data=member, headers=HX).status_code == 200
    assert client.get("/admin/providers").status_code == 200


def test_a_session_restored_from_the_remember_cookie_is_not_recent(app, admin):
    remembered = cookie(sign_in(app, admin.email, remember=True), REMEMBER_COOKIE)
    restored = client_with(app, **{REMEMBER_COOKIE: remembered})
    assert restored.get("/admin/providers").status_code == 200  # signed in …
    response = restored.get("/admin/config")  # … but not recently
    assert response.status_code == 303 and response.headers["Location"].startswith("/reauth")


def test_reauth_confirms_the_password_then_returns_to_next(app, admin, monkeypatch):
    client = sign_in(app, admin.email)
    start = sessions.now()
    monkeypatch.setattr(sessions, "now", lambda: start + STALE)
    assert client.get("/admin/config").status_code == 303
    wrong = client.post("/reauth?next=/admin/config", data={"password": "not it at all"})
    assert wrong.status_code == 422 and "not your password" in wrong.get_data(as_text=True)
    response = client.post("/reauth?next=/admin/config", data={"password": factories.PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/config"
    assert client.get("/admin/config").status_code == 200
    monkeypatch.setattr(sessions, "now", lambda: start + 2 * STALE + 60)
    assert client.get("/admin/config").status_code == 303  # recent only for 15 minutes


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"]
)
def test_reauth_next_stays_on_this_site(app, admin, target):
    client = sign_in(app, admin.email)
    response = client.post(f"/reauth?next={target}", data={"password": factories.PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_htmx_prompt_from_a_foreign_current_url_returns_home(app, admin, stale):
    client = sign_in(app, admin.email)
    stale()
    headers = {**HX, "HX-Current-URL": "https://evil.example/admin"}
    response = client.get("/admin/config", headers=headers)
    assert response.headers["HX-Redirect"] == "/reauth?next=/"


def test_reauth_needs_a_signed_in_user(client):
    response = client.get("/reauth")
    assert response.status_code == 303 and "/login" in response.headers["Location"]
