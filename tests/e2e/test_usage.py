"""The usage pages in a browser with demo data: the admin dashboard, a member's /usage and
the price list render, the chart is drawn on its canvas, and screenshots are saved at
desktop width."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests import factories
from tests.e2e.conftest import screenshot
from webapp.extensions import db
from webapp.models import UsageRecord, User
from webapp.services.usage import demo

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.committed,  # the live server answers from its own threads
    pytest.mark.xdist_group("browser"),  # one worker starts Chromium, once
]

CHART_DRAWN = """canvas => {
  const chart = window.Chart && window.Chart.getChart(canvas);
  if (!chart || canvas.width === 0 || canvas.height === 0) return false;
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return true;
  return false;
}"""


def _sign_in(page, live_server: str, email: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("#sidebar", state="attached")


def _chart_drawn(page) -> bool:  # type: ignore[no-untyped-def]
    canvas = page.wait_for_selector("canvas.usage-chart-canvas")
    page.wait_for_function(f"({CHART_DRAWN})(document.querySelector('canvas.usage-chart-canvas'))")
    return bool(canvas.evaluate(CHART_DRAWN))


def test_usage_dashboards_with_demo_data(live_server, page, browser, admin):
    result = demo.fill(records=3000, users=12, orgs=3, days=30)
    assert db.session.scalar(sa.select(sa.func.count(UsageRecord.id))) == 3000
    _sign_in(page, live_server, admin.email, factories.PASSWORD)

    page.goto(f"{live_server}/admin/usage?period=30d")
    assert page.locator("h1").first.inner_text() == "Usage"
    assert _chart_drawn(page)
    assert page.locator("#usage-dashboard table").count() > 3  # breakdowns under the chart
    screenshot(page, "usage-admin-30d")

    page.goto(f"{live_server}/admin/usage?period=7d&status=error")
    assert _chart_drawn(page)
    screenshot(page, "usage-admin-errors-7d")

    page.goto(f"{live_server}/pricing")
    page.wait_for_selector("table")
    assert "Credits / M in" in page.content()
    screenshot(page, "pricing")

    busiest = db.session.execute(
        sa.select(UsageRecord.user_id)
        .group_by(UsageRecord.user_id)
        .order_by(sa.func.count().desc())
        .limit(1)
    ).scalar_one()
    person = db.session.get(User, busiest)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    member = context.new_page()
    try:
        _sign_in(member, live_server, person.email, result.password)
        member.goto(f"{live_server}/usage?period=30d")
        assert _chart_drawn(member)
        assert "Credits" in member.content()
        screenshot(member, "usage-member-30d")
    finally:
        context.close()
