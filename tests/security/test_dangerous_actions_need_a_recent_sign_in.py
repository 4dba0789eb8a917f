"""Dangerous actions need a sign-in from the last 15 minutes: creating or promoting an admin,
a provider's base URL or fallback-key variable, allowed private hosts, configuration import
and export, deleting providers, sending a stored key to a new address (any scope, any route)
and creating a token that reaches the management API. A session restored from the remember-me
cookie is never recent. htmx requests get a re-authentication prompt (401 + HX-Redirect), not
a partial. On the API a full token stands for the recent sign-in, and mints nothing wider."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from tests import factories
from tests.security.sign_in_helpers import HX, REMEMBER_COOKIE, client_with, cookie, sign_in
from webapp.extensions import db
from webapp.models import AccessToken, AllowedHost, AuditEvent, Provider, User
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


# --- Sending a stored key to a new address (items 3 and 8) -------------------------------
# A session that is not recent must not re-point a key and confirm the new origin in one
# save, nor confirm one on its own: whatever the route, the services ask for the proof.

ELSEWHERE, ELSEWHERE_ORIGIN = "https://8.8.8.8/v1", "https://8.8.8.8:443"


@pytest.fixture
def scoped_keys(app, admin, member):  # type: ignore[no-untyped-def]
    """scope → (signed-in client maker, key, editor URL, confirm URL): a global key (the
    admin), an org key (its org admin) and a personal key (the member)."""
    org = factories.make_org("acme")
    boss = factories.make_user("boss@example.com")
    factories.add_member(org, boss, "org_admin")
    keys = {
        "global": (admin, factories.global_key("openai"), "/admin/keys"),
        "org": (boss, factories.org_key(org, "openai", "sk-org-key-0000000001"), None),
        "user": (
            member,
            factories.user_key(member, "openai", "sk-own-key-0000000002"),
            "/account/keys",
        ),
    }
    out = {}
    for scope, (person, key, base) in keys.items():
        base = base or f"/admin/orgs/{org.id}/keys"
        out[scope] = (person, key, f"{base}/{key.id}", f"{base}/{key.id}/confirm")
    return out


def _key_form(key, **fields: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    values = {"label": key.label, "base_url": ELSEWHERE, "version": key.version, **fields}
    return {f"edit-{key.id}-{name}": value for name, value in values.items()}


def _key_state(key) -> tuple[object, ...]:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    stored = db.session.get(type(key), key.id)
    confirmations = db.session.scalar(
        sa.select(sa.func.count()).where(AuditEvent.action == "confirm_origin")
    )
    return stored.base_url, stored.approved_origin, stored.version, confirmations


@pytest.mark.parametrize("scope", ["global", "org", "user"])
@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_a_stale_session_cannot_re_point_a_key_and_confirm_it_in_one_save(
    app, scoped_keys, stale, scope, htmx
):
    person, key, editor, _ = scoped_keys[scope]
    client = sign_in(app, person.email)
    stale()
    before = _key_state(key)
    headers = {**HX, "HX-Current-URL": "http://localhost/account"} if htmx else {}
    response = client.post(editor, data=_key_form(key, confirm_origin="y"), headers=headers)
    if htmx:
        assert response.status_code == 401
        assert response.headers["HX-Redirect"].startswith("/reauth?next=")
    else:
        assert response.status_code == 303
        assert urlsplit(response.headers["Location"]).path == "/reauth"
    assert _key_state(key) == before  # not moved, not confirmed, not audited


@pytest.mark.parametrize("scope", ["global", "org", "user"])
def test_a_stale_session_cannot_confirm_a_paused_key(app, scoped_keys, stale, scope):
    person, key, editor, confirm = scoped_keys[scope]
    client = sign_in(app, person.email)
    moved = client.post(editor, data=_key_form(key), headers=HX)  # harmless: it pauses the key
    assert moved.status_code == 200 and "paused" in moved.headers["HX-Trigger"]
    stale()
    before = _key_state(key)
    response = client.post(confirm, data={"origin": ELSEWHERE_ORIGIN}, headers=HX)
    assert response.status_code == 401 and "/reauth" in response.headers["HX-Redirect"]
    assert _key_state(key) == before


@pytest.mark.parametrize("scope", ["global", "org", "user"])
def test_a_recent_sign_in_re_points_and_confirms_in_one_save(app, scoped_keys, scope):
    person, key, editor, _ = scoped_keys[scope]
    client = sign_in(app, person.email)
    response = client.post(editor, data=_key_form(key, confirm_origin="y"), headers=HX)
    assert response.status_code == 200 and '"level": "success"' in response.headers["HX-Trigger"]
    assert _key_state(key)[:2] == (ELSEWHERE, ELSEWHERE_ORIGIN)


def test_a_stale_session_may_re_enter_the_key_for_a_new_address(app, scoped_keys, stale):
    """Typing the key approves where it goes: no stored secret leaves for a new host."""
    person, key, editor, _ = scoped_keys["global"]
    client = sign_in(app, person.email)
    stale()
    form = _key_form(key, secret="sk-typed-again-000000000003")
    response = client.post(editor, data=form, headers=HX)
    assert response.status_code == 200
    assert _key_state(key)[:2] == (ELSEWHERE, ELSEWHERE_ORIGIN)


def test_the_confirm_services_refuse_a_request_nobody_vouched_for(app, admin, member, scoped_keys):
    """A route that forgot to ask, or the gateway: the service itself refuses."""
    from webapp.services.accounts.recent_sign_in import RecentSignInRequired
    from webapp.services.credentials import confirmation, storage

    _, key, _, _ = scoped_keys["user"]
    openai = factories.provider("openai")
    factories.move_provider("openai", ELSEWHERE)  # pauses the personal key and no other
    data = storage.CredentialInput(label=key.label, base_url=ELSEWHERE, confirm_origin=True)
    attempts = [
        lambda: confirmation.confirm_origin(member, key, ELSEWHERE_ORIGIN),
        lambda: confirmation.confirm_env_key_origin(admin, openai),
        lambda: confirmation.confirm_provider_keys(admin, openai),
        lambda: storage.update_credential(member, key, data, key.version),
    ]
    before = _key_state(key)
    with app.test_request_context("/anything", method="POST"):
        for attempt in attempts:
            with pytest.raises(RecentSignInRequired):
                attempt()
            db.session.rollback()
    assert _key_state(key) == before
    attempts[0]()  # outside a request: the operator at the console
    assert _key_state(key)[1] == ELSEWHERE_ORIGIN


# --- Creating a token that reaches the management API (item 3) ---------------------------
# A read-only or full token carries its owner's powers to the API for as long as it lives:
# a session restored from the remember-me cookie must not mint one, on any page or route.


def _token_count() -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(AccessToken)) or 0


@pytest.fixture
def token_pages(app, member):  # type: ignore[no-untyped-def]
    """page → (person, URL): a member's own tokens, and an org's service tokens (its admin)."""
    org = factories.make_org("acme")
    boss = factories.make_user("boss@example.com")
    factories.add_member(org, boss, "org_admin")
    return {"mine": (member, "/tokens"), "service": (boss, f"/admin/orgs/{org.id}/tokens")}


@pytest.mark.parametrize("scope", ["full", "read_only"])
@pytest.mark.parametrize("page", ["mine", "service"])
def test_a_stale_session_cannot_create_a_management_token(app, token_pages, stale, page, scope):
    person, url = token_pages[page]
    client = sign_in(app, person.email)
    stale()
    response = client.post(url, data={"name": "ci", "scope": scope}, headers=HX)
    assert response.status_code == 401 and "/reauth" in response.headers["HX-Redirect"]
    assert "sb-" not in response.get_data(as_text=True)
    response = client.post(url, data={"name": "ci", "scope": scope})
    assert response.status_code == 303 and "/reauth" in response.headers["Location"]
    assert _token_count() == 0


def test_a_session_restored_from_the_remember_cookie_cannot_mint_a_full_token(app, admin):
    """The audit's case: a stolen cookie turned into a lasting full admin credential."""
    remembered = cookie(sign_in(app, admin.email, remember=True), REMEMBER_COOKIE)
    restored = client_with(app, **{REMEMBER_COOKIE: remembered})
    response = restored.post("/tokens", data={"name": "mine now", "scope": "full"}, headers=HX)
    assert response.status_code == 401 and _token_count() == 0


