"""Credits and budgets in a browser: an admin grants credits and sets a budget on a user's
page (htmx swaps, real CSRF tokens); the member sees both on their account page."""

from __future__ import annotations

import pytest

from tests import factories
from tests.e2e.conftest import screenshot

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.committed,
    pytest.mark.xdist_group("browser"),
    pytest.mark.app_config(WTF_CSRF_ENABLED=True),
]


def _sign_in(page, base: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def test_admin_grants_credits_and_sets_a_budget(live_server, browser, admin, member):
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    _sign_in(page, live_server, admin.email)
    page.goto(f"{live_server}/admin/users/{member.id}")
    credits = f"#billing-credits-user-{member.id}"
    prefix = f"credits-user-{member.id}"

    page.fill(f"#{prefix}-amount", "abc")
    page.fill(f"#{prefix}-note", "welcome")
    page.click(f"{credits} button[type=submit]")
    page.wait_for_selector(f"{credits} .field-error >> text=Enter a number")

    page.fill(f"#{prefix}-amount", "25")
    page.click(f"{credits} button[type=submit]")
    page.wait_for_selector(f"{credits} .billing-balance >> text=25.00")
    assert "welcome" in page.locator(f"{credits} table").inner_text()

    budgets = f"#billing-budgets-user-{member.id}"
    page.click(f"{budgets} details summary")
    page.select_option("#new-budget-enforcement", "soft")
    page.fill("#new-budget-amount", "10")
    page.click(f"{budgets} button[type=submit] >> text=Add budget")
    page.wait_for_selector(f"{budgets} progress")
    screenshot(page, "billing-01-user-page")

    page.goto(f"{live_server}/admin/billing")
    page.fill("#timezone", "Mars/Olympus")
    page.click("#billing-settings button[type=submit]")
    page.wait_for_selector("#billing-settings .field-error")
    page.fill("#timezone", "Europe/Berlin")
    page.click("#billing-settings button[type=submit]")
    page.wait_for_selector("#billing-settings >> text=budget periods follow Europe/Berlin")
    screenshot(page, "billing-02-settings")
    page.context.close()

    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    _sign_in(page, live_server, member.email)
    page.goto(f"{live_server}/account")
    page.wait_for_selector(f"{credits} .billing-balance >> text=25.00")
    assert page.locator(f"{credits} form").count() == 0
    assert "Europe/Berlin" in page.locator(budgets).inner_text()
    screenshot(page, "billing-03-account")
    page.context.close()
