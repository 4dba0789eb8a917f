"""Retention: bodies cleared and records deleted past their age, in batches, audited, and
the dashboard totals still equal the records that remain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.services.usage import data
from webapp.extensions import db
from webapp.models import AuditEvent, UsageRecord
from webapp.services.errors import PermissionDenied, ValidationError
from webapp.services.usage import dashboard, retention, rollups
from webapp.services.usage.filters import Scope, make_filters


def _records():
    now = datetime.now(UTC)
    body = {"messages": [{"role": "user", "content": "hello"}]}
    data.insert(
        [
            data.record(
                created_at=now - timedelta(days=age), request_body=body, cost_usd=Decimal(age)
            )
            for age in (1, 5, 20, 40, 41, 42)
        ]
    )


def test_prune_clears_bodies_and_deletes_old_records_keeping_totals_exact(admin):
    _records()
    rollups.catch_up_all()
    retention.update_retention(admin, body_days="10", record_days="30")
    result = retention.prune(batch=2)
    assert (result.bodies_cleared, result.records_deleted) == (4, 3)
    ages = db.session.execute(sa.select(UsageRecord.cost_usd, UsageRecord.request_body)).all()
    assert sorted((int(c), b is not None) for c, b in ages) == [(1, True), (5, True), (20, False)]
    today = datetime.now(UTC).date()
    totals = dashboard.totals(make_filters("custom", today - timedelta(days=60), today), Scope())
    assert totals.requests == 3 and totals.cost_usd == Decimal(26)
    assert rollups.rebuild() == 3
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "prune"))
    assert event is not None and event.diff["records_deleted"]["after"] == 3


def test_only_admins_set_retention_and_values_are_checked(admin, member):
    with pytest.raises(PermissionDenied):
        retention.update_retention(member, body_days=1, record_days=None)
    for bodies, records in (("0", None), ("x", None), ("40", "30"), (None, "99999999")):
        with pytest.raises(ValidationError):
            retention.update_retention(admin, body_days=bodies, record_days=records)
    assert retention.update_retention(admin, body_days="", record_days="365").record_days == 365


def test_retention_page_saves_with_audit_and_422s_bad_input(admin_client, member_client):
    assert admin_client.get("/admin/usage/retention").status_code == 200
    bad = admin_client.post("/admin/usage/retention", data={"body_days": "-3"})
    assert bad.status_code == 422
    good = admin_client.post("/admin/usage/retention", data={"body_days": "7", "record_days": "90"})
    assert good.status_code == 303 and retention.current() == retention.Retention(7, 90)
    assert "Retention saved." in admin_client.get(good.headers["Location"]).get_data(as_text=True)
    swapped = admin_client.post(
        "/admin/usage/retention",
        data={"body_days": "8", "record_days": "90"},
        headers={"HX-Request": "true"},
    )
    assert swapped.status_code == 200 and "Retention saved." in swapped.headers["HX-Trigger"]
    assert member_client.post("/admin/usage/retention", data={"body_days": "1"}).status_code == 403


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_retention_form_needs_its_csrf_token(app, admin):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post(
        "/login",
        data={"email": admin.email, "password": "correct horse battery", "csrf_token": token},
    )
    refused = client.post("/admin/usage/retention", data={"body_days": "3"})
    assert refused.status_code == 400 and retention.current().body_days is None
    form = client.get("/admin/usage/retention").get_data(as_text=True)
    token = form.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    saved = client.post("/admin/usage/retention", data={"body_days": "3", "csrf_token": token})
    assert saved.status_code == 303 and retention.current().body_days == 3
