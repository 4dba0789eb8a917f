"""Admin pages at scale: seeds 10 000 users, 500 orgs × 20 members (plus one org of 2 000
members), 2 000 features, 200 000 audit events, 2 000 access tokens, 20 000 usage records,
1 000 credit ledger lines and 20 budgets of one user, and 200 model aliases with bulk Core
inserts, then requests every admin page as a signed-in admin and reports the median time and
the SQL statements per page.

Usage: .venv/bin/python bench/admin_pages.py [--engine sqlite|postgresql] [--requests 15]
PostgreSQL: BENCH_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test);
the run uses a schema of its own and drops it afterwards.
The last lines are the figures as name=value pairs: ``<page>_p50_ms`` and ``<page>_sql``.
"""

from __future__ import annotations

import argparse
import contextvars
import logging
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from flask.globals import _cv_app
from werkzeug.security import generate_password_hash

from bench._support import bench_app
from tests.querycount import count_statements
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
    UsageRecord,
    User,
)
from webapp.services.system.health import health

USERS, ORGS, MEMBERS_PER_ORG, BIG_ORG_MEMBERS = 10_000, 500, 20, 2_000
FEATURES, AUDIT_EVENTS = 2_000, 200_000
TOKENS, USAGE_RECORDS, LEDGER_LINES, BUDGETS, ALIASES = 2_000, 20_000, 1_000, 20, 200
PASSWORD = "bench-password-0001"
BATCH = 5_000


def _insert(table: sa.Table, rows: list[dict]) -> None:
    for start in range(0, len(rows), BATCH):
        db.session.execute(sa.insert(table), rows[start : start + BATCH])


def seed() -> dict[str, int]:
    """Bulk rows through Core (no ORM object per row); returns ids the pages need."""
    now = datetime.now(UTC)
    admin_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    users = [
        {
            "email": f"user{i:05d}@example.com",
            "display_name": f"User {i}",
            "password_hash": admin_hash if i == 0 else "x",
            "role": "admin" if i == 0 else "member",
            "mode": "byok" if i % 7 == 0 else "managed",
            "session_token": f"{i:064d}",
        }
        for i in range(USERS)
    ]
    _insert(User.__table__, users)
    user_ids = list(db.session.scalars(sa.select(User.id).order_by(User.id)))
    orgs = [
        {"slug": f"org-{i:03d}", "name": f"Organization {i:03d}", "description": "Seeded."}
        for i in range(ORGS)
    ] + [{"slug": "big", "name": "Big organization", "description": "2 000 members."}]
    _insert(Organization.__table__, orgs)
    org_ids = list(db.session.scalars(sa.select(Organization.id).order_by(Organization.id)))
    big_org = org_ids[-1]
    memberships = [
        {
            "org_id": org_ids[i // MEMBERS_PER_ORG],
            "user_id": user_ids[i % USERS],
            "org_role": "org_admin" if i % MEMBERS_PER_ORG == 0 else "member",
        }
        for i in range(ORGS * MEMBERS_PER_ORG)
    ] + [
        {"org_id": big_org, "user_id": user_ids[i], "org_role": "member"}
        for i in range(BIG_ORG_MEMBERS)
    ]
    _insert(Membership.__table__, memberships)
    _insert(
        Profile.__table__,
        [{"org_id": org_id, "name": "fast", "description": "Org tier."} for org_id in org_ids],
    )
    features = [
        {
            "org_id": None if i % 2 else org_ids[i % ORGS],
            "slug": f"feature-{i:04d}",
            "name": f"Feature {i}",
            "description": "Seeded feature.",
            "profile_name": "fast",
            "enabled": i % 5 != 0,
        }
        for i in range(FEATURES)
    ]
    _insert(Feature.__table__, features)
    actions = ["create", "update", "delete", "archive", "test"]
    types = ["organization", "user", "feature", "credential", "membership", "settings", "model"]
    events = [
        {
            "created_at": now - timedelta(minutes=AUDIT_EVENTS - i),
            "actor_id": user_ids[i % 50],
            "actor_label": users[i % 50]["email"],
            "action": actions[i % len(actions)],
            "target_type": types[i % len(types)],
            "target_id": str(i % 9973),
            "target_label": f"target {i % 9973}",
            "org_id": org_ids[i % ORGS] if i % 3 else None,
            "diff": {"name": {"before": "a", "after": "b"}},
        }
        for i in range(AUDIT_EVENTS)
    ]
    _insert(AuditEvent.__table__, events)
    _seed_money_and_use(user_ids, org_ids, now)
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("ANALYZE"))
    middle = db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) - AUDIT_EVENTS // 2
    return {
        "admin": user_ids[0],
        "big_org": big_org,
        "org": org_ids[0],
        "user": user_ids[5],
        "event": middle,
        "feature": db.session.scalar(sa.select(sa.func.min(Feature.id))),
    }


