"""Every /api/v1 route × anonymous / member / org admin / admin / revoked / read-only token.

Each route has one request that an admin may make successfully, and the status each role
gets for it: the same permissions as the pages (admin-only pages are 403 for others; records
of others' are 404, as the services hide them). A route missing from the table fails
``test_every_route_is_in_the_matrix``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from tests import factories
from tests.api.conftest import Caller
from tests.gateway.support import make_token
from webapp.extensions import db
from webapp.models import (
    AuditEvent,
    Budget,
    Feature,
    ModelAlias,
    OrgRole,
    Profile,
    Provider,
    TokenScope,
)
from webapp.models.base import utcnow
from webapp.services.accounts import invitations, sso
from webapp.services.accounts.sso_config import OidcProvider
from webapp.services.billing import budgets
from webapp.services.credentials import allowed_hosts

ROLES = ("anonymous", "member", "org_admin", "admin", "revoked", "read_only")
STRONG = "correct horse battery staple 2026!"
CORP = OidcProvider(
    name="corp", label="Corp", issuer="https://idp.example.test", client_id="c", client_secret="s"
)


@dataclass
class World:
    ids: dict[str, int]
    callers: dict[str, Caller]

    def version(self, kind: str) -> int:
        from webapp.models import CatalogModel, Credential, Organization, User

        model = {
            "provider": Provider,
            "model": CatalogModel,
            "credential": Credential,
            "org": Organization,
            "user": User,
            "feature": Feature,
            "budget": Budget,
        }[kind]
        db.session.expire_all()
        return db.session.get(model, self.ids[kind]).version  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def shared_world(module_app: Flask) -> tuple[dict[str, int], dict[str, str | None]]:
    """The records and tokens every case acts on, built once for the module: ids, and the
    secret of each role's token."""
    app = module_app
    admin = factories.make_user("admin@example.com", role="admin")
    member = factories.make_user("member@example.com")
    boss = factories.make_user("orgadmin@example.com")
    factories.make_user("other@example.com")
    org = factories.make_org("acme", "Acme")
    membership = factories.add_member(org, member)
    factories.add_member(org, boss, OrgRole.ORG_ADMIN)
    doomed = Provider(slug="doomed", display_name="Doomed", protocol="openai", is_preset=False)
    db.session.add(doomed)
    db.session.commit()
    key = factories.global_key("openai", "sk-matrix-global-key-000000001")
    token = make_token(member, name="member's")[0]
    feature = Feature(org_id=org.id, slug="support", name="Support")
    profile = Profile(org_id=org.id, name="speedy")
    alias = ModelAlias(name="house-chat", model_id=factories.model("openai/gpt-5.4-mini").id)
    db.session.add_all([feature, profile, alias])
    db.session.commit()
    beta = factories.make_org("beta", "Beta")
    invited = invitations.invite(admin, org, "invitee@example.com", OrgRole.MEMBER)
    mine = invitations.invite(admin, beta, "admin@example.com", OrgRole.MEMBER)
    host = allowed_hosts.add_allowed_host(admin, "localhost:11434")
    app.config["OIDC_PROVIDERS"] = (CORP,)  # put back after the module
    linked = sso.link_identity(admin, member, "corp", "member-at-corp")
    budget = budgets.create_budget(
        member,
        budgets.BudgetOwner("token", token.id),
        budgets.BudgetInput(period="monthly", unit="usd", amount="5"),
    )
    ids = {
        "provider": doomed.id,
        "model": factories.model("openai/gpt-5.4-mini").id,
        "credential": key.id,
        "org": org.id,
        "membership": membership.id,
        "user": member.id,
        "token": token.id,
        "record": 999_999,
        "openai": factories.provider("openai").id,
        "feature": feature.id,
        "profile": profile.id,
        "alias": alias.id,
        "budget": budget.id,
        "invitation": invited.id,
        "my_invitation": mine.id,
        "host": host.id,
        "identity": linked.id,
        "event": db.session.scalar(sa.select(AuditEvent.id).order_by(AuditEvent.id.desc())),
    }
    full = TokenScope.FULL
    secrets = {
        "anonymous": None,
        "member": make_token(member, scope=full)[1],
        "org_admin": make_token(boss, scope=full)[1],
        "admin": make_token(admin, scope=full)[1],
        "revoked": make_token(admin, scope=full, revoked_at=utcnow())[1],
        "read_only": make_token(admin, scope=TokenScope.READ_ONLY)[1],
    }
    return ids, secrets


