"""Sign in with a real browser and browse the seeded catalog."""

from __future__ import annotations

import pytest

from tests import factories
from tests.e2e.conftest import screenshot

# Real browsers send real CSRF tokens: keep the protection on.
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.committed,  # the live server answers from its own threads
    pytest.mark.xdist_group("browser"),  # one worker starts Chromium, once
    pytest.mark.app_config(WTF_CSRF_ENABLED=True),
]


def test_admin_signs_in_and_opens_providers_and_models(live_server, page, admin):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{live_server}/admin/providers")
    assert "/login" in page.url
    page.fill("#email", admin.email)
    page.fill("#password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/admin/providers")
    assert page.locator("h1").inner_text() == "Providers"
    assert page.locator("#provider-anthropic").is_visible()
    assert page.locator("#providers-table tbody tr[id^=provider-]").count() == 10
    screenshot(page, "providers")

    page.click("nav >> text=Models")
    page.wait_for_url(f"{live_server}/admin/models")
    page.select_option("#provider", "anthropic")  # htmx swaps the table in place
    page.wait_for_function(
        "() => !document.querySelector('#models-table').textContent.includes('gpt-5.4-mini')"
    )
    assert "provider=anthropic" in page.url  # hx-push-url keeps the filter in the address
    assert "claude-sonnet-5-5" in page.locator("#models-table").inner_text()
    screenshot(page, "models-filtered")
    assert errors == [], f"browser console errors: {errors}"
