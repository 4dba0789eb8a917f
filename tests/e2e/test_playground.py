"""The playground in a browser: the reply streams in, then the usage record appears."""

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


def test_admin_streams_a_reply_and_sees_the_usage_record(live_server, page, admin, wired):
    page.goto(f"{live_server}/login")
    page.fill("#email", admin.email)
    page.fill("#password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server}/admin/playground")
    page.select_option("#model", "anthropic/claude-haiku-4-5")
    page.wait_for_selector("#playground-effective >> text=this call")
    page.fill("#prompt", "Say hello")
    page.click("#playground-send")
    page.wait_for_selector("#playground-record >> text=Usage record")
    assert page.locator("#playground-reply").inner_text() == wired.default_text
    record = page.locator("#playground-record").inner_text()
    assert "anthropic/claude-haiku-4-5" in record and "streamed" in record
    assert "first token after" in record and "global" in record
    screenshot(page, "playground")
