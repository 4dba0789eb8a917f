"""/tokens, an org's service tokens and the admin list: the secret appears in exactly one
response, nobody reaches others' tokens, bad input is a 422 at the field."""

from __future__ import annotations

import logging
import re
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests import factories
from tests.blueprints.test_account import login_with_csrf
from tests.conftest import login
from webapp.extensions import db
from webapp.models import AccessToken, AuditEvent, Budget, UsageRecord
from webapp.services.tokens import manage
from webapp.services.tokens.rules import TokenInput
from webapp.services.tokens.secrets import hash_secret

HX = {"HX-Request": "true"}
SECRET_RE = re.compile(r"sb-[A-Za-z0-9_-]{43}")


@pytest.fixture
def acme(app):  # type: ignore[no-untyped-def]
    return factories.make_org("acme", "Acme")


@pytest.fixture
def org_admin(app, acme):  # type: ignore[no-untyped-def]
    user = factories.make_user("boss@example.com")
    factories.add_member(acme, user, "org_admin")
    return user


@pytest.fixture
def org_admin_client(app, org_admin):  # type: ignore[no-untyped-def]
    return login(app.test_client(), org_admin.email)


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count(AccessToken.id))) or 0


def _secret_in(response) -> str:  # type: ignore[no-untyped-def]
    found = SECRET_RE.findall(response.get_data(as_text=True))
    assert found, "no token in the response"
    return found[0]


def _session_of(app, client) -> str:  # type: ignore[no-untyped-def]
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    if cookie is None:
        return ""
    return repr(app.session_interface.get_signing_serializer(app).loads(cookie.value))


def test_member_page_and_its_partial(member_client):
    page = member_client.get("/tokens")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="token-create"' in body and 'id="token-table"' in body
    partial = member_client.get("/tokens", headers=HX).get_data(as_text=True)
    assert partial.lstrip().startswith('<div id="token-table"') and "<html" not in partial


def test_secret_is_shown_once_never_stored_cached_audited_or_logged(app, member_client, caplog):
    caplog.set_level(logging.DEBUG)
    response = member_client.post(
        "/tokens", headers=HX, data={"name": "laptop", "scope": "gateway", "budget_amount": ""}
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "tokens-changed" in response.headers["HX-Trigger"]
    secret = _secret_in(response)
    token = db.session.scalar(sa.select(AccessToken))
    assert token.token_hash == hash_secret(secret) and token.name == "laptop"

    later = member_client.get("/tokens").get_data(as_text=True)
    assert secret not in later and f"{token.prefix}…" in later
    assert secret not in _session_of(app, member_client)
    assert secret not in caplog.text
    rows = db.session.execute(sa.text("SELECT * FROM access_tokens")).all()
    rows += db.session.execute(sa.text("SELECT * FROM audit_events")).all()
    assert all(secret not in repr(tuple(row)) for row in rows)
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.target_type == "access_token"))


def test_plain_form_post_shows_the_secret_in_that_page_without_a_redirect(member_client):
    response = member_client.post("/tokens", data={"name": "no-js", "scope": "gateway"})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    assert "<html" in body and SECRET_RE.search(body)


def test_create_with_limits_models_org_and_budget(member_client, member, acme):
    factories.add_member(acme, member)
    data = {
        "name": "ci",
        "org_id": str(acme.id),
        "scope": "read_only",
        "allowed_models": "openai/*",
        "requests_per_minute": "30",
        "tokens_per_minute": "50000",
        "expires_in_days": "7",
        "budget_amount": "12.5",
        "budget_unit": "usd",
        "budget_period": "monthly",
        "budget_hard": "y",
    }
    response = member_client.post("/tokens", headers=HX, data=data)
    assert response.status_code == 200, response.get_data(as_text=True)
    token = db.session.scalar(sa.select(AccessToken))
    assert (token.org_id, token.scope, token.allowed_models) == (acme.id, "read_only", ["openai/*"])
    assert (token.requests_per_minute, token.tokens_per_minute) == (30, 50000)
    budget = db.session.scalar(sa.select(Budget).where(Budget.access_token_id == token.id))
    assert budget.amount == Decimal("12.5") and budget.period == "monthly" and budget.hard
    row = member_client.get("/tokens").get_data(as_text=True)
    assert re.search(r"0\.00 of 12\.50 USD\s+this month", row) and "Acme" in row


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": ""}, "name", "Give the token a name"),
        ({"allowed_models": "openai/nope-*"}, "allowed_models", "matches no enabled model"),
        ({"allowed_models": "gpt-4o"}, "allowed_models", "not a model id or pattern"),
        ({"requests_per_minute": "0"}, "requests_per_minute", "A whole number from 1"),
        ({"tokens_per_minute": "9" * 30}, "tokens_per_minute", "Not a valid integer"),
        ({"expires_in_days": "-1"}, "expires_in_days", "From 1 to 3650 days"),
        ({"budget_amount": "lots"}, "budget_amount", "Enter a number"),
        ({"budget_amount": "0"}, "budget_amount", "more than 0"),
        ({"org_id": "999999"}, "org_id", "Not a valid choice"),
        ({"scope": "root"}, "scope", "Not a valid choice"),
    ],
)
def test_bad_input_is_422_at_the_field_and_saves_nothing(member_client, data, field, message):
    response = member_client.post("/tokens", headers=HX, data={"name": "x", **data})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in body and message in body
    assert _count() == 0


