"""The usage pages: the admin dashboard and its exports, org admins limited to their
organizations, members to their own records, and the price list."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests import factories
from tests.conftest import login
from tests.services.usage import data
from webapp.extensions import db
from webapp.models import OrgRole, UsageRecord


@pytest.fixture
def usage(app, admin, member):
    alpha, beta = factories.make_org("alpha"), factories.make_org("beta")
    boss = factories.make_user("boss@example.com")
    other = factories.make_user("other@example.com")
    factories.add_member(alpha, boss, OrgRole.ORG_ADMIN)
    factories.add_member(alpha, member)
    factories.add_member(beta, other)
    model = factories.model("openai/gpt-5.4-mini")
    now = datetime.now(UTC)
    rows = []
    for i in range(30):
        rows.append(
            data.record(
                created_at=now - timedelta(hours=i * 5),
                user_id=member.id if i % 2 else other.id,
                org_id=alpha.id if i % 2 else beta.id,
                provider_id=model.provider_id,
                model_id=model.id,
                provider_slug="openai",
                model_name="gpt-5.4-mini",
                cost_usd=Decimal("0.25") if i % 2 else Decimal("7"),
                status="error" if i % 5 == 0 else "ok",
                error_type="unavailable" if i % 5 == 0 else None,
                request_body={"messages": [{"role": "user", "content": f"secret plan {i}"}]},
            )
        )
    rows.append(
        data.record(user_id=member.id, org_id=alpha.id, unpriced=True, cost_usd=None, credits=None)
    )
    data.insert(rows)
    return {"alpha": alpha, "beta": beta, "boss": boss, "other": other, "member": member}


def ids(org_id=None, user_id=None):
    query = sa.select(UsageRecord.id)
    if org_id:
        query = query.where(UsageRecord.org_id == org_id)
    if user_id:
        query = query.where(UsageRecord.user_id == user_id)
    return set(db.session.scalars(query))


def csv_rows(response):
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_admin_dashboard_full_page_and_partial(admin_client, usage):
    page = admin_client.get("/admin/usage")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h1>Usage</h1>" in html and "usage-series-data" in html
    assert "1 unpriced" in html  # counted and flagged, not hidden
    assert "alpha" in html.lower() and "beta" in html.lower()
    partial = admin_client.get(
        "/admin/usage?period=7d&status=error", headers={"HX-Request": "true"}
    )
    assert partial.status_code == 200
    body = partial.get_data(as_text=True)
    assert body.strip().startswith('<div id="usage-dashboard">') and "<html" not in body
    assert "HX-Request" in partial.headers["Vary"]


def test_bad_filters_are_a_422_at_the_field(admin_client, usage):
    for query in (
        "period=custom",
        "period=custom&since=2026-05-02&until=2026-05-01",
        "mode=free",
        "user=abc",
        "period=week",
    ):
        response = admin_client.get(f"/admin/usage?{query}")
        assert response.status_code == 422, query
        assert "notice-error" in response.get_data(as_text=True)


def test_breakdown_links_select_their_rows(admin_client, usage):
    response = admin_client.get(f"/admin/usage?org={usage['alpha'].id}")
    html = response.get_data(as_text=True)
    assert "$3.7500" in html  # 15 priced alpha records at 0.25; the unpriced one is flagged
    assert f'<option selected value="{usage["alpha"].id}">' in html  # the filter shows it
    exported = csv_rows(admin_client.get(f"/admin/usage/export.csv?org={usage['alpha'].id}"))
    assert {int(r["id"]) for r in exported} == ids(org_id=usage["alpha"].id)


def test_csv_export_is_exactly_the_selection_with_iso_dates(admin_client, usage):
    response = admin_client.get("/admin/usage/export.csv?status=error")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0].startswith("id,created_at,request_id")
    rows = csv_rows(response)
    assert rows and all(r["status"] == "error" for r in rows)
    assert {int(r["id"]) for r in rows} == set(
        db.session.scalars(sa.select(UsageRecord.id).where(UsageRecord.status == "error"))
    )
    stamp = rows[0]["created_at"]
    assert datetime.fromisoformat(stamp.replace("Z", "+00:00")).tzinfo is not None
    assert "secret plan" not in response.get_data(as_text=True)  # no bodies in exports


def test_json_export_for_scripts(admin_client, usage):
    response = admin_client.get(f"/admin/usage/export.json?user={usage['member'].id}")
    document = json.loads(response.get_data(as_text=True))
    assert {r["id"] for r in document["records"]} == ids(user_id=usage["member"].id)
    assert document["filters"] == {"user": usage["member"].id}


def test_org_admin_sees_only_their_organizations(app, usage):
    client = login(app.test_client(), "boss@example.com")
    html = client.get("/admin/usage").get_data(as_text=True)
    assert "other@example.com" not in html and "Beta" not in html
    alpha_ids, beta_ids = ids(org_id=usage["alpha"].id), ids(org_id=usage["beta"].id)
    for query in (
        "",
        f"org={usage['beta'].id}",
        f"user={usage['other'].id}",
        "org=0",
        "period=custom&since=2020-01-01&until=2020-12-31",
    ):
        exported = {int(r["id"]) for r in csv_rows(client.get(f"/admin/usage/export.csv?{query}"))}
        assert exported <= alpha_ids and not exported & beta_ids, query
        document = json.loads(
            client.get(f"/admin/usage/export.json?{query}").get_data(as_text=True)
        )
        assert {r["id"] for r in document["records"]} <= alpha_ids
        page = client.get(f"/admin/usage?{query}").get_data(as_text=True)
        assert "7.0000" not in page and "other@example.com" not in page
    assert client.get(f"/admin/usage/records/{min(beta_ids)}").status_code == 404
    assert client.get(f"/admin/usage/records/{min(alpha_ids)}").status_code == 200
    more = client.get(f"/admin/usage/records?org={usage['beta'].id}")
    assert "No records match" in more.get_data(as_text=True)


def test_members_cannot_open_the_dashboard(member_client, usage):
    assert member_client.get("/admin/usage").status_code == 403
    assert member_client.get("/admin/usage/export.csv").status_code == 403


def test_member_sees_only_their_own_usage(member_client, usage):
    member = usage["member"]
    response = member_client.get("/usage")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "other@example.com" not in html and "7.0000" not in html
    assert "No budgets" in html and "Credits" in html
    own, others = ids(user_id=member.id), ids(user_id=usage["other"].id)
    exported = {int(r["id"]) for r in csv_rows(member_client.get("/usage/export.csv?period=30d"))}
    assert exported == own
    assert member_client.get(f"/usage/records/{min(others)}").status_code == 404
    detail = member_client.get(f"/usage/records/{max(own)}")
    assert detail.status_code == 200


def test_member_sees_balance_budgets_and_reset(member_client, admin, usage):
    from webapp.services.billing import budgets, ledger

    ledger.post_entry(
        admin, ledger.Owner("user", usage["member"].id), Decimal(25), kind="grant", note="welcome"
    )
    budgets.create_budget(
        admin,
        budgets.BudgetOwner("user", usage["member"].id),
        budgets.BudgetInput("monthly", "usd", "10"),
    )
    html = member_client.get("/usage").get_data(as_text=True)
    assert "25.0000" in html and "<progress" in html and "resets" in html


def test_member_period_is_validated(member_client, usage):
    assert member_client.get("/usage?period=custom&since=2026-01-05").status_code == 422
    partial = member_client.get("/usage?period=today", headers={"HX-Request": "true"})
    assert partial.get_data(as_text=True).strip().startswith('<div id="member-usage">')


def test_pricing_lists_enabled_models_with_credits(member_client, usage, app):
    html = member_client.get("/pricing").get_data(as_text=True)
    assert "gpt-5.4-mini" in html and "Credits / M in" in html
    assert "cost no credits" in html
