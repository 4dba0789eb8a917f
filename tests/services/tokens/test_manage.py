"""Creating, listing and revoking access tokens: the secret exists only in the return value,
and every permission is checked by the service."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from webapp.extensions import db
from webapp.models import AccessToken, AuditEvent, Budget
from webapp.models.base import utcnow
from webapp.services.billing.budgets import BudgetInput
from webapp.services.errors import NotFound, PermissionDenied, ValidationError
from webapp.services.tokens import manage
from webapp.services.tokens.rules import TokenInput
from webapp.services.tokens.secrets import hash_secret, looks_like_secret


@pytest.fixture
def acme(app):  # type: ignore[no-untyped-def]
    return factories.make_org("acme", "Acme")


@pytest.fixture
def org_admin(app, acme):  # type: ignore[no-untyped-def]
    user = factories.make_user("boss@example.com")
    factories.add_member(acme, user, "org_admin")
    return user


def _dump_tables() -> str:
    """Every row of the token and audit tables as text, to search for a secret."""
    rows = []
    for table in ("access_tokens", "audit_events", "budgets"):
        rows += [repr(tuple(r)) for r in db.session.execute(sa.text(f"SELECT * FROM {table}"))]
    return "\n".join(rows)


def test_secret_is_returned_once_and_stored_only_as_its_hash(member, caplog):
    caplog.set_level(logging.DEBUG)
    created = manage.create_personal_token(member, TokenInput(name="laptop"), actor=member)
    secret = created.secret
    assert looks_like_secret(secret)
    db.session.expire_all()
    token = db.session.get(AccessToken, created.token.id)
    assert token.token_hash == hash_secret(secret) and secret.startswith(token.prefix)
    dump = _dump_tables()
    assert secret not in dump and secret[len(token.prefix) :] not in dump
    assert secret not in caplog.text
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.target_type == "access_token"))
    assert event.action == "create" and event.actor_id == member.id
    diff = json.dumps(event.diff)
    assert "laptop" in diff and token.prefix in diff
    assert secret not in diff and token.token_hash not in diff


def test_two_tokens_never_share_a_secret_or_prefix(member):
    a = manage.create_personal_token(member, TokenInput(name="a"), actor=member)
    b = manage.create_personal_token(member, TokenInput(name="b"), actor=member)
    assert a.secret != b.secret and a.token.prefix != b.token.prefix


def test_every_field_is_checked_and_all_messages_come_at_once(member):
    bad = TokenInput(
        name=" ",
        scope="root",
        allowed_models="openai/*, nosuch/model",
        requests_per_minute=0,
        tokens_per_minute=-5,
        expires_at=utcnow() - timedelta(minutes=1),
    )
    with pytest.raises(ValidationError) as caught:
        manage.create_personal_token(member, bad, actor=member)
    assert set(caught.value.errors) == {
        "name",
        "scope",
        "allowed_models",
        "requests_per_minute",
        "tokens_per_minute",
        "expires_at",
    }
    assert "nosuch/model" in caught.value.errors["allowed_models"]
    assert db.session.scalar(sa.select(sa.func.count(AccessToken.id))) == 0


def test_limits_patterns_and_expiry_are_stored(member):
    created = manage.create_personal_token(
        member,
        TokenInput(
            name="ci",
            scope="read_only",
            allowed_models="openai/*\nanthropic/claude-haiku-4-5",
            requests_per_minute=60,
            tokens_per_minute=100_000,
            expires_in_days=30,
        ),
        actor=member,
    )
    token = created.token
    assert token.allowed_models == ["anthropic/claude-haiku-4-5", "openai/*"]
    assert (token.scope, token.requests_per_minute, token.tokens_per_minute) == (
        "read_only",
        60,
        100_000,
    )
    assert timedelta(days=29) < token.expires_at - utcnow() <= timedelta(days=30)


def test_budget_is_created_with_the_token_and_a_bad_one_saves_nothing(member):
    bad = BudgetInput(period="weekly", unit="usd", amount="-1")
    with pytest.raises(ValidationError) as caught:
        manage.create_personal_token(member, TokenInput(name="x"), actor=member, budget=bad)
    assert {"budget_period", "budget_amount"} <= set(caught.value.errors)
    assert db.session.scalar(sa.select(sa.func.count(AccessToken.id))) == 0

    good = BudgetInput(period="monthly", unit="usd", amount="5", hard=True)
    created = manage.create_personal_token(member, TokenInput(name="x"), actor=member, budget=good)
    budget = db.session.scalar(sa.select(Budget).where(Budget.access_token_id == created.token.id))
    assert budget.period == "monthly" and str(budget.amount).startswith("5") and budget.hard


def test_personal_token_runs_only_in_one_of_the_members_orgs(member, acme):
    other = factories.make_org("globex")
    with pytest.raises(ValidationError) as caught:
        manage.create_personal_token(member, TokenInput(name="x"), actor=member, org_id=other.id)
    assert "org_id" in caught.value.errors
    factories.add_member(acme, member)
    created = manage.create_personal_token(
        member, TokenInput(name="x"), actor=member, org_id=acme.id
    )
    assert created.token.org_id == acme.id and created.token.kind == "personal"


def test_nobody_creates_a_personal_token_for_someone_else(member, admin):
    with pytest.raises(PermissionDenied):
        manage.create_personal_token(member, TokenInput(name="x"), actor=admin)


def test_org_admin_creates_service_tokens_only_for_their_orgs(org_admin, acme, member):
    other = factories.make_org("globex")
    created = manage.create_service_token(org_admin, acme.id, TokenInput(name="app"))
    assert (created.token.kind, created.token.user_id, created.token.org_id) == (
        "service",
        None,
        acme.id,
    )
    with pytest.raises(NotFound):
        manage.create_service_token(org_admin, other.id, TokenInput(name="app"))
    factories.add_member(acme, member)
    with pytest.raises(NotFound):
        manage.create_service_token(member, acme.id, TokenInput(name="app"))


def test_org_admin_may_give_a_service_token_a_budget(org_admin, acme):
    budget = BudgetInput(period="daily", unit="credits", amount="10")
    created = manage.create_service_token(org_admin, acme.id, TokenInput(name="app"), budget=budget)
    assert db.session.scalar(sa.select(Budget.id).where(Budget.access_token_id == created.token.id))


def test_member_can_neither_see_nor_revoke_anothers_token(member):
    other = factories.make_user("other@example.com")
    theirs = manage.create_personal_token(other, TokenInput(name="theirs"), actor=other).token
    mine = manage.create_personal_token(member, TokenInput(name="mine"), actor=member).token
    assert [t.id for t in manage.list_personal(member)] == [mine.id]
    with pytest.raises(NotFound):
        manage.revoke_token(member, theirs.id)
    db.session.refresh(theirs)
    assert theirs.revoked_at is None


def test_org_admin_revokes_in_own_org_only(org_admin, acme, member):
    factories.add_member(acme, member)
    service = manage.create_service_token(org_admin, acme.id, TokenInput(name="svc")).token
    in_org = manage.create_personal_token(
        member, TokenInput(name="in"), actor=member, org_id=acme.id
    ).token
    outside = manage.create_personal_token(member, TokenInput(name="out"), actor=member).token
    assert {t.id for t in manage.list_for_org(org_admin, acme.id)} == {service.id, in_org.id}
    manage.revoke_token(org_admin, service.id)
    manage.revoke_token(org_admin, in_org.id)
    with pytest.raises(NotFound):
        manage.revoke_token(org_admin, outside.id)
    other = factories.make_org("globex")
    with pytest.raises(NotFound):
        manage.list_for_org(org_admin, other.id)
    assert service.revoked_at is not None and in_org.revoked_at is not None


def test_revoke_is_audited_once_and_idempotent(member):
    token = manage.create_personal_token(member, TokenInput(name="x"), actor=member).token
    manage.revoke_token(member, token.id)
    first = token.revoked_at
    manage.revoke_token(member, token.id)
    assert token.revoked_at == first
    actions = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.target_type == "access_token")
    ).all()
    assert sorted(actions) == ["create", "revoke"]


def test_admin_lists_every_token_with_filters_and_pages(
    admin, member, org_admin, acme, monkeypatch
):
    monkeypatch.setattr(manage, "TOKENS_PER_PAGE", 2)
    for name in ("one", "two", "three"):
        manage.create_personal_token(member, TokenInput(name=name), actor=member)
    service = manage.create_service_token(org_admin, acme.id, TokenInput(name="svc")).token
    manage.revoke_token(admin, service.id)
    listing = manage.list_all(admin)
    assert (listing.total, listing.pages, len(listing.tokens)) == (4, 2, 2)
    assert manage.list_all(admin, page=99).page == 2
    assert [t.name for t in manage.list_all(admin, state="revoked").tokens] == ["svc"]
    assert manage.list_all(admin, query="acme").total == 1
    assert manage.list_all(admin, query="member@").total == 3
    assert manage.list_all(admin, query="%").total == 0
    with pytest.raises(PermissionDenied):
        manage.list_all(member)


def test_archived_orgs_get_no_new_tokens(org_admin, acme, member):
    factories.add_member(acme, member)
    acme.archived_at = utcnow()
    db.session.commit()
    with pytest.raises(ValidationError):
        manage.create_service_token(org_admin, acme.id, TokenInput(name="svc"))
    with pytest.raises(ValidationError) as caught:
        manage.create_personal_token(member, TokenInput(name="x"), actor=member, org_id=acme.id)
    assert "org_id" in caught.value.errors
    assert manage.member_orgs(member) == []


def test_deactivated_users_get_no_new_tokens(member):
    member.active = False
    db.session.commit()
    with pytest.raises(ValidationError):
        manage.create_personal_token(member, TokenInput(name="x"), actor=None)


def test_the_token_list_pages_like_every_other_list(admin, member, monkeypatch):
    """Through ``paging.paginate``: an empty list is one empty page, a page past the end
    or below the first shows the nearest one, a huge page number is no query error."""
    monkeypatch.setattr(manage, "TOKENS_PER_PAGE", 2)
    empty = manage.list_all(admin, query="nothing-matches")
    assert (empty.tokens, empty.page, empty.pages, empty.total) == ([], 1, 1, 0)
    for name in ("one", "two", "three"):
        manage.create_personal_token(member, TokenInput(name=name), actor=member)
    assert [t.name for t in manage.list_all(admin, page=2**70).tokens] == ["one"]
    assert [t.name for t in manage.list_all(admin, page=-5).tokens] == ["three", "two"]
