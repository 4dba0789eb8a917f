"""Every main admin page sends a bounded number of SQL statements: the same count with a few
rows as with many (no query per row), and no more than its ceiling. bench/admin_pages.py
measures the time of the same pages at 10 000 users and 200 000 audit events.

The rows that grow: users, orgs with members and profiles, features, audit events, and for
the watched user and org also access tokens, usage records, credit ledger lines and
budgets; model aliases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from tests import factories
from tests.querycount import count_statements
from tests.services.usage import data as usage_data
from webapp.extensions import db
from webapp.models import (
    AccessToken,
    AuditEvent,
    Budget,
    CatalogModel,
    CreditAccount,
    CreditEntry,
    Feature,
    Membership,
    ModelAlias,
    Organization,
    Profile,
    User,
)

HX = {"HX-Request": "true"}

# page → the most statements it may send (sign-in and CSRF lookups included).
CEILINGS = {
    "/": 16,  # the overview: its checklist (key, failing and expiring keys, budgets) and today
    "/admin/users": 6,
    "/admin/users?q=user": 6,
    "/admin/orgs": 5,
    "/admin/orgs?q=org": 5,
    "/admin/orgs/{org}": 4,
    "/admin/orgs/{org}?tab=members": 6,
    "/admin/orgs/{org}?tab=keys": 5,
    "/admin/orgs/{org}?tab=settings": 4,
    "/admin/orgs/{org}?tab=profiles": 5,
    "/admin/orgs/{org}/members?page=2": 7,
    "/admin/features": 10,
    "/admin/features?q=feat": 10,
    "/admin/effective": 4,
    "/admin/effective?user_id={user}&org_id={org}&feature=feat-0001": 12,
    "/admin/playground": 4,
    "/admin/audit": 5,
    "/admin/audit?actor=user0&action=update": 6,
    "/admin/audit?before={event}": 6,
    "/admin/providers": 5,
    "/admin/keys": 5,
    "/admin/defaults": 3,
    "/admin/models": 5,
    "/admin/pick/users?q=user": 3,
    "/admin/pick/orgs?q=org": 3,
    "/admin/pick/features?q=feat": 3,
    "/admin/config": 2,
    "/admin/users/{user}": 13,  # credits (ledger, actors), budgets, SSO identities
    "/admin/features/{feature}": 6,
    "/admin/models/aliases": 3,
    "/admin/tokens": 8,  # a page of tokens with their use and budget spend
    "/admin/tokens?q=tok": 8,
    "/admin/usage": 15,  # the dashboard's totals, series and top lists
    "/admin/billing": 2,
}


def _grow(start: int, count: int, watched: dict[str, int] | None = None) -> dict[str, int]:
    """``count`` more users, orgs (each with members and a profile), features and events, and
    tokens, usage, ledger lines and budgets of the ``watched`` user and org (the first ones
    made when none are given)."""
    now = datetime.now(UTC)
    db.session.execute(
        sa.insert(User),
        [
            {"email": f"user{i:04d}@example.com", "password_hash": "x", "session_token": str(i)}
            for i in range(start, start + count)
        ],
    )
    db.session.execute(
        sa.insert(Organization),
        [{"slug": f"org-{i:04d}", "name": f"Org {i:04d}"} for i in range(start, start + count)],
    )
    user_ids = list(db.session.scalars(sa.select(User.id).order_by(User.id.desc()).limit(count)))
    org_ids = list(
        db.session.scalars(sa.select(Organization.id).order_by(Organization.id.desc()).limit(count))
    )
    big = min(org_ids)  # the first org grows the most
    db.session.execute(
        sa.insert(Membership),
        [{"org_id": big, "user_id": u, "org_role": "member"} for u in user_ids]
        + [
            {"org_id": o, "user_id": user_ids[0], "org_role": "member"} for o in org_ids if o != big
        ],
    )
    db.session.execute(sa.insert(Profile), [{"org_id": o, "name": "fast"} for o in org_ids])
    db.session.execute(
        sa.insert(Feature),
        [
            {
                "org_id": org_ids[i % count] if i % 2 else None,
                "slug": f"feat-{i:04d}",
                "name": f"Feature {i}",
                "profile_name": "fast",
            }
            for i in range(start, start + count)
        ],
    )
    db.session.execute(
        sa.insert(AuditEvent),
        [
            {
                "created_at": now - timedelta(seconds=i),
                "actor_id": user_ids[i % count],
                "actor_label": "user0@example.com",
                "action": ("create", "update")[i % 2],
                "target_type": ("user", "organization", "feature")[i % 3],
                "target_id": str(i),
                "target_label": f"target {i}",
                "org_id": org_ids[i % count],
            }
            for i in range(count * 3)
        ],
    )
    db.session.commit()
    ids = watched or {
        "org": big,
        "user": user_ids[0],
        "feature": db.session.scalar(sa.select(sa.func.min(Feature.id))),
    }
    _grow_money_and_use(start, count, ids["user"], ids["org"])
    return ids


def _grow_money_and_use(start: int, count: int, user_id: int, org_id: int) -> None:
    """Tokens, usage records, credit ledger lines, budgets and aliases: ``count`` of each."""
    now = datetime.now(UTC)
    db.session.execute(
        sa.insert(AccessToken),
        [
            {
                "kind": "personal" if i % 2 else "service",
                "user_id": user_id if i % 2 else None,
                "org_id": None if i % 2 else org_id,
                "name": f"tok-{i:04d}",
                "prefix": f"sbt_{i:07d}",
                "token_hash": f"{i:064d}",
            }
            for i in range(start, start + count)
        ],
    )
    token_ids = list(db.session.scalars(sa.select(AccessToken.id)))
    usage_data.insert(
        [
            usage_data.record(
                user_id=user_id,
                org_id=org_id,
                access_token_id=token_ids[i % len(token_ids)],
                created_at=now - timedelta(minutes=i),
                request_id=f"req-{start}-{i}",
            )
            for i in range(count * 3)
        ]
    )
    account = db.session.scalar(sa.select(CreditAccount).where(CreditAccount.user_id == user_id))
    if account is None:
        account = CreditAccount(user_id=user_id, balance=Decimal("0"))
        db.session.add(account)
        db.session.flush()
    db.session.execute(
        sa.insert(CreditEntry),
        [
            {
                "account_id": account.id,
                "kind": "grant",
                "amount": Decimal("1"),
                "balance_after": Decimal(i + 1),
                "note": f"grant {i}",
            }
            for i in range(start, start + count)
        ],
    )
    db.session.execute(
        sa.insert(Budget),
        [
            {"user_id": user_id, "period": "daily", "unit": "usd", "amount": Decimal(i + 1)}
            for i in range(start, start + min(count, 20))  # a person has a few budgets
        ],
    )
    models = list(db.session.scalars(sa.select(CatalogModel.id).limit(5)))
    db.session.execute(
        sa.insert(ModelAlias),
        [
            {"name": f"alias-{i:04d}", "model_id": models[i % len(models)]}
            for i in range(start, start + count)
        ],
    )
    db.session.commit()


def _counts(client, ids: dict[str, int]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    found = {}
    for page in CEILINGS:
        url = page.format(**ids)
        headers = HX if "/members?" in url else {}
        assert client.get(url, headers=headers).status_code == 200, url  # warms the caches
        counts = []
        # The fewest of three requests: a timed cache refresh (the settings counter, provider
        # health: every 0.25 s) can land in any one request on a busy machine, never in all.
        for _ in range(3):
            with count_statements() as counted:
                response = client.get(url, headers=headers)
            assert response.status_code == 200, url
            counts.append(counted.count)
        found[page] = min(counts)
    return found


def test_admin_pages_send_the_same_statements_with_more_rows(admin_client):
    factories.global_key("openai")
    ids = _grow(0, 4)
    ids["event"] = db.session.scalar(sa.select(sa.func.max(AuditEvent.id)))
    few = _counts(admin_client, ids)
    _grow(4, 120, ids)
    many = _counts(admin_client, ids)
    grew = {page: (few[page], many[page]) for page in CEILINGS if many[page] > few[page]}
    assert grew == {}, f"statements that grow with the rows: {grew}"
    over = {page: many[page] for page in CEILINGS if many[page] > CEILINGS[page]}
    assert over == {}, f"pages over their ceiling: {over}"
