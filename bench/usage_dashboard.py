"""Usage dashboard speed: seeds N usage records over 90 days for 10 000 users in 500
organizations (bulk Core inserts), rebuilds the rollups, then times every dashboard view —
no filter and each single filter over 30 days, one day, the org admin's view — and a
member's /usage, through the real routes (request to response, templates included).

Targets: PostgreSQL with 1 000 000 records: every dashboard view <= 300 ms, /usage <= 100 ms;
SQLite with 200 000 records: <= 500 ms.

Usage: .venv/bin/python bench/usage_dashboard.py --engine postgresql|sqlite [--records N]
       [--users 10000] [--orgs 500] [--runs 15]
PostgreSQL: BENCH_DATABASE_URL (a schema is created in it and dropped afterwards).
The last line is the figures as name=value pairs (milliseconds).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from bench._support import bench_app

PASSWORD = "bench password 123"


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def seed(records: int, users: int, orgs: int) -> dict[str, float]:
    from werkzeug.security import generate_password_hash

    from webapp.services.usage import rollups, synthetic

    figures = {}
    started = time.perf_counter()
    people = synthetic.make_people(
        users, orgs, password_hash=generate_password_hash(PASSWORD, "pbkdf2:sha256:1000")
    )
    models = synthetic.model_choices()
    features = synthetic.feature_ids(
        ["support-bot", "summaries", "code-review", "search", "translate"]
    )
    figures["seed_people_s"] = time.perf_counter() - started
    started = time.perf_counter()
    done = 0

    def progress(count: int) -> None:
        nonlocal done
        done += count
        if done % 100_000 < count:
            print(f"  {done} records", file=sys.stderr)

    synthetic.write_records(
        synthetic.records(records, people, models, features), expected=records, progress=progress
    )
    elapsed = time.perf_counter() - started
    figures["seed_records_per_s"] = records / elapsed
    started = time.perf_counter()
    rollups.rebuild()
    figures["rollup_rebuild_s"] = time.perf_counter() - started
    return figures


def _popular(column: str) -> object:
    from webapp.extensions import db
    from webapp.models import UsageRecord

    col = getattr(UsageRecord, column)
    return db.session.execute(
        sa.select(col)
        .where(col.is_not(None))
        .group_by(col)
        .order_by(sa.func.count().desc())
        .limit(1)
    ).scalar_one()


def views() -> tuple[dict[str, str], dict[str, str]]:
    """(admin views, others) as name → URL, with each filter's most common value."""
    admin = {
        "admin_none_30d": "/admin/usage?period=30d",
        "admin_today": "/admin/usage?period=today",
    }
    for name, column in (
        ("model", "model_id"),
        ("provider", "provider_id"),
        ("org", "org_id"),
        ("user", "user_id"),
        ("feature", "feature_id"),
        ("token", "access_token_id"),
        ("mode", "mode"),
        ("status", "status"),
    ):
        admin[f"admin_{name}"] = f"/admin/usage?period=30d&{name}={_popular(column)}"
    admin["admin_records_page2"] = "/admin/usage/records?period=30d"
    return admin, {"member_usage_heaviest": "/usage?period=30d"}


def _get(client, url: str):
    """One request as a server would answer it: the bench runs inside an app context, which
    Flask reuses for test requests, so ``g`` (Flask-Login's user, per-request caches) is
    emptied first."""
    from flask import g

    vars(g).clear()
    return client.get(url)


def time_views(app, client, urls: dict[str, str], runs: int) -> dict[str, float]:
    figures = {}
    profile = os.environ.get("BENCH_PROFILE")
    for name, url in urls.items():
        if name == "admin_records_page2":  # the second keyset page
            first = _get(client, "/admin/usage?period=30d").get_data(as_text=True)
            cursor = first.split("after=")[1].split("&")[0].split('"')[0]
            url = f"{url}&after={cursor}"
        for _ in range(2):
            assert _get(client, url).status_code == 200, url
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            response = _get(client, url)
            samples.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        if profile == name:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.runcall(_get, client, url)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
        p50, p95 = _percentiles(samples)
        figures[f"{name}_p50_ms"], figures[f"{name}_p95_ms"] = p50, p95
        print(f"  {name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms", file=sys.stderr)
    return figures


def login(app, email: str):
    from flask import g

    vars(g).clear()
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 303, response.status_code
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--records", type=int)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--orgs", type=int, default=500)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    records = args.records or (1_000_000 if args.engine == "postgresql" else 200_000)
    logging.disable(logging.INFO)
    config = {
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }
    with bench_app(args.engine, **config) as app:
        from werkzeug.security import generate_password_hash

        from webapp.extensions import db
        from webapp.models import Membership, OrgRole, UsageRecord, User
        from webapp.services.system.health import health

        health().schema.get(fresh=True)  # migrated after the app started: pages may answer
        figures: dict[str, float] = {"records": records}
        figures.update(seed(records, args.users, args.orgs))
        hashed = generate_password_hash(PASSWORD, "pbkdf2:sha256:1000")
        db.session.add(User(email="bench-admin@example.com", role="admin", password_hash=hashed))
        heavy_user, heavy_org = db.session.execute(
            sa.select(UsageRecord.user_id, UsageRecord.org_id)
            .where(UsageRecord.org_id.is_not(None))
            .group_by(UsageRecord.user_id, UsageRecord.org_id)
            .order_by(sa.func.count().desc())
            .limit(1)
        ).one()
        heavy = db.session.get(User, heavy_user)
        heavy.password_hash = hashed
        db.session.execute(
            sa.update(Membership)
            .where(Membership.user_id == heavy_user, Membership.org_id == heavy_org)
            .values(org_role=OrgRole.ORG_ADMIN)
        )
        db.session.commit()
        figures["heaviest_user_records"] = db.session.scalar(
            sa.select(sa.func.count()).where(UsageRecord.user_id == heavy_user)
        )
        heavy_email = heavy.email
        admin_urls, member_urls = views()
        db.session.remove()
        figures.update(
            time_views(app, login(app, "bench-admin@example.com"), admin_urls, args.runs)
        )
        member = login(app, heavy_email)
        figures.update(time_views(app, member, member_urls, args.runs))
        figures.update(
            time_views(app, member, {"orgadmin_none_30d": "/admin/usage?period=30d"}, args.runs)
        )
        dashboard = [
            v
            for k, v in figures.items()
            if k.startswith(("admin_", "orgadmin_")) and k.endswith("_p50_ms")
        ]
        figures["dashboard_worst_p50_ms"] = max(dashboard)
        print(
            " ".join(
                f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()
            )
        )


if __name__ == "__main__":
    main()
