"""In a browser: moving a provider to another host shows, while typing, which keys it would
pause; after saving the row shows them paused and the admin sends them on."""

from __future__ import annotations

import pytest

from tests import factories
from tests.e2e.conftest import screenshot
from webapp.extensions import db
from webapp.services.credentials.resolution import resolve_key

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.committed,
    pytest.mark.xdist_group("browser"),
    pytest.mark.app_config(WTF_CSRF_ENABLED=True),
]
NEW_URL, NEW_HOST = "https://llm.elsewhere.example/v1", "https://llm.elsewhere.example"


def test_admin_moves_a_provider_and_confirms_its_keys(live_server, page, admin, wired):
    factories.allowed_host("llm.elsewhere.example:443")  # no DNS in tests
    page.goto(f"{live_server}/login")
    page.fill("#email", admin.email)
    page.fill("#password", factories.PASSWORD)
    page.click("button[type=submit]")

    page.goto(f"{live_server}/admin/providers")
    page.locator("#provider-openai a", has_text="Edit").click()
    impact = page.locator("#provider-openai-impact")
    impact.get_by_text("Keys sent to this address today: 1 global key").wait_for()
    page.locator("#provider-openai input[name=base_url]").fill(NEW_URL)
    page.locator("#provider-openai input[name=base_url]").press("Tab")  # fires "change"
    page.wait_for_selector("#provider-openai-impact >> text=Saving pauses 1 global key")
    screenshot(page, "key-origins-01-impact")

    page.locator("#provider-openai button", has_text="Save").click()
    paused = page.locator("#provider-openai-paused")
    paused.get_by_text("Paused until confirmed:").wait_for()
    assert NEW_HOST in paused.inner_text()
    screenshot(page, "key-origins-02-paused")
    page.goto(f"{live_server}/admin/keys#keys-openai")
    page.locator("#keys-openai").get_by_text(f"Send the existing key to {NEW_HOST}").wait_for()
    screenshot(page, "key-origins-03-keys-page")

    page.goto(f"{live_server}/admin/providers")

    page.locator("#provider-openai-paused button", has_text=f"to {NEW_HOST}").click()
    page.wait_for_selector("#provider-openai-paused", state="detached")
    db.session.expire_all()
    assert resolve_key(None, None, factories.provider("openai")).source == "global"
