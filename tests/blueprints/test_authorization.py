"""Every route in ``app.url_map``, as anonymous, member and admin.

A route added later is covered automatically: its access level comes from ``ACCESS`` or its
URL prefix, and a route that fits neither fails this test until someone classifies it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.routing import Rule

from tests import factories
from tests.conftest import login

PUBLIC, LOGIN, ORG_ADMIN, ADMIN, TOKEN = "public", "login", "org_admin", "admin", "token"
# Signed in, and the record must be the viewer's own: others' are 404 (test_billing.py).
OWNER = "owner"

# Org admins manage their own orgs' pages (other orgs are 404 for them).
ORG_ADMIN_PREFIXES = (
    "/admin/orgs",
    "/admin/features",
    "/admin/pick",  # pickers: their orgs
    "/admin/usage",
)
# ... except these, which only site admins may use.
ADMIN_ONLY = {
    "orgs.create",
    "orgs.archive",
    "features.create_profile",
    "features.profile",
    "features.save_profile",
    "features.delete_profile",
    "usage.retention_settings",
}

# Member pages: any signed-in user, each seeing only their own data.
MEMBER_PREFIXES = ("/account", "/settings", "/usage", "/tokens")

# Old URLs kept as redirects to their new home.
REDIRECTS = {"main.legacy_settings"}

# Explicit levels; anything under /admin/ is ADMIN, under /v1/ TOKEN, unless listed.
ACCESS: dict[str, str] = {
    "static": PUBLIC,
    "auth.login": PUBLIC,
    "sso.start": PUBLIC,
    "sso.callback": PUBLIC,
    "health.healthz": PUBLIC,
    "api_docs.openapi_json": PUBLIC,
    "api_docs.reference": PUBLIC,
    "auth.logout": LOGIN,
    "auth.reauth": LOGIN,
    "main.home": LOGIN,
    "main.admin_home": ADMIN,  # /admin: the overview under the admin area
    "billing.usage_record": OWNER,
    "billing.token_budgets": OWNER,
    "billing.create_token_budget": OWNER,
    "billing.update_token_budget": OWNER,
    "billing.delete_token_budget": OWNER,
    "usage.pricing_page": LOGIN,
}

# Routes that end the caller's own session: checked apart, or every later request of the
# test would run signed out.
SIGN_OUT = {"auth.logout", "account.end_sessions"}


def access_level(rule: Rule) -> str:
    if rule.endpoint in ACCESS:
        return ACCESS[rule.endpoint]
    if rule.endpoint in ADMIN_ONLY:
        return ADMIN
    if rule.rule.startswith(ORG_ADMIN_PREFIXES):
        return ORG_ADMIN
    if rule.rule.startswith("/admin/"):
        return ADMIN
    if rule.rule.startswith(("/v1/", "/api/v1/")):
        return TOKEN  # the API's own route x role matrix is tests/api/test_matrix.py
    if rule.rule.startswith(MEMBER_PREFIXES):
        return LOGIN
    pytest.fail(f"route {rule.rule} ({rule.endpoint}) has no access level: add it to ACCESS")


def _sample_alias():  # type: ignore[no-untyped-def]
    from webapp.extensions import db
    from webapp.models import ModelAlias
    from webapp.services.catalog import names

    found = db.session.scalar(sa.select(ModelAlias).where(ModelAlias.name == "sample-alias"))
    return found or names.create_alias("sample-alias", "openai/gpt-5.4-mini", actor=None)


def sample_args(app: Flask, rule: Rule | None = None) -> dict[str, Callable[[], object]]:
    """Values for URL arguments, by name: real ids of seeded or created records.

    Org pages get records of the sample org (which the org admin of these tests runs).
    """
    in_org = rule is not None and rule.rule.startswith("/admin/orgs")
    return {
        "filename": lambda: "css/app.css",
        "rest": lambda: "",
        "kind": lambda: "csv" if "export" in rule.rule else "orgs",
        "provider_id": lambda: factories.provider("openai").id,
        "model_id": lambda: factories.model("openai/gpt-5.4-mini").id,
        "credential_id": lambda: factories.global_key("openai").id,
        "host_id": lambda: factories.allowed_host("localhost:11434").id,
        "request_id": lambda: _usage_record().request_id,
        "record_id": lambda: _usage_record().id,
        "budget_id": lambda: _sample_budget().id,
        "user_id": lambda: (
            factories.make_user("sample-user@example.com").id
            if not _find_user("sample-user@example.com")
            else _find_user("sample-user@example.com").id
        ),
        "event_id": lambda: _audit_event().id,
        "org_id": lambda: _sample_org().id,
        "feature_id": lambda: _sample_feature().id,
        "profile_id": lambda: (_sample_org_profile() if in_org else _sample_profile()).id,
        "membership_id": lambda: _sample_membership().id,
        "invitation_id": lambda: _sample_invitation().id,
        "token_id": lambda: _sample_token().id,
        "name": lambda: "corp",
        "identity_id": lambda: 1,
        "owner_id": lambda: 1,
        "alias_id": lambda: _sample_alias().id,
    }


def build(app: Flask, rule: Rule) -> str:
    samples = sample_args(app, rule)
    values = {}
    for arg in rule.arguments:
        if arg not in samples:
            pytest.fail(f"route {rule.rule}: no sample value for <{arg}>; add one to sample_args")
        values[arg] = samples[arg]()
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def routes(app: Flask, method: str) -> list[Rule]:
    return [r for r in app.url_map.iter_rules() if method in (r.methods or set())]


def test_every_route_has_an_access_level(app):
    for rule in app.url_map.iter_rules():
        access_level(rule)


def _denied_anonymously(response) -> bool:  # type: ignore[no-untyped-def]
    if response.status_code == 401:
        return True
    return response.status_code == 303 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_anonymous_is_sent_to_sign_in(app, client, method):
    for rule in routes(app, method):
        level = access_level(rule)
        if level == PUBLIC:
            continue
        response = client.open(build(app, rule), method=method)
        assert _denied_anonymously(response), f"{method} {rule.rule}: {response.status_code}"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_member_is_forbidden_on_admin_routes(app, member_client, method):
    for rule in routes(app, method):
        if access_level(rule) not in (ADMIN, ORG_ADMIN):
            continue
        response = member_client.open(build(app, rule), method=method)
        assert response.status_code == 403, f"{method} {rule.rule}: {response.status_code}"


def test_admin_can_open_every_page(app, admin_client):
    for rule in routes(app, "GET"):
        if access_level(rule) in (PUBLIC, TOKEN) or rule.endpoint == "static":
            continue
        response = admin_client.get(build(app, rule))
        expected = 308 if rule.endpoint in REDIRECTS else 200
        assert response.status_code == expected, f"GET {rule.rule}: {response.status_code}"


def test_member_can_open_every_member_page(app, member_client):
    for rule in routes(app, "GET"):
        if access_level(rule) != LOGIN:
            continue
        response = member_client.get(build(app, rule))
        expected = 308 if rule.endpoint in REDIRECTS else 200
        assert response.status_code == expected, f"GET {rule.rule}: {response.status_code}"


def test_org_admin_reaches_only_org_admin_routes(app, member):
    factories.add_member(_sample_org(), member, "org_admin")
    client = login(app.test_client(), member.email)
    for rule in routes(app, "GET"):
        level = access_level(rule)
        if level not in (ADMIN, ORG_ADMIN):
            continue
        status = client.get(build(app, rule)).status_code
        expected = 200 if level == ORG_ADMIN else 403
        assert status == expected, f"GET {rule.rule} as org admin: {status}"


def test_admin_state_changes_never_500_on_empty_input(app, admin_client):
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for rule in routes(app, method):
            if access_level(rule) == PUBLIC or rule.endpoint in SIGN_OUT:
                continue
            response = admin_client.open(build(app, rule), method=method, data={})
            assert response.status_code < 500, f"{method} {rule.rule}: {response.status_code}"


def test_static_files_are_public(client):
    assert client.get("/static/css/app.css").status_code == 200
    assert re.search(r"htmx", client.get("/static/vendor/README.md").get_data(as_text=True))


def _usage_record():  # type: ignore[no-untyped-def]
    from webapp.extensions import db
    from webapp.models import UsageRecord

    record = db.session.scalar(sa.select(UsageRecord))
    if record is None:
        # The member's, in the sample org: the member, the org admin and admins may open it.
        owner = _find_user("member@example.com")
        record = UsageRecord(
            request_id="sample-request",
            status="ok",
            caller="api",
            user_id=owner.id if owner else None,
            org_id=_sample_org().id,
        )
        db.session.add(record)
        db.session.commit()
    return record


def _sample_budget():  # type: ignore[no-untyped-def]
    from webapp.extensions import db
    from webapp.models import Budget

    budget = db.session.scalar(sa.select(Budget))
    if budget is None:
        budget = Budget(org_id=_sample_org().id, period="daily", unit="usd", amount=5)
        db.session.add(budget)
        db.session.commit()
    return budget


def _find_user(email: str):  # type: ignore[no-untyped-def]
    from webapp.extensions import db
    from webapp.models import User

    return db.session.scalar(sa.select(User).where(User.email == email))


def _audit_event():  # type: ignore[no-untyped-def]
    from webapp.extensions import db
    from webapp.models import AuditEvent

    event = db.session.scalar(sa.select(AuditEvent))
    if event is None:
        event = AuditEvent(action="create", target_type="sample", actor_label="system")
        db.session.add(event)
        db.session.commit()
    return event


def _sample_org():  # type: ignore[no-untyped-def]
    from webapp.extensions import db
    from webapp.models import Organization

    return db.session.scalar(sa.select(Organization).where(Organization.slug == "sample-org")) or (
        factories.make_org("sample-org")
    )


def _sample_feature():  # type: ignore[no-untyped-def]
    from webapp.extensions import db
    from webapp.models import Feature

    feature = db.session.scalar(sa.select(Feature).where(Feature.slug == "sample-feature"))
    if feature is None:
        feature = Feature(slug="sample-feature", name="Sample feature", org_id=_sample_org().id)
        db.session.add(feature)
        db.session.commit()
    return feature


def _sample_profile():  # type: ignore[no-untyped-def]
    from webapp.extensions import db
    from webapp.models import Profile

    found = db.session.scalar(
        sa.select(Profile).where(Profile.name == "fast", Profile.org_id.is_(None))
    )
    if found is None:  # deleted by an earlier route of the same test: any other will do
        found = db.session.scalar(sa.select(Profile).order_by(Profile.id))
    return found


def _sample_org_profile():  # type: ignore[no-untyped-def]
    from webapp.extensions import db
    from webapp.models import ParameterSet, Profile

    org = _sample_org()
    profile = db.session.scalar(sa.select(Profile).where(Profile.org_id == org.id))
    if profile is None:
        profile = Profile(name="fast", org_id=org.id)
        profile.settings = ParameterSet(scope="profile")
        db.session.add(profile)
        db.session.commit()
    return profile


def _sample_membership():  # type: ignore[no-untyped-def]
    from webapp.extensions import db
    from webapp.models import Membership

    org = _sample_org()
    membership = db.session.scalar(sa.select(Membership).where(Membership.org_id == org.id))
    if membership is None:
        user = _find_user("sample-user@example.com") or factories.make_user(
            "sample-user@example.com"
        )
        membership = factories.add_member(org, user)
    return membership


def _sample_invitation():  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from webapp.extensions import db
    from webapp.models import OrgInvitation
    from webapp.models.base import utcnow

    org = _sample_org()
    invitation = db.session.scalar(sa.select(OrgInvitation).where(OrgInvitation.org_id == org.id))
    if invitation is None:
        invitation = OrgInvitation(
            org_id=org.id,
            email="invited@example.com",
            org_role="member",
            expires_at=utcnow() + timedelta(days=30),
        )
        db.session.add(invitation)
        db.session.commit()
    return invitation


def _sample_token():  # type: ignore[no-untyped-def]
    from webapp.extensions import db
    from webapp.models import AccessToken
    from webapp.services.tokens.secrets import new_secret

    org = _sample_org()
    token = db.session.scalar(sa.select(AccessToken).where(AccessToken.org_id == org.id))
    if token is None:
        minted = new_secret()
        token = AccessToken(
            kind="service",
            org_id=org.id,
            name="sample",
            prefix=minted.prefix,
            token_hash=minted.token_hash,
        )
        db.session.add(token)
        db.session.commit()
    return token
