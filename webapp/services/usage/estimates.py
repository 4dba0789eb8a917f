"""What a feature's calls cost: the average and p95 over its recent priced calls, and the
worst case one call can cost from its effective ``max_tokens`` and the model's prices — so
an admin knows what a run will cost before raising a budget."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import Feature, UsageRecord
from webapp.services.errors import NotConfigured
from webapp.services.settings.resolution import resolve

RECENT = 500
MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class CostEstimate:
    calls: int  # recent priced calls the average and p95 are read from
    average: Decimal | None
    p95: Decimal | None
    worst: Decimal | None  # one call at max_tokens out and a full context in
    max_tokens: int | None
    context_window: int | None
    model: str | None
    note: str | None = None  # why the worst case is missing or partial


def p95(costs: list[Decimal]) -> Decimal | None:
    """The nearest-rank 95th percentile."""
    if not costs:
        return None
    ordered = sorted(costs)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def recent_costs(feature_id: int, limit: int = RECENT) -> list[Decimal]:
    r = UsageRecord
    return [
        Decimal(c or 0)
        for c in db.session.scalars(
            sa.select(r.cost_usd)
            .where(r.feature_id == feature_id, r.cost_usd.is_not(None))
            .order_by(r.created_at.desc())
            .limit(limit)
        )
    ]


def for_feature(feature: Feature) -> CostEstimate:
    costs = recent_costs(feature.id)
    average = (
        (sum(costs, Decimal(0)) / len(costs)).quantize(Decimal("0.00000001")) if costs else None
    )
    try:
        effective = resolve(user_id=None, org_id=feature.org_id, feature=feature.slug)
    except NotConfigured as exc:
        return CostEstimate(len(costs), average, p95(costs), None, None, None, None, exc.message)
    model = effective.model
    max_out = effective.values.get("max_tokens") or model.max_output_tokens
    context = model.context_window
    name = f"{model.provider_slug}/{model.model_id}"
    note: str | None = None
    if model.input_price is None or model.output_price is None:
        note = "The model has no price in the catalog: its calls are recorded unpriced."
        return CostEstimate(len(costs), average, p95(costs), None, max_out, context, name, note)
    if not max_out:
        note = "No max_tokens is set and the catalog knows no output limit: no upper bound."
        return CostEstimate(len(costs), average, p95(costs), None, None, context, name, note)
    if context:
        prompt = max(context - max_out, 0)
    else:
        prompt, note = 0, "The context window is unknown: the worst case counts the output only."
    worst = (prompt * model.input_price + max_out * model.output_price) / MILLION
    return CostEstimate(
        len(costs),
        average,
        p95(costs),
        worst.quantize(Decimal("0.00000001")),
        max_out,
        context,
        name,
        note,
    )