@pytest.mark.parametrize("page", ["mine", "service"])
def test_gateway_tokens_need_no_recent_sign_in(app, token_pages, stale, page):
    person, url = token_pages[page]
    client = sign_in(app, person.email)
    stale()
    response = client.post(url, data={"name": "app", "scope": "gateway"}, headers=HX)
    assert response.status_code == 200 and "sb-" in response.get_data(as_text=True)
    assert _token_count() == 1


@pytest.mark.parametrize("page", ["mine", "service"])
def test_a_recent_sign_in_creates_a_management_token(app, token_pages, page):
    person, url = token_pages[page]
    client = sign_in(app, person.email)
    response = client.post(url, data={"name": "ci", "scope": "full"}, headers=HX)
    assert response.status_code == 200 and "sb-" in response.get_data(as_text=True)


def test_the_token_service_refuses_a_request_nobody_vouched_for(app, member):
    from webapp.services.accounts.recent_sign_in import RecentSignInRequired
    from webapp.services.tokens import manage
    from webapp.services.tokens.rules import TokenInput

    with app.test_request_context("/anything", method="POST"):
        for scope in ("full", "read_only"):
            with pytest.raises(RecentSignInRequired):
                manage.create_personal_token(member, TokenInput("x", scope), actor=member)
        manage.create_personal_token(member, TokenInput("gw", "gateway"), actor=member)
    assert _token_count() == 1