@pytest.fixture
def world(app: Flask, shared_world: tuple[dict[str, int], dict[str, str | None]]) -> World:
    """The shared records, and a client of its own for each role in this test."""
    ids, secrets = shared_world
    return World(ids, {role: Caller(app.test_client(), secret) for role, secret in secrets.items()})


Body = Callable[[World], Any] | dict[str, Any] | None


@dataclass(frozen=True)
class Case:
    method: str
    rule: str  # as in the url map
    admin: int | tuple[int, ...]
    member: int | tuple[int, ...]
    org_admin: int | tuple[int, ...]
    body: Body = None
    owner: str = ""  # which record ``<int:owner_id>`` names
    invitation: str = "invitation"  # which one ``<int:invitation_id>`` names
    read_only: int | None = None  # a read-only admin token's status, when not the admin's

    def url(self, world: World) -> str:
        path = self.rule
        if self.owner:
            path = path.replace("<int:owner_id>", str(world.ids[self.owner]))
        path = path.replace("<int:invitation_id>", str(world.ids[self.invitation]))
        for name, key in (
            ("provider_id", "provider"),
            ("model_id", "model"),
            ("credential_id", "credential"),
            ("org_id", "org"),
            ("membership_id", "membership"),
            ("user_id", "user"),
            ("token_id", "token"),
            ("record_id", "record"),
            ("feature_id", "feature"),
            ("profile_id", "profile"),
            ("alias_id", "alias"),
            ("budget_id", "budget"),
            ("event_id", "event"),
            ("host_id", "host"),
            ("identity_id", "identity"),
        ):
            path = path.replace(f"<int:{name}>", str(world.ids[key]))
        return path

    def expected(self, role: str) -> tuple[int, ...]:
        if role in ("anonymous", "revoked"):
            return (401,)
        if role == "read_only":
            if self.read_only is not None:
                return (self.read_only,)
            return _many(self.admin) if self.method == "GET" else (403,)
        return _many(getattr(self, role))


def _many(value: int | tuple[int, ...]) -> tuple[int, ...]:
    return value if isinstance(value, tuple) else (value,)


ADMIN = {"member": 403, "org_admin": 403}
HIDDEN = {"member": 404, "org_admin": 404}
ALL_OK = {"member": 200, "org_admin": 200}
ORG = {"member": 404, "org_admin": 200}

