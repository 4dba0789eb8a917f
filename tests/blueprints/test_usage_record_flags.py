"""A usage record's flags show wherever records do, like *unpriced* and *estimated*: counts
repaired before pricing (*adjusted*), a call charged less than it cost because it cost more
than it held (*over hold*), and cache writes — on the admin's and the member's list and
detail pages, in the CSV and JSON exports, and in the management API."""

from __future__ import annotations

import csv
import io
import json

import pytest
import sqlalchemy as sa

from tests.api.conftest import token_for
from tests.services.usage import data
from webapp.extensions import db
from webapp.models import UsageRecord


@pytest.fixture
def flagged(app, member) -> UsageRecord:  # type: ignore[no-untyped-def]
    data.insert(
        [
            data.record(
                user_id=member.id,
                provider_slug="anthropic",
                model_name="claude-haiku-4-5",
                request_id="req-flagged",
                usage_adjusted=True,
                over_hold=True,
                input_tokens=7000,
                cached_tokens=2000,
                cache_write_tokens=4321,
            )
        ]
    )
    data.insert([data.record(user_id=member.id, request_id="req-plain")])
    found = db.session.scalar(sa.select(UsageRecord).where(UsageRecord.request_id == "req-flagged"))
    assert found is not None
    return found


def _badges(body: str) -> tuple[bool, bool]:
    return ">adjusted</span>" in body, ">over hold</span>" in body


def test_the_admin_list_and_detail_show_the_flags(admin_client, flagged):
    listing = admin_client.get("/admin/usage/records?period=30d").get_data(as_text=True)
    assert _badges(listing) == (True, True)
    assert listing.count(">adjusted</span>") == 1  # the plain record has none
    detail = admin_client.get(f"/admin/usage/records/{flagged.id}").get_data(as_text=True)
    assert _badges(detail) == (True, True) and "4321 written to the cache" in detail


def test_the_member_list_and_details_show_the_flags(member_client, flagged):
    listing = member_client.get("/usage?period=30d").get_data(as_text=True)
    assert _badges(listing) == (True, True)
    for url in (f"/usage/records/{flagged.id}", f"/account/usage/{flagged.id}"):
        detail = member_client.get(url).get_data(as_text=True)
        assert _badges(detail) == (True, True) and "4321 written to the cache" in detail


@pytest.mark.parametrize(
    "url", ["/admin/usage/export.csv?period=30d", "/usage/export.csv?period=30d"]
)
def test_csv_exports_carry_the_flags(request, flagged, url):
    who = "admin_client" if url.startswith("/admin") else "member_client"
    client = request.getfixturevalue(who)
    rows = {
        r["request_id"]: r
        for r in csv.DictReader(io.StringIO(client.get(url).get_data(as_text=True)))
    }
    flagged_row, plain = rows["req-flagged"], rows["req-plain"]
    assert (flagged_row["usage_adjusted"], flagged_row["over_hold"]) == ("true", "true")
    assert flagged_row["cache_write_tokens"] == "4321"
    assert (plain["usage_adjusted"], plain["over_hold"]) == ("false", "false")


def test_the_json_export_carries_the_flags(admin_client, flagged):
    body = json.loads(admin_client.get("/admin/usage/export.json?period=30d").get_data())
    (row,) = [r for r in body["records"] if r["request_id"] == "req-flagged"]
    assert row["usage_adjusted"] is True and row["over_hold"] is True
    assert row["cache_write_tokens"] == 4321


def test_the_api_lists_shows_and_exports_the_flags(app, member, flagged):
    caller = token_for(app, member)
    items = caller.get("usage/records", query_string={"period": "30d"}).get_json()["items"]
    (row,) = [r for r in items if r["request_id"] == "req-flagged"]
    assert (row["usage_adjusted"], row["over_hold"], row["cache_write_tokens"]) == (
        True,
        True,
        4321,
    )
    one = caller.get(f"usage/records/{flagged.id}").get_json()
    assert (one["usage_adjusted"], one["over_hold"], one["cache_write_tokens"]) == (
        True,
        True,
        4321,
    )
    exported = caller.get("usage/records.csv", query_string={"period": "30d"})
    (line,) = [
        r
        for r in csv.DictReader(io.StringIO(exported.get_data(as_text=True)))
        if r["request_id"] == "req-flagged"
    ]
    assert (line["usage_adjusted"], line["over_hold"]) == ("true", "true")