def test_member_neither_sees_nor_revokes_anothers_token(member_client, member):
    other = factories.make_user("other@example.com")
    theirs = manage.create_personal_token(other, TokenInput(name="their-secret-app"), actor=other)
    assert "their-secret-app" not in member_client.get("/tokens").get_data(as_text=True)
    assert member_client.post(f"/tokens/{theirs.token.id}/revoke", headers=HX).status_code == 404
    db.session.refresh(theirs.token)
    assert theirs.token.revoked_at is None


def test_member_revokes_their_own_token(member_client, member):
    token = manage.create_personal_token(member, TokenInput(name="old"), actor=member).token
    response = member_client.post(f"/tokens/{token.id}/revoke?view=mine", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and f'id="token-{token.id}"' in body and "revoked" in body
    assert ">Revoke<" not in body
    db.session.refresh(token)
    assert token.revoked_at is not None
    plain = manage.create_personal_token(member, TokenInput(name="old2"), actor=member).token
    response = member_client.post(f"/tokens/{plain.id}/revoke")
    assert response.status_code == 303 and response.headers["Location"] == "/tokens"


def test_row_shows_the_tokens_requests_and_cost(member_client, member):
    token = manage.create_personal_token(member, TokenInput(name="busy"), actor=member).token
    for cost in ("0.50", "0.25"):
        db.session.add(
            UsageRecord(
                request_id=uuid.uuid4().hex,
                status="ok",
                access_token_id=token.id,
                cost_usd=Decimal(cost),
            )
        )
    db.session.commit()
    body = member_client.get("/tokens", headers=HX).get_data(as_text=True)
    row = body[body.index(f'id="token-{token.id}"') :]
    assert re.search(r'data-label="requests">\s*2\s*<', row)
    assert "$0.75" in row


def test_org_page_links_to_its_service_tokens(org_admin_client, acme):
    body = org_admin_client.get(f"/admin/orgs/{acme.id}").get_data(as_text=True)
    assert f"/admin/orgs/{acme.id}/tokens" in body


def test_org_admin_creates_and_revokes_service_tokens_of_own_org_only(
    org_admin_client, acme, member
):
    response = org_admin_client.post(
        f"/admin/orgs/{acme.id}/tokens", headers=HX, data={"name": "etl"}
    )
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    secret = _secret_in(response)
    token = db.session.scalar(sa.select(AccessToken))
    assert (token.kind, token.org_id, token.user_id) == ("service", acme.id, None)
    page = org_admin_client.get(f"/admin/orgs/{acme.id}/tokens").get_data(as_text=True)
    assert "etl" in page and "service token" in page and secret not in page

    other = factories.make_org("globex")
    assert org_admin_client.get(f"/admin/orgs/{other.id}/tokens").status_code == 404
    refused = org_admin_client.post(f"/admin/orgs/{other.id}/tokens", data={"name": "x"})
    assert refused.status_code == 404 and _count() == 1
    foreign = manage.create_personal_token(member, TokenInput(name="mine"), actor=member).token
    assert org_admin_client.post(f"/tokens/{foreign.id}/revoke").status_code == 404

    response = org_admin_client.post(f"/tokens/{token.id}/revoke")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/orgs/{acme.id}/tokens"


def test_service_token_form_errors_are_422(org_admin_client, acme):
    response = org_admin_client.post(
        f"/admin/orgs/{acme.id}/tokens", headers=HX, data={"name": "x", "budget_amount": "-3"}
    )
    assert response.status_code == 422 and 'id="budget_amount-error"' in response.get_data(
        as_text=True
    )
    assert _count() == 0


def test_members_cannot_reach_service_token_pages(member_client, acme, member):
    factories.add_member(acme, member)
    assert member_client.get(f"/admin/orgs/{acme.id}/tokens").status_code == 403
    assert (
        member_client.post(f"/admin/orgs/{acme.id}/tokens", data={"name": "x"}).status_code == 403
    )
    assert member_client.get("/admin/tokens").status_code == 403


def test_admin_sees_filters_pages_and_revokes_every_token(
    admin_client, member, org_admin, acme, monkeypatch
):
    monkeypatch.setattr(manage, "TOKENS_PER_PAGE", 2)
    for name in ("alpha", "beta", "gamma"):
        manage.create_personal_token(member, TokenInput(name=name), actor=member)
    service = manage.create_service_token(org_admin, acme.id, TokenInput(name="svc")).token
    first = admin_client.get("/admin/tokens").get_data(as_text=True)
    assert "4 tokens" in first and "Page 1 of 2" in first
    assert "member@example.com" in first or "service token" in first
    found = admin_client.get("/admin/tokens?q=svc", headers=HX).get_data(as_text=True)
    assert "1 token" in found and "svc" in found and "alpha" not in found
    assert admin_client.get("/admin/tokens?page=abc").status_code == 422
    response = admin_client.post(f"/tokens/{service.id}/revoke?view=admin", headers=HX)
    assert response.status_code == 200 and "revoked" in response.get_data(as_text=True)
    revoked = admin_client.get("/admin/tokens?state=revoked").get_data(as_text=True)
    assert "svc" in revoked and "1 token" in revoked


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_token_forms_require_the_csrf_token(app, member):
    client = login_with_csrf(app, member)
    assert client.post("/tokens", headers=HX, data={"name": "x"}).status_code == 400
    assert _count() == 0
    page = client.get("/tokens").get_data(as_text=True)
    csrf = page.split('"X-CSRFToken": "')[1].split('"')[0]
    response = client.post("/tokens", headers={**HX, "X-CSRFToken": csrf}, data={"name": "x"})
    assert response.status_code == 200 and _count() == 1
    token = db.session.scalar(sa.select(AccessToken))
    assert client.post(f"/tokens/{token.id}/revoke", headers=HX).status_code == 400
    db.session.refresh(token)
    assert token.revoked_at is None


def test_cli_prints_the_token_once(runner, member, acme, caplog):
    caplog.set_level(logging.DEBUG)
    factories.add_member(acme, member)
    result = runner.invoke(
        args=[
            "tokens",
            "create",
            member.email,
            "--name",
            "cron",
            "--org",
            "acme",
            "--expires-days",
            "30",
        ]
    )
    assert result.exit_code == 0, result.output
    [secret] = SECRET_RE.findall(result.stdout)
    assert result.stdout.strip() == secret
    assert "shown only this once" in result.stderr
    token = db.session.scalar(sa.select(AccessToken))
    assert token.token_hash == hash_secret(secret) and token.org_id == acme.id
    assert token.expires_at is not None and secret not in caplog.text
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.target_type == "access_token"))
    assert event.actor_label == "system" and secret not in repr(event.diff)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody@example.com", "--name", "x"], "No user has the email"),
        (["member@example.com", "--name", "x", "--org", "nope"], "No organization has the slug"),
        (["member@example.com", "--name", "x", "--org", "acme"], "Choose one of your"),
        (["member@example.com", "--name", "x", "--expires-days", "0"], "From 1 to 3650"),
        (["member@example.com", "--name", " "], "Give the token a name"),
    ],
)
def test_cli_refuses_unknown_email_org_and_bad_input(runner, member, acme, args, message):
    result = runner.invoke(args=["tokens", "create", *args])
    assert result.exit_code != 0 and message in result.output
    assert not SECRET_RE.search(result.output)
    assert _count() == 0
