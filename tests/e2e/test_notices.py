"""htmx notices in a browser: a hint about the allowed private hosts is a link to that
setting, built from text parts (never parsed as HTML), and only to a page of this site."""

from __future__ import annotations

import pytest

from tests import factories
from webapp.extensions import db
from webapp.services.settings.cache import settings_cache

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.committed,  # the live server answers from its own threads
    pytest.mark.xdist_group("browser"),  # one worker starts Chromium, once
    pytest.mark.app_config(WTF_CSRF_ENABLED=True),
]


def _sign_in(page, live_server: str, user) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/login")
    page.fill("#email", user.email)
    page.fill("#password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#sidebar", state="attached")


def test_a_blocked_connection_test_notice_links_to_the_allowed_hosts(live_server, page, admin):
    ollama = factories.provider("ollama")
    ollama.base_url, ollama.enabled = "http://10.0.0.5:11434/v1", True
    db.session.commit()
    settings_cache().clear()
    _sign_in(page, live_server, admin)
    page.goto(f"{live_server}/admin/providers")
    page.click("#provider-ollama form[action$='/test'] button")
    notice = page.locator("#notices .notice-error", has_text="will not call 10.0.0.5")
    notice.wait_for()
    link = notice.locator("a")
    assert link.count() == 1 and link.inner_text() == "Keys page, under Allowed private hosts"
    assert link.get_attribute("href") == "/admin/keys#allowed-hosts"
    with page.expect_navigation():
        link.click()
    assert page.url.endswith("/admin/keys#allowed-hosts")


def test_notice_parts_are_text_and_links_to_this_site_only(live_server, page, admin):
    _sign_in(page, live_server, admin)
    page.evaluate(
        """() => document.dispatchEvent(new CustomEvent("notice", {detail: {
             level: "error", message: "fallback",
             parts: [{text: "<img src=x onerror=alert(1)> then ", href: null},
                     {text: "elsewhere", href: "javascript:alert(1)"},
                     {text: " or ", href: "//evil.example/"},
                     {text: "here", href: "/admin/keys#allowed-hosts"}]}}))"""
    )
    notice = page.locator("#notices .notice-error", has_text="then")
    notice.wait_for()
    assert notice.locator("img").count() == 0
    assert "<img src=x onerror=alert(1)> then" in notice.inner_text()
    hrefs = notice.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs == ["/admin/keys#allowed-hosts"]
