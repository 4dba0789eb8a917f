"""Usage records written straight into the table, as metering would leave them, for the
usage views' tests (random but seeded: a failure can be replayed)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import UsageRecord

USAGE = UsageRecord.__table__


def record(**fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "created_at": datetime.now(UTC),
        "request_id": uuid.uuid4().hex,
        "caller": "api",
        "operation": "chat",
        "status": "ok",
        "stream": False,
        "estimated": False,
        "usage_adjusted": False,
        "unpriced": False,
        "input_tokens": 100,
        "output_tokens": 50,
        "cached_tokens": 0,
        "cost_usd": Decimal("0.001"),
        "credits": Decimal("0.002"),
        "latency_ms": 400,
        "mode": "managed",
    }
    for name in (
        "user_id",
        "org_id",
        "provider_id",
        "model_id",
        "feature_id",
        "access_token_id",
        "provider_slug",
        "model_name",
        "error_type",
        "ttft_ms",
        "request_body",
    ):
        values[name] = None
    values.update(fields)
    return values


def insert(rows: list[dict[str, Any]]) -> None:
    db.session.execute(sa.insert(USAGE), rows)
    db.session.commit()


def random_records(
    n: int,
    *,
    users: list[int],
    orgs: list[int | None],
    models: list[tuple[int, int]],
    features: list[int | None],
    days: int = 40,
    seed: int = 7,
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    rows = []
    for _ in range(n):
        provider_id, model_id = rng.choice(models)
        status = rng.choices(["ok", "error", "cancelled"], [8, 2, 1])[0]
        unpriced = rng.random() < 0.1
        cost = None if unpriced else Decimal(rng.randint(0, 100000)) / Decimal(10**7)
        rows.append(
            record(
                created_at=now - timedelta(seconds=rng.randint(0, days * 86400)),
                user_id=rng.choice(users),
                org_id=rng.choice(orgs),
                provider_id=provider_id,
                model_id=model_id,
                feature_id=rng.choice(features),
                mode=rng.choice(["managed", "byok"]),
                status=status,
                error_type="unavailable" if status == "error" else None,
                unpriced=unpriced,
                estimated=rng.random() < 0.1,
                cost_usd=cost,
                credits=None if cost is None else cost * 2,
                input_tokens=rng.randint(0, 5000),
                output_tokens=rng.choice([None, rng.randint(0, 2000)]),
                cached_tokens=rng.randint(0, 100),
                latency_ms=rng.choice([None, rng.randint(10, 40000)]),
                ttft_ms=rng.choice([None, rng.randint(10, 4000)]),
            )
        )
    return rows
