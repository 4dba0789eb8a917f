"""Form details in a browser: the feature slug follows the name, and a 409 keeps what was
typed with the saved value beside it."""

from __future__ import annotations

import pytest

from tests import factories
from tests.e2e.conftest import screenshot
from webapp.extensions import db
from webapp.services.settings import layers as settings_service

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


def test_the_feature_slug_follows_the_name_until_typed(live_server, page, admin):
    _sign_in(page, live_server, admin)
    page.goto(f"{live_server}/admin/features")
    page.click("#features-list summary")
    page.fill("#name", "Résumé Writer 2")
    assert page.input_value("#slug") == "resume-writer-2"
    page.fill("#slug", "cv")
    page.fill("#name", "Something else")
    assert page.input_value("#slug") == "cv"  # typed by hand: left alone
    page.fill("#slug", "")
    page.fill("#name", "Support Bot")
    page.locator("#name").dispatch_event("input")
    assert page.input_value("#slug") == "support-bot"
    page.click("#features-list form[data-slug-from] button[type=submit]")
    page.wait_for_selector("#features-list >> text=support-bot")
    screenshot(page, "features-slug")


def test_a_conflict_keeps_what_was_typed(live_server, page, admin):
    _sign_in(page, live_server, admin)
    page.goto(f"{live_server}/admin/defaults")
    # Another admin saves meanwhile.
    settings_service.update_settings(
        None, settings_service.parameter_set_for("global"), {"temperature": 1.1}
    )
    db.session.commit()
    page.fill("#settings-temperature", "0.3")
    page.click("#defaults-editor button[type=submit]:not([formaction])")
    page.wait_for_selector("#defaults-editor >> text=Someone else changed")
    assert page.input_value("#settings-temperature") == "0.3"
    note = page.locator(".setting-temperature .saved-meanwhile").inner_text()
    assert "1.1" in note
    screenshot(page, "conflict-defaults")
    page.click("#defaults-editor button[type=submit]:not([formaction])")  # save theirs anyway
    page.wait_for_selector("#notices >> text=Global defaults saved")
