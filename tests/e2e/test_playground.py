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


def pick_user(page, email: str) -> None:  # type: ignore[no-untyped-def]
    """Choose a user in the searchable picker: type, then click the match."""
    page.fill("#user_id-search", email)
    page.locator(f"#user_id-results [data-pick-label='{email}']").click()


def test_the_prompt_never_travels_in_a_url(live_server, page, admin, member, wired):
    """Watch every request the browser makes while selectors change and the prompt is
    sent (streamed and not): the prompt and the CSRF token are only ever in POST bodies."""
    prompt = "confidential-words-in-the-prompt"
    requests: list = []
    page.on("request", lambda r: requests.append(r))
    page.goto(f"{live_server}/login")
    page.fill("#email", admin.email)
    page.fill("#password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server}/admin/playground")
    page.fill("#prompt", prompt)
    page.fill("#system", "system-words-too")
    with page.expect_response("**/admin/playground/effective?*"):
        page.select_option("#model", "anthropic/claude-haiku-4-5")
    with page.expect_response("**/admin/playground/effective?*"):
        pick_user(page, member.email)
    with page.expect_response("**/admin/playground/effective?*"):
        pick_user(page, admin.email)
    with page.expect_response("**/admin/playground/effective?*"):
        page.fill("#temperature", "0.3")
        page.locator("#temperature").dispatch_event("change")
    page.click("#playground-send")  # streamed
    page.wait_for_selector("#playground-record >> text=Usage record")
    page.uncheck("#stream-reply")
    page.click("#playground-send")  # htmx post
    page.wait_for_selector("#playground-record >> text=Usage record")

    previews = [r for r in requests if "/admin/playground/effective" in r.url]
    assert len(previews) >= 4
    assert all(r.method == "GET" and "model=" in r.url for r in previews)
    for r in requests:
        assert prompt not in r.url and "system-words" not in r.url, r.url
        assert "csrf_token" not in r.url, r.url
    posts = [r for r in requests if r.method == "POST" and "/admin/playground" in r.url]
    assert len(posts) == 2 and all(prompt in (r.post_data or "") for r in posts)
