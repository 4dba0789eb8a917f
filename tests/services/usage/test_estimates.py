"""A feature's cost estimate: average and p95 over its recent priced calls, and the worst case
from its max_tokens and the model's prices, shown on the feature's page."""

from __future__ import annotations

from decimal import Decimal

from tests import factories
from tests.services.usage import data
from webapp.extensions import db
from webapp.models import Feature
from webapp.services.settings import layers
from webapp.services.usage import estimates


def test_p95_is_the_nearest_rank():
    assert estimates.p95([]) is None
    costs = [Decimal(i) for i in range(1, 101)]
    assert estimates.p95(costs) == Decimal(95)
    assert estimates.p95([Decimal(3)]) == Decimal(3)


def test_feature_page_shows_average_p95_and_worst_case(admin_client, admin):
    model = factories.model("openai/gpt-5.4-mini")
    feature = Feature(slug="summaries", name="Summaries")
    db.session.add(feature)
    db.session.commit()
    layers.update_settings(
        admin,
        layers.parameter_set_for("feature", feature.id),
        {"model": "openai/gpt-5.4-mini", "max_tokens": 1000},
    )
    costs = [Decimal("0.001")] * 19 + [Decimal("0.021")]
    data.insert(
        [data.record(feature_id=feature.id, cost_usd=c) for c in costs]
        + [data.record(feature_id=feature.id, cost_usd=None, unpriced=True)]
    )
    estimate = estimates.for_feature(feature)
    assert estimate.calls == 20
    assert estimate.average == Decimal("0.002")
    assert estimate.p95 == Decimal("0.001")  # 19 of 20 calls cost 0.001
    context = model.context_window
    prompt = max(context - 1000, 0) if context else 0
    expected = (prompt * model.input_price + 1000 * model.output_price) / Decimal(1_000_000)
    assert estimate.worst == expected.quantize(Decimal("0.00000001"))
    html = admin_client.get(f"/admin/features/{feature.id}").get_data(as_text=True)
    assert "What a call costs" in html and "$0.002000" in html
    assert "max_tokens = 1000" in html
