"""A member manages personal keys in the browser: everything inline, nothing shown twice."""

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
SECRET = "sk-browser-personal-KEY-7Qz1"


def test_member_switches_mode_and_manages_a_key_inline(live_server, page, member):
    page.goto(f"{live_server}/login")
    page.fill("#email", member.email)
    page.fill("#password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server}/settings")

    page.check("input[value=byok]")  # htmx saves on change
    page.wait_for_selector("#notices .notice-success")
    assert "bring-your-own-key" in page.locator("#notices").inner_text()

    panel = page.locator("#keys-openai")
    panel.locator("summary").click()
    openai = factories.provider("openai")
    panel.locator(f"#add-{openai.id}-secret").fill("short")
    panel.locator("button[type=submit]", has_text="Save key").click()
    page.wait_for_selector("#keys-openai .field-error")
    assert "at least 8 characters" in page.locator("#keys-openai").inner_text()

    page.locator(f"#add-{openai.id}-secret").fill(SECRET)
    page.locator(f"#add-{openai.id}-label").fill("laptop")
    page.locator("#keys-openai button[type=submit]", has_text="Save key").click()
    page.wait_for_selector("#keys-openai tbody tr")
    text = page.locator("#keys-openai").inner_text()
    assert "•••• set (…7Qz1)" in text and "laptop" in text
    assert SECRET not in page.content()
    screenshot(page, "settings-keys")

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#keys-openai button", has_text="Remove").click()
    page.wait_for_selector("#keys-openai >> text=No key stored.")