CASES = [
    Case("GET", "/api/v1/me", 200, **ALL_OK),
    Case("PATCH", "/api/v1/me", 200, **ALL_OK, body={"mode": "byok"}),
    Case("GET", "/api/v1/providers", 200, **ADMIN),
    Case(
        "POST",
        "/api/v1/providers",
        201,
        **ADMIN,
        body={"slug": "brand-new", "display_name": "Brand new", "protocol": "openai"},
    ),
    Case("GET", "/api/v1/providers/<int:provider_id>", 200, **ADMIN),
    Case(
        "PATCH",
        "/api/v1/providers/<int:provider_id>",
        200,
        **ADMIN,
        body=lambda w: {"display_name": "Renamed", "version": w.version("provider")},
    ),
    Case("DELETE", "/api/v1/providers/<int:provider_id>", 204, **ADMIN),
    Case("POST", "/api/v1/providers/<int:provider_id>/test", 200, **ADMIN),
    Case("GET", "/api/v1/providers/<int:provider_id>/live-models", 200, **ADMIN),
    Case(
        "POST",
        "/api/v1/providers/<int:provider_id>/live-models",
        (201, 422),
        **ADMIN,
        body={"model_ids": ["some-live-model"]},
    ),
    Case("GET", "/api/v1/models", 200, **ADMIN),
    Case(
        "POST",
        "/api/v1/models",
        201,
        **ADMIN,
        body={"provider": "openai", "model_id": "hand-made", "display_name": "Hand made"},
    ),
    Case("GET", "/api/v1/models/<int:model_id>", 200, **ADMIN),
    Case(
        "POST",
        "/api/v1/models/enabled",
        200,
        **ADMIN,
        body=lambda w: {"model_ids": [w.ids["model"]], "enabled": True},
    ),
    Case(
        "PATCH",
        "/api/v1/models/<int:model_id>",
        200,
        **ADMIN,
        body=lambda w: {"display_name": "Mini", "version": w.version("model")},
    ),
    Case("POST", "/api/v1/models/<int:model_id>/default", 200, **ADMIN, body={"kind": "chat"}),
    Case("GET", "/api/v1/credentials", 200, **ALL_OK),
    Case(
        "POST",
        "/api/v1/credentials",
        201,
        member=201,
        org_admin=201,
        body=lambda w: {"provider_id": w.ids["openai"], "secret": "sk-matrix-own-key-0000000002"},
    ),
    Case("GET", "/api/v1/credentials/<int:credential_id>", 200, **HIDDEN),
    Case(
        "PATCH",
        "/api/v1/credentials/<int:credential_id>",
        200,
        **HIDDEN,
        body=lambda w: {"label": "renamed", "version": w.version("credential")},
    ),
    Case("DELETE", "/api/v1/credentials/<int:credential_id>", 204, **HIDDEN),
    Case("POST", "/api/v1/credentials/<int:credential_id>/test", 200, **HIDDEN),
    Case("GET", "/api/v1/tokens", 200, **ALL_OK),
    Case("POST", "/api/v1/tokens", 201, member=201, org_admin=201, body={"name": "ci"}),
    Case("GET", "/api/v1/tokens/<int:token_id>", 200, member=200, org_admin=404),
    Case("DELETE", "/api/v1/tokens/<int:token_id>", 204, member=204, org_admin=404),
    Case("GET", "/api/v1/orgs", 200, member=403, org_admin=200),
    Case("POST", "/api/v1/orgs", 201, **ADMIN, body={"slug": "newco", "name": "NewCo"}),
    Case("GET", "/api/v1/orgs/<int:org_id>", 200, member=404, org_admin=200),
    Case(
        "PATCH",
        "/api/v1/orgs/<int:org_id>",
        200,
        member=404,
        org_admin=200,
        body=lambda w: {"name": "Acme Inc", "version": w.version("org")},
    ),
    Case("GET", "/api/v1/orgs/<int:org_id>/members", 200, member=404, org_admin=200),
    Case(
        "POST",
        "/api/v1/orgs/<int:org_id>/members",
        201,
        member=404,
        org_admin=403,
        body={"email": "other@example.com"},
    ),
    Case(
        "PATCH",
        "/api/v1/orgs/<int:org_id>/members/<int:membership_id>",
        200,
        member=404,
        org_admin=200,
        body={"org_role": "org_admin"},
    ),
    Case(
        "DELETE",
        "/api/v1/orgs/<int:org_id>/members/<int:membership_id>",
        204,
        member=404,
        org_admin=204,
    ),
    Case(
        "POST",
        "/api/v1/orgs/<int:org_id>/credits",
        201,
        **ADMIN,
        body={"amount": "100"},
    ),
    Case("GET", "/api/v1/users", 200, **ADMIN),
    Case(
        "POST", "/api/v1/users", 201, **ADMIN, body={"email": "new@example.com", "password": STRONG}
    ),
    Case("GET", "/api/v1/users/<int:user_id>", 200, **ADMIN),
    Case(
        "PATCH",
        "/api/v1/users/<int:user_id>",
        200,
        **ADMIN,
        body=lambda w: {"mode": "byok", "version": w.version("user")},
    ),
    Case("POST", "/api/v1/users/<int:user_id>/credits", 201, **ADMIN, body={"amount": "10"}),
    Case("GET", "/api/v1/usage/summary", 200, **ALL_OK),
    Case("GET", "/api/v1/usage/records", 200, **ALL_OK),
    Case("GET", "/api/v1/usage/records/<int:record_id>", 404, **HIDDEN),
    Case("GET", "/api/v1/usage/records.csv", 200, **ALL_OK),
    Case("GET", "/api/v1/pricing", 200, **ALL_OK),
    Case("GET", "/api/v1/settings/effective", 200, **ADMIN),
    Case("GET", "/api/v1/audit", 200, **ADMIN),
    Case("GET", "/api/v1/audit/<int:event_id>", 200, **ADMIN),
    Case("GET", "/api/v1/settings/global", 200, **ADMIN),
    Case(
        "PATCH",
        "/api/v1/settings/global",
        200,
        **ADMIN,
        body={"temperature": 0.5, "version": 1},
    ),
    Case("GET", "/api/v1/settings/orgs/<int:owner_id>", 200, **ORG, owner="org"),
    Case(
        "PATCH",
        "/api/v1/settings/orgs/<int:owner_id>",
        200,
        **ORG,
        owner="org",
        body={"max_tokens": 1000, "version": 1},
    ),
    Case("GET", "/api/v1/settings/features/<int:owner_id>", 200, **ORG, owner="feature"),
    Case(
        "PATCH",
        "/api/v1/settings/features/<int:owner_id>",
        200,
        **ORG,
        owner="feature",
        body={"top_p": 0.9, "version": 1},
    ),
    Case("GET", "/api/v1/settings/users/<int:owner_id>", 200, **ADMIN, owner="user"),
    Case(
        "PATCH",
        "/api/v1/settings/users/<int:owner_id>",
        200,
        **ADMIN,
        owner="user",
        body={"max_retries": 1, "version": 1},
    ),
    Case("GET", "/api/v1/features", 200, member=403, org_admin=200),
    Case("POST", "/api/v1/features", 201, **ADMIN, body={"slug": "summaries", "name": "Sum"}),
    Case("GET", "/api/v1/features/<int:feature_id>", 200, **ORG),
    Case(
        "PATCH",
        "/api/v1/features/<int:feature_id>",
        200,
        **ORG,
        body=lambda w: {"name": "Helpdesk", "version": w.version("feature")},
    ),
    Case("DELETE", "/api/v1/features/<int:feature_id>", 204, member=404, org_admin=204),
    Case("GET", "/api/v1/profiles", 200, member=403, org_admin=200),
    Case("POST", "/api/v1/profiles", 201, **ADMIN, body={"name": "careful"}),
    Case("GET", "/api/v1/profiles/<int:profile_id>", 200, **ORG),
    Case("DELETE", "/api/v1/profiles/<int:profile_id>", 204, member=404, org_admin=204),
    Case("GET", "/api/v1/aliases", 200, **ADMIN),
    Case(
        "POST",
        "/api/v1/aliases",
        201,
        **ADMIN,
        body={"name": "team-default", "model": "openai/gpt-5.4-mini"},
    ),
    Case("DELETE", "/api/v1/aliases/<int:alias_id>", 204, **ADMIN),
    Case(
        "POST",
        "/api/v1/budgets",
        201,
        member=201,
        org_admin=403,
        body=lambda w: {"owner": "token", "owner_id": w.ids["token"], "amount": "7"},
    ),
    Case("GET", "/api/v1/budgets/<int:budget_id>", 200, member=200, org_admin=404),
    Case(
        "GET",
        "/api/v1/budgets?owner=token&owner_id=<int:token_id>",
        200,
        member=200,
        org_admin=404,
    ),
    Case(
        "PATCH",
        "/api/v1/budgets/<int:budget_id>",
        200,
        member=200,
        org_admin=404,
        body=lambda w: {"amount": "6", "version": w.version("budget")},
    ),
    Case("DELETE", "/api/v1/budgets/<int:budget_id>", 204, member=204, org_admin=404),
    # invitations, as the org's members page and the invitee's notice
    Case("GET", "/api/v1/orgs/<int:org_id>/invitations", 200, **ORG),
    Case(
        "POST",
        "/api/v1/orgs/<int:org_id>/invitations",
        201,
        member=404,
        org_admin=201,
        body={"email": "newbie@example.com", "org_role": "member"},
    ),
    Case(
        "DELETE",
        "/api/v1/orgs/<int:org_id>/invitations/<int:invitation_id>",
        204,
        member=404,
        org_admin=204,
    ),
    Case("GET", "/api/v1/me/invitations", 200, **ALL_OK),
    Case(
        "POST",
        "/api/v1/me/invitations/<int:invitation_id>/accept",
        201,
        **HIDDEN,
        invitation="my_invitation",
    ),
    Case(
        "POST",
        "/api/v1/me/invitations/<int:invitation_id>/decline",
        204,
        **HIDDEN,
        invitation="my_invitation",
    ),
    # users' access
    Case("POST", "/api/v1/users/<int:user_id>/password", 200, **ADMIN),
    Case("POST", "/api/v1/users/<int:user_id>/sessions/end", 204, **ADMIN),
    Case("GET", "/api/v1/users/<int:user_id>/sso-identities", 200, **ADMIN),
    Case(
        "POST",
        "/api/v1/users/<int:user_id>/sso-identities",
        201,
        **ADMIN,
        body={"provider": "corp", "subject": "someone-else"},
    ),
    Case("DELETE", "/api/v1/users/<int:user_id>/sso-identities/<int:identity_id>", 204, **ADMIN),
    # the account page
    Case("GET", "/api/v1/me/preference", 200, **ALL_OK),
    Case("PUT", "/api/v1/me/preference", 200, **ALL_OK, body={"model": None}),
    Case("POST", "/api/v1/me/sessions/end", 204, member=204, org_admin=204),
    # profile settings
    Case("GET", "/api/v1/settings/profiles/<int:owner_id>", 200, **ORG, owner="profile"),
    Case(
        "PATCH",
        "/api/v1/settings/profiles/<int:owner_id>",
        200,
        **ORG,
        owner="profile",
        body={"temperature": 0.3, "version": 1},
    ),
    # keys paused by a new address
    Case("POST", "/api/v1/providers/<int:provider_id>/keys/confirm", 200, **ADMIN, body={}),
    Case("POST", "/api/v1/providers/<int:provider_id>/env-key/confirm", 200, **ADMIN, body={}),
    Case("POST", "/api/v1/credentials/<int:credential_id>/confirm", 200, **HIDDEN, body={}),
    # site settings
    Case("GET", "/api/v1/retention", 200, **ADMIN),
    Case("PATCH", "/api/v1/retention", 200, **ADMIN, body={"record_days": 400}),
    Case("POST", "/api/v1/retention/prune", 200, **ADMIN),
    Case("GET", "/api/v1/billing", 200, **ADMIN),
    Case("PATCH", "/api/v1/billing", 200, **ADMIN, body={"timezone": "Europe/Berlin"}),
    Case("GET", "/api/v1/allowed-hosts", 200, **ADMIN),
    Case("POST", "/api/v1/allowed-hosts", 201, **ADMIN, body={"host": "127.0.0.1:8080"}),
    Case("DELETE", "/api/v1/allowed-hosts/<int:host_id>", 204, **ADMIN),
    # the configuration document: a read-only admin token may not read it either
    Case("GET", "/api/v1/config/export", 200, **ADMIN, read_only=403),
    Case(
        "POST",
        "/api/v1/config/import",
        200,
        **ADMIN,
        body={"document": {"switchboard_config": 1}},
    ),
]


def test_every_route_is_in_the_matrix(app: Flask) -> None:
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    assert routes == {(c.method, c.rule.partition("?")[0]) for c in CASES}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.rule}")
def test_route_by_role(world: World, case: Case, role: str) -> None:
    body = case.body(world) if callable(case.body) else case.body
    response = world.callers[role].open(case.method, case.url(world), json=body)
    assert response.status_code in case.expected(role), response.get_data(as_text=True)[:500]
    assert response.headers["Cache-Control"] == "no-store"
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"
