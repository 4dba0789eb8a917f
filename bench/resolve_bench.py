"""Effective-settings resolution latency with 10 000 users, 500 orgs and 2 000 features.

Warm: the layers are cached in this process. Cold: the first resolution of each context right
after a settings write invalidated every cache (the worst case a user sees).
Usage: .venv/bin/python bench/resolve_bench.py [--engine sqlite|postgresql] [--samples 5000]
The last line is the figures as name=value pairs.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from bench._support import bench_app, pct
from webapp.extensions import db
from webapp.models import Feature, Membership, Organization, ParameterSet, User
from webapp.models.base import utcnow
from webapp.services.settings.cache import settings_cache
from webapp.services.settings.layers import parameter_set_for, update_settings
from webapp.services.settings.resolution import resolve

USERS, ORGS, FEATURES = 10_000, 500, 2_000


def populate() -> None:
    now = utcnow()
    insert = db.session.execute
    insert(
        sa.insert(Organization.__table__),
        [
            {
                "id": i,
                "slug": f"org-{i}",
                "name": f"Org {i}",
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(1, ORGS + 1)
        ],
    )
    insert(
        sa.insert(User.__table__),
        [
            {
                "id": i,
                "email": f"user{i}@example.com",
                "password_hash": "x",
                "role": "member",
                "mode": "managed",
                "active": True,
                "session_nonce": "n",
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(1, USERS + 1)
        ],
    )
    insert(
        sa.insert(Membership.__table__),
        [
            {"user_id": i, "org_id": (i % ORGS) + 1, "org_role": "member", "created_at": now}
            for i in range(1, USERS + 1)
        ],
    )
    insert(
        sa.insert(Feature.__table__),
        [
            {
                "id": i,
                "org_id": (i % ORGS) + 1 if i % 4 else None,
                "slug": f"feature-{i}",
                "name": f"Feature {i}",
                "profile_name": ("fast", "balanced", "powerful")[i % 3],
                "enabled": True,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(1, FEATURES + 1)
        ],
    )
    sets = [
        {
            "scope": "org",
            "org_id": i,
            "temperature": 0.5,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(1, ORGS + 1)
    ]
    sets += [
        {
            "scope": "feature",
            "feature_id": i,
            "max_tokens": 1000 + i,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(1, FEATURES + 1)
    ]
    sets += [
        {
            "scope": "user",
            "user_id": i,
            "seed": i,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(1, USERS + 1, 2)
    ]
    keys = {"org_id", "feature_id", "user_id", "temperature", "max_tokens", "seed"}
    insert(sa.insert(ParameterSet.__table__), [{**dict.fromkeys(keys), **row} for row in sets])
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        for table in ("organizations", "users", "features"):
            db.session.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
        db.session.commit()


def contexts(n: int) -> list[tuple[int, int, str]]:
    rng = random.Random(7)
    result = []
    for _ in range(n):
        user = rng.randint(1, USERS)
        org = (user % ORGS) + 1
        feature = rng.choice(
            [f for f in range(1, FEATURES + 1) if f % 4 == 0 or (f % ORGS) + 1 == org] or [4]
        )
        result.append((user, org, f"feature-{feature}"))
    return result


def measure(samples: list[tuple[int, int, str]]) -> list[float]:
    timings = []
    for user, org, feature in samples:
        start = time.perf_counter()
        resolve(user_id=user, org_id=org, feature=feature, overrides={"temperature": 0.3})
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--samples", type=int, default=5000)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    with bench_app(args.engine):
        populate()
        samples = contexts(args.samples)
        # Cold: every resolution right after an invalidation (a settings write).
        cold = []
        for context in samples[:1000]:
            update_settings(
                None, parameter_set_for("global"), {"max_retries": random.randint(0, 5)}
            )
            cold += measure([context])
        settings_cache().clear()
        measure(samples)  # fill the cache
        warm = measure(samples)
        figures = {
            "engine": args.engine,
            "warm_p50_ms": f"{pct(warm, 0.5):.4f}",
            "warm_p99_ms": f"{pct(warm, 0.99):.4f}",
            "cold_p50_ms": f"{pct(cold, 0.5):.3f}",
            "cold_p99_ms": f"{pct(cold, 0.99):.3f}",
            "users": USERS,
            "orgs": ORGS,
            "features": FEATURES,
            "samples": args.samples,
        }
        print(f"warm: {len(warm)} resolutions, cold: {len(cold)} resolutions after a write")
        print(" ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