def _api(client, secret: str, **body: object):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {secret}"}
    return client.post("/api/v1/tokens", json={"name": "child", **body}, headers=headers)


def test_an_api_token_mints_no_token_that_reaches_further_than_itself(app, admin):
    from tests.gateway.support import make_token
    from webapp.models.base import utcnow
    from webapp.services.tokens import auth

    auth.clear_cache()
    ends = utcnow() + timedelta(days=2)
    _, secret = make_token(admin, scope="full", expires_at=ends, allowed_models=["openai/*"])
    client = app.test_client()
    later = (ends + timedelta(days=1)).isoformat()
    refusals = {
        "expires_at": [{"scope": "full", "allowed_models": ["openai/*"]}],  # never expires
        "allowed_models": [
            {"scope": "gateway", "expires_in_days": 1},  # every model
            {"scope": "gateway", "expires_in_days": 1, "allowed_models": ["anthropic/*"]},
        ],
    }
    refusals["expires_at"].append(
        {"scope": "gateway", "expires_at": later, "allowed_models": ["openai/*"]}
    )
    for field, bodies in refusals.items():
        for body in bodies:
            response = _api(client, secret, **body)
            assert response.status_code == 422, body
            assert field in response.get_json()["errors"], body
    assert _token_count() == 1
    narrower = {"expires_in_days": 1, "allowed_models": ["openai/gpt-5*"]}
    for scope in ("full", "read_only", "gateway"):
        assert _api(client, secret, scope=scope, **narrower).status_code == 201
    _, read_only = make_token(admin, scope="read_only")
    assert _api(client, read_only, scope="read_only").status_code == 403
    assert _token_count() == 5


# --- The services check it themselves -----------------------------------------------------
# Each dangerous change is refused by its service in a request nobody vouched for (a route
# that forgot to ask, a new route to the same change); the command line needs no proof.


def _dangerous_service_calls(admin: User) -> dict[str, Callable[[], object]]:
    from webapp.services.accounts import sso, users
    from webapp.services.catalog import providers
    from webapp.services.config import apply, export
    from webapp.services.credentials import allowed_hosts

    def edit_mistral(**changes: str) -> Callable[[], object]:
        mistral = factories.provider("mistral")
        values = {
            "display_name": mistral.display_name,
            "protocol": mistral.protocol,
            "base_url": mistral.base_url,
            "api_key_env": mistral.api_key_env,
            **changes,
        }
        data = providers.ProviderInput(**values)  # type: ignore[arg-type]
        return lambda: providers.update_provider(admin, mistral, data, mistral.version)

    someone = _someone()
    return {
        "create an admin": lambda: users.create_user(
            "boss@example.com", "a long enough passphrase 1", role="admin", actor=admin
        ),
        "promote to admin": lambda: users.update_user(
            admin, someone, role="admin", mode=someone.mode, active=True, expected_version=None
        ),
        "change a base URL": edit_mistral(base_url="https://8.8.8.8/v1"),
        "change the fallback-key variable": edit_mistral(api_key_env="OPENAI_API_KEY"),
        "delete a provider": lambda: providers.delete_provider(
            admin, factories.provider("mistral")
        ),
        "allow a private host": lambda: allowed_hosts.add_allowed_host(admin, "10.1.2.3:80"),
        "export the config": export.export_document,
        "import a config": lambda: apply.apply_import(admin, {"switchboard_config": 1}),
        "link a sign-on identity": lambda: sso.link_identity(admin, someone, "corp", "sub-1"),
    }


def test_every_dangerous_service_refuses_a_request_nobody_vouched_for(app, admin):
    from webapp.services.accounts.recent_sign_in import RecentSignInRequired

    before = _unchanged()
    calls = _dangerous_service_calls(admin)
    with app.test_request_context("/anything", method="POST"):
        for name, call in calls.items():
            with pytest.raises(RecentSignInRequired, match="needs a recent sign-in"):
                call()
                pytest.fail(f"{name}: done without a recent sign-in")
            db.session.rollback()
    assert _unchanged() == before
    calls["export the config"]()  # outside a request: the operator at the console
    calls["change the fallback-key variable"]()
    assert _unchanged()["mistral"][1] == "OPENAI_API_KEY"


def test_harmless_service_calls_need_no_proof(app, admin):
    from webapp.services.accounts import users
    from webapp.services.catalog import providers

    with app.test_request_context("/anything", method="POST"):
        mistral = factories.provider("mistral")
        data = providers.ProviderInput(
            display_name="Mistral (EU)",
            protocol=mistral.protocol,
            base_url=mistral.base_url,
            api_key_env=mistral.api_key_env,
        )
        providers.update_provider(admin, mistral, data, mistral.version)
        users.create_user("m@example.com", "a long enough passphrase 1", actor=admin)
    assert factories.provider("mistral").display_name == "Mistral (EU)"
