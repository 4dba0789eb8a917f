"""The whole admin flow in a browser, against the fake upstream: provider, key, connection
test, live models, default, organization, profile, feature, and the explainer."""

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


def pick(page, field: str, typed: str, label: str) -> None:  # type: ignore[no-untyped-def]
    """Choose in a searchable picker: type, wait for the match, click it."""
    page.fill(f"#{field}-search", typed)
    option = page.locator(f"#{field}-results [data-pick-label='{label}']")
    option.click()
    page.wait_for_function(
        "([id, label]) => document.getElementById(id + '-search').value === label",
        arg=[field, label],
    )


def test_admin_configures_a_provider_end_to_end(live_server, page, admin, fake_upstream):
    host = fake_upstream.base_url.removeprefix("http://")
    page.goto(f"{live_server}/login")
    page.fill("#email", admin.email)
    page.fill("#password", factories.PASSWORD)
    page.click("button[type=submit]")

    # A local test server is a private host: allow it first.
    page.goto(f"{live_server}/admin/keys")
    page.fill("#host", host)
    page.fill("#note", "the fake upstream")
    page.click("#allowed-hosts button[type=submit]")
    page.wait_for_selector(f"#allowed-hosts >> text={host}")

    # Add the provider.
    page.goto(f"{live_server}/admin/providers")
    page.click("#provider-create summary")
    page.fill("#slug", "fakeai")
    page.fill("#display_name", "Fake AI")
    page.select_option("#protocol", "openai_compatible")
    page.fill("#base_url", fake_upstream.openai_base_url)
    page.click("#provider-create button[type=submit]")
    page.wait_for_selector("#provider-fakeai")
    screenshot(page, "admin-01-providers")

    # Its global key.
    page.goto(f"{live_server}/admin/keys")
    panel = page.locator("#keys-fakeai")
    panel.locator("summary").click()
    panel.locator("input[type=password]").fill("sk-fake-admin-key-0001")
    panel.locator("button", has_text="Save key").click()
    page.wait_for_selector("#keys-fakeai >> text=•••• set (…0001)")
    screenshot(page, "admin-02-keys")

    # Test the connection, fetch the live list, add two models.
    page.goto(f"{live_server}/admin/providers")
    page.locator("#provider-fakeai button", has_text="Test connection").click()
    page.wait_for_selector("#provider-fakeai-test .badge-ok")
    assert "2 models" in page.locator("#provider-fakeai-test").inner_text()
    page.locator("#provider-fakeai button", has_text="Fetch models").click()
    page.wait_for_selector("#provider-fakeai-live input[name=model]")
    for checkbox in page.locator("#provider-fakeai-live input[name=model]").all():
        checkbox.check()
    screenshot(page, "admin-03-live-models")
    page.locator("#provider-fakeai-live button", has_text="Add selected models").click()
    page.wait_for_selector("#provider-fakeai a >> text=2")

    # Make one of them the default chat model.
    page.goto(f"{live_server}/admin/models?provider=fakeai")
    row = page.locator("tr", has_text="fakeai/fake-model-a")
    row.locator("button", has_text="Make default chat").click()
    page.wait_for_selector("tr:has-text('fakeai/fake-model-a') >> text=default chat")
    screenshot(page, "admin-04-models")

    # An organization with its own "fast" profile on the other model.
    page.goto(f"{live_server}/admin/orgs")
    page.click("#orgs-list summary")
    page.fill("#slug", "acme")
    page.fill("#name", "Acme")
    page.click("#orgs-list button[type=submit]")
    page.click("#orgs-list a >> text=Acme")
    page.click("#org-tabs nav a >> text=Profiles")  # one tab per section
    page.wait_for_selector("#org-profiles")
    page.fill("#org-profiles #name", "fast")
    page.click("#org-profiles button[type=submit]")
    page.click("#org-profiles a >> text=fast")
    page.select_option("#profile-model", "fakeai/fake-model-b")
    page.click("#profile-settings button[type=submit] >> text=Save settings")
    page.wait_for_selector("#notices >> text=saved")
    screenshot(page, "admin-05-org-profile")

    # A feature of that organization using the profile.
    page.goto(f"{live_server}/admin/features")
    page.click("#features-list summary >> text=Create a feature")
    pick(page, "owner", "acm", "Acme")
    page.fill("#slug", "summarize")
    page.fill("#name", "Summarize")
    page.select_option("#profile_name", "fast")
    page.click("#features-list button >> text=Create feature")
    page.wait_for_selector("#features-list >> text=summarize")
    screenshot(page, "admin-06-features")

    # The explainer shows each value's source.
    page.goto(f"{live_server}/admin/effective")
    pick(page, "user_id", admin.email[:5], admin.email)
    pick(page, "org_id", "Ac", "Acme")
    pick(page, "feature", "summ", "summarize")
    page.wait_for_selector("#effective-model >> text=fakeai/fake-model-b")
    model_row = page.locator("#effective-model").inner_text()
    assert "profile" in model_row and "Profile fast (org)" in model_row
    assert "built-in" in page.locator("#effective-temperature").inner_text()
    keys = page.locator("#explainer-keys").inner_text()
    assert "global" in keys and "sk-fake-admin" not in page.content()
    screenshot(page, "admin-07-explainer")
