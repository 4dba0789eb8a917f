"""The admin overview: the setup checklist names what stops calls or soon will, and today's
usage is drawn as a sparkline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from tests import factories
from tests.services.usage import data
from webapp.extensions import db
from webapp.models import Budget, CatalogModel, Credential
from webapp.models.billing import BudgetWindow
from webapp.services.billing import budgets
from webapp.services.billing.periods import period_start


def _default_chat() -> CatalogModel:
    found = db.session.scalar(sa.select(CatalogModel).where(CatalogModel.is_default_chat))
    if found is None:
        found = factories.model("openai/gpt-5.4-mini")
        found.is_default_chat = True
        db.session.commit()
    return found


def test_overview_flags_a_default_model_without_a_key(admin_client):
    model = _default_chat()
    for path in ("/", "/admin"):
        html = admin_client.get(path).get_data(as_text=True)
        assert "Setup and health" in html
        assert f"{model.provider.slug}/{model.model_id} has no usable key" in html


def test_overview_lists_expiring_and_failing_keys_and_full_budgets(admin_client, admin):
    model = _default_chat()
    key = factories.global_key(model.provider.slug)
    key.expires_at = datetime.now(UTC) + timedelta(days=3)
    key.last_test_status = "invalid"
    db.session.commit()
    org = factories.make_org("spendy")
    budget = budgets.create_budget(
        admin, budgets.BudgetOwner("org", org.id), budgets.BudgetInput("monthly", "usd", "10")
    )
    start = period_start("monthly", None, datetime.now(UTC))
    from webapp.services.billing import config

    start = period_start("monthly", config.current().timezone, datetime.now(UTC))
    db.session.add(BudgetWindow(budget_id=budget.id, period_start=start, spent=Decimal("8.5")))
    db.session.commit()
    html = admin_client.get("/admin").get_data(as_text=True)
    # A key the provider rejected is not used until edited or tested again.
    assert "has no usable key" in html
    assert "expires on" in html and "failed its last test" in html
    assert f"organization {org.id} is at 85 %" in html
    assert db.session.get(Credential, key.id) is not None and db.session.get(Budget, budget.id)


def test_overview_draws_todays_usage(admin_client):
    data.insert([data.record(created_at=datetime.now(UTC)) for _ in range(3)])
    html = admin_client.get("/").get_data(as_text=True)
    assert 'class="sparkline"' in html and "<polyline" in html
    assert "3 calls" in html


def test_overview_is_for_admins_only(member_client):
    assert member_client.get("/admin").status_code == 403
    html = member_client.get("/").get_data(as_text=True)
    assert "Setup and health" not in html
