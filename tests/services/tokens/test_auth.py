"""Recognising an access token: one indexed lookup, a cache of at most a second, and
``last_used_at`` written at most once a minute."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests import factories
from tests.gateway.support import make_token
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.services.tokens import auth


@pytest.fixture(autouse=True)
def _fresh() -> None:
    auth.clear_cache()


def test_a_live_token_is_recognised_with_its_limits(app, member):
    token, secret = make_token(
        member, allowed_models=["openai/*"], requests_per_minute=5, tokens_per_minute=100
    )
    identity = auth.authenticate(secret)
    assert identity.id == token.id and identity.user_id == member.id
    assert identity.requests_per_minute == 5 and identity.tokens_per_minute == 100
    assert identity.may_use("openai/gpt-5.4-mini")
    assert not identity.may_use("anthropic/claude-haiku-5-5")
    assert not identity.may_use("openai-compatible/x")
    _, narrow = make_token(member, name="narrow", allowed_models=["openai/gpt-5*"])
    assert auth.authenticate(narrow).may_use("openai/gpt-5.4-mini")
    assert not auth.authenticate(narrow).may_use("openai/text-embedding-3-small")


@pytest.mark.parametrize(
    ("secret", "reason"),
    [(None, "missing"), ("", "missing"), ("sk-not-ours", "invalid"), ("sb-" + "a" * 43, "invalid")],
)
def test_junk_is_refused_without_a_match(app, secret, reason):
    with pytest.raises(auth.TokenRefused) as excinfo:
        auth.authenticate(secret)
    assert excinfo.value.reason == reason


def test_revoked_expired_and_deactivated_are_refused(app, member):
    _, revoked = make_token(member, name="a", revoked_at=utcnow())
    _, expired = make_token(member, name="b", expires_at=utcnow() - timedelta(seconds=1))
    other = factories.make_user("gone@example.com", active=False)
    _, orphan = make_token(other, name="c")
    org = factories.make_org("old")
    _, archived = make_token(None, org_id=org.id, kind="service", name="d")
    org.archived_at = utcnow()
    db.session.commit()
    for secret, reason in [
        (revoked, "revoked"),
        (expired, "expired"),
        (orphan, "owner_inactive"),
        (archived, "owner_inactive"),
    ]:
        with pytest.raises(auth.TokenRefused) as excinfo:
            auth.authenticate(secret)
        assert excinfo.value.reason == reason


def test_a_gateway_only_token_is_refused_by_the_api(app, member):
    _, secret = make_token(member)  # scope defaults to gateway
    auth.authenticate(secret)
    with pytest.raises(auth.TokenRefused) as excinfo:
        auth.authenticate(secret, gateway=False)
    assert excinfo.value.reason == "scope"


def test_the_lookup_is_cached_for_at_most_a_second(app, member, monkeypatch):
    token, secret = make_token(member)
    clock = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: clock[0])
    loads = []
    real = auth._load
    monkeypatch.setattr(auth, "_load", lambda h: loads.append(h) or real(h))
    auth.authenticate(secret)
    auth.authenticate(secret)
    assert len(loads) == 1
    token.revoked_at = utcnow()
    db.session.commit()
    clock[0] += 1.0
    with pytest.raises(auth.TokenRefused):
        auth.authenticate(secret)
    assert len(loads) == 2


def test_last_used_is_written_at_most_once_a_minute(app, member, monkeypatch):
    token, secret = make_token(member)
    auth.authenticate(secret)
    db.session.refresh(token)
    first = token.last_used_at
    assert first is not None
    auth.clear_cache()
    auth._last_used.clear()
    auth.authenticate(secret)  # a minute has not passed: the stored time is kept
    db.session.refresh(token)
    assert token.last_used_at == first
    token.last_used_at = utcnow() - timedelta(minutes=2)
    db.session.commit()
    auth.clear_cache()
    auth.authenticate(secret)
    db.session.refresh(token)
    assert token.last_used_at > first - timedelta(seconds=1)
    assert token.last_used_at > utcnow() - timedelta(seconds=10)


def test_the_owner_and_org_are_attached_without_a_query(app, member):
    import sqlalchemy as sa

    org = factories.make_org("acme")
    _, secret = make_token(member, org_id=org.id)
    identity = auth.authenticate(secret)
    db.session.expunge_all()
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    sa.event.listen(db.engine, "before_cursor_execute", listener)
    try:
        owner, organization = identity.owner(), identity.organization()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listener)
    assert not statements
    assert owner is not None and owner.id == member.id and owner in db.session
    assert organization is not None and organization.slug == "acme"
    assert auth.authenticate(secret).owner().email == member.email  # cached: same answer