def _seed_money_and_use(user_ids: list[int], org_ids: list[int], now: datetime) -> None:
    """Tokens of many people and orgs, their usage, one user's credits and budgets, aliases."""
    _insert(
        AccessToken.__table__,
        [
            {
                "kind": "personal" if i % 4 else "service",
                "user_id": user_ids[i % USERS] if i % 4 else None,
                "org_id": None if i % 4 else org_ids[i % ORGS],
                "name": f"token-{i:05d}",
                "prefix": f"sbt_{i:07d}",
                "token_hash": f"{i:064d}",
                "created_at": now - timedelta(hours=i),
            }
            for i in range(TOKENS)
        ],
    )
    token_ids = list(db.session.scalars(sa.select(AccessToken.id)))
    models = list(db.session.scalars(sa.select(CatalogModel).limit(10)))
    _insert(
        UsageRecord.__table__,
        [
            {
                "created_at": now - timedelta(minutes=3 * i),
                "request_id": f"bench-{i:08d}",
                "caller": "gateway",
                "operation": "chat",
                "status": "ok" if i % 20 else "error",
                "error_type": None if i % 20 else "unavailable",
                "stream": False,
                "estimated": False,
                "usage_adjusted": False,
                "unpriced": False,
                "mode": "managed",
                "user_id": user_ids[i % USERS],
                "org_id": org_ids[i % ORGS],
                "access_token_id": token_ids[i % TOKENS],
                "provider_id": models[i % len(models)].provider_id,
                "model_id": models[i % len(models)].id,
                "provider_slug": "bench",
                "model_name": models[i % len(models)].model_id,
                "input_tokens": 100 + i % 50,
                "output_tokens": 40 + i % 30,
                "cached_tokens": 0,
                "cost_usd": Decimal("0.0012"),
                "credits": Decimal("0.0024"),
                "latency_ms": 300 + i % 400,
            }
            for i in range(USAGE_RECORDS)
        ],
    )
    account = CreditAccount(user_id=user_ids[5], balance=Decimal(LEDGER_LINES))
    db.session.add(account)
    db.session.flush()
    _insert(
        CreditEntry.__table__,
        [
            {
                "account_id": account.id,
                "created_at": now - timedelta(hours=LEDGER_LINES - i),
                "kind": "grant",
                "amount": Decimal(1),
                "balance_after": Decimal(i + 1),
                "actor_id": user_ids[0],
                "note": "bench grant",
            }
            for i in range(LEDGER_LINES)
        ],
    )
    _insert(
        Budget.__table__,
        [
            {
                "user_id": user_ids[5],
                "period": ("daily", "monthly", "total")[i % 3],
                "unit": "usd",
                "amount": Decimal(10 + i),
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
            for i in range(BUDGETS)
        ],
    )
    _insert(
        ModelAlias.__table__,
        [
            {
                "name": f"alias-{i:04d}",
                "model_id": models[i % len(models)].id,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(ALIASES)
        ],
    )


def pages(ids: dict[str, int]) -> dict[str, tuple[str, dict[str, str]]]:
    """Page name → (URL, extra headers)."""
    htmx = {"HX-Request": "true"}
    return {
        "home": ("/", {}),
        "users": ("/admin/users", {}),
        "users_search": ("/admin/users?q=user0042", {}),
        "orgs": ("/admin/orgs", {}),
        "org": (f"/admin/orgs/{ids['big_org']}", {}),
        "org_members_tab": (f"/admin/orgs/{ids['big_org']}?tab=members", {}),
        "org_members_page": (f"/admin/orgs/{ids['big_org']}/members?page=30", htmx),
        "org_keys_tab": (f"/admin/orgs/{ids['big_org']}?tab=keys", htmx),
        "org_settings_tab": (f"/admin/orgs/{ids['big_org']}?tab=settings", htmx),
        "org_profiles_tab": (f"/admin/orgs/{ids['big_org']}?tab=profiles", htmx),
        "features": ("/admin/features", {}),
        "effective": ("/admin/effective", {}),
        "effective_explain": (
            f"/admin/effective?user_id={ids['user']}&org_id={ids['org']}&feature=feature-0001",
            {},
        ),
        "playground": ("/admin/playground", {}),
        "audit": ("/admin/audit", {}),
        "audit_filtered": ("/admin/audit?actor=user00042&action=delete", {}),
        "audit_older": (f"/admin/audit?before={ids['event']}", {}),
        "audit_target": ("/admin/audit?target=target 4242", {}),
        "audit_target_broad": ("/admin/audit?target=target", {}),  # matches every event
        "providers": ("/admin/providers", {}),
        "credentials": ("/admin/keys", {}),
        "defaults": ("/admin/defaults", {}),
        "models": ("/admin/models", {}),
        "pick_users": ("/admin/pick/users?q=user0012", htmx),
        "pick_orgs": ("/admin/pick/orgs?q=org-04", htmx),
        "pick_features": ("/admin/pick/features?q=feature-01", htmx),
        "config": ("/admin/config", {}),
        "user": (f"/admin/users/{ids['user']}", {}),
        "feature": (f"/admin/features/{ids['feature']}", {}),
        "aliases": ("/admin/models/aliases", {}),
        "tokens": ("/admin/tokens", {}),
        "tokens_search": ("/admin/tokens?q=token-01", {}),
        "usage": ("/admin/usage", {}),
        "billing": ("/admin/billing", {}),
    }


def get(client, url: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    """A request with its own app context and session, as in production (the benchmark
    itself holds one open, which the test client would otherwise share)."""

    def run():  # type: ignore[no-untyped-def]
        _cv_app.set(None)  # type: ignore[arg-type]
        return client.get(url, headers=headers)

    return contextvars.copy_context().run(run)


def measure(
    client, url: str, headers: dict[str, str], n: int
) -> tuple[float, float, int, int, int]:  # type: ignore[no-untyped-def]
    """(p50 ms, p50 CPU ms of this process, statements, status, bytes) of ``n`` requests
    after two warm-ups. The CPU time leaves out the database server's work but also the
    waits of a machine busy with other processes."""
    for _ in range(2):
        response = get(client, url, headers)
    times, cpu = [], []
    for _ in range(n):
        start, start_cpu = time.perf_counter(), time.process_time()
        response = get(client, url, headers)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    with count_statements() as counted:
        response = get(client, url, headers)
    return (
        statistics.median(times),
        statistics.median(cpu),
        counted.count,
        response.status_code,
        len(response.data),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument("--only", default="", help="comma-separated page names")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    with bench_app(args.engine, WTF_CSRF_ENABLED=False) as app:
        start = time.perf_counter()
        ids = seed()
        print(f"seeded in {time.perf_counter() - start:.1f} s", flush=True)
        health().schema.get(fresh=True)  # the app was built before the migrations ran
        db.session.remove()
        client = app.test_client()
        response = client.post(
            "/login", data={"email": "user00000@example.com", "password": PASSWORD}
        )
        assert response.status_code == 303, response.status_code
        figures: dict[str, str] = {"engine": args.engine}
        wanted = set(filter(None, args.only.split(",")))
        for name, (url, headers) in pages(ids).items():
            if wanted and name not in wanted:
                continue
            p50, cpu, statements, status, size = measure(client, url, headers, args.requests)
            print(
                f"{name:18} {status} {p50:8.1f} ms {cpu:6.1f} CPU ms {statements:4d} SQL "
                f"{size / 1024:7.1f} KB  {url}",
                flush=True,
            )
            figures[f"{name}_p50_ms"] = f"{p50:.1f}"
            figures[f"{name}_cpu_ms"] = f"{cpu:.1f}"
            figures[f"{name}_sql"] = str(statements)
        figures["load_average"] = f"{os.getloadavg()[0]:.1f}"  # others' work slows the p50s
        print(" ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
