"""Management API fixtures: people in each role and an access token for each, sent as
``Authorization: Bearer``; every test starts with an empty token cache and inside one
rate-limit minute."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests import factories
from tests.gateway.support import make_token
from webapp.models import OrgRole, TokenScope, User
from webapp.models.base import utcnow
from webapp.services.tokens import auth


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> Iterator[None]:
    auth.clear_cache()
    yield
    auth.clear_cache()


@pytest.fixture(autouse=True)
def _one_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    from webapp.gateway import rate_limits

    monkeypatch.setattr(rate_limits, "clock", lambda: 1_800_000_030.0)


@dataclass
class Caller:
    """A test client that sends one access token with every request."""

    client: FlaskClient
    secret: str | None
    user: User | None = None

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.secret is not None:
            headers["Authorization"] = f"Bearer {self.secret}"
        return headers

    def open(self, method: str, path: str, json: Any = None, **kwargs: Any) -> Any:
        url = path if path.startswith("/") else f"/api/v1/{path}"
        return self.client.open(
            url,
            method=method,
            json=json,
            headers=self.headers(kwargs.pop("headers", None)),
            **kwargs,
        )

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.open("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.open("POST", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.open("PATCH", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.open("PUT", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.open("DELETE", path, **kwargs)


def token_for(app: Flask, user: User | None, scope: str = TokenScope.FULL, **fields: Any) -> Caller:
    secret = make_token(user, scope=scope, **fields)[1] if user is not None else None
    return Caller(app.test_client(), secret, user)


@pytest.fixture
def org(app: Flask):  # type: ignore[no-untyped-def]
    return factories.make_org("acme", "Acme")


@pytest.fixture
def org_admin(app: Flask, org):  # type: ignore[no-untyped-def]
    user = factories.make_user("orgadmin@example.com")
    factories.add_member(org, user, OrgRole.ORG_ADMIN)
    return user


@pytest.fixture
def as_admin(app: Flask, admin) -> Caller:  # type: ignore[no-untyped-def]
    return token_for(app, admin)


@pytest.fixture
def as_member(app: Flask, member, org) -> Caller:  # type: ignore[no-untyped-def]
    factories.add_member(org, member)
    return token_for(app, member)


@pytest.fixture
def as_org_admin(app: Flask, org_admin) -> Caller:  # type: ignore[no-untyped-def]
    return token_for(app, org_admin)


@pytest.fixture
def as_anonymous(app: Flask) -> Caller:
    return token_for(app, None)


@pytest.fixture
def as_revoked(app: Flask, admin) -> Caller:  # type: ignore[no-untyped-def]
    return token_for(app, admin, revoked_at=utcnow())


@pytest.fixture
def as_read_only(app: Flask, admin) -> Caller:  # type: ignore[no-untyped-def]
    return token_for(app, admin, TokenScope.READ_ONLY)
