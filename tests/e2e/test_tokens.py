"""Access tokens in the browser: a member's own on /tokens, an org's service tokens from the
org page, every token for admins; the secret is shown once and a row shows its usage."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests import factories
from tests.e2e.conftest import screenshot
from webapp.extensions import db
from webapp.models import AccessToken, UsageRecord

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.committed,  # the live server answers from its own threads
    pytest.mark.xdist_group("browser"),  # one worker starts Chromium, once
    pytest.mark.app_config(WTF_CSRF_ENABLED=True),
]
SECRET_RE = re.compile(r"^sb-[A-Za-z0-9_-]{43}$")


def _sign_in(page, live_server: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/login")
    page.fill("#email", email)
    page.fill("#password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/(?!login).*"))


def test_member_creates_sees_usage_of_and_revokes_a_token(live_server, page, member):
    _sign_in(page, live_server, member.email)
    page.click("#sidebar >> text=Access tokens")
    page.wait_for_selector("#token-create")

    page.fill("#name", "browser bot")
    page.fill("#allowed_models", "nosuch/*")
    page.click("#token-create button[type=submit]")
    page.wait_for_selector("#allowed_models-error")
    assert "matches no enabled model" in page.locator("#allowed_models-error").inner_text()
    screenshot(page, "tokens-form-error")

    page.fill("#allowed_models", "openai/*")
    page.fill("#requests_per_minute", "60")
    page.fill("#budget_amount", "5")
    page.click("#token-create button[type=submit]")
    secret = page.locator("#new-token-secret").input_value()
    assert SECRET_RE.match(secret)
    token = db.session.scalar(sa.select(AccessToken).where(AccessToken.name == "browser bot"))
    page.wait_for_selector(f"#token-{token.id}")  # the table reloaded itself
    row = page.locator(f"#token-{token.id}").inner_text()
    assert f"{token.prefix}…" in row and "openai/*" in row and "5.00 USD" in row
    screenshot(page, "tokens-created")

    db.session.add(
        UsageRecord(
            request_id=uuid.uuid4().hex,
            status="ok",
            access_token_id=token.id,
            cost_usd=Decimal("0.42"),
        )
    )
    db.session.commit()
    page.reload()
    assert secret not in page.content()  # shown once: never again
    row = page.locator(f"#token-{token.id}")
    assert row.locator("[data-label=requests]").inner_text().strip() == "1"
    assert "$0.42" in row.locator("[data-label=cost]").inner_text()
    screenshot(page, "tokens-usage")

    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button", has_text="Revoke").click()
    page.wait_for_selector(f"#token-{token.id}.token-revoked")
    db.session.expire_all()
    assert db.session.get(AccessToken, token.id).revoked_at is not None


def test_org_admin_creates_a_service_token_and_admin_sees_every_token(
    live_server, browser, page, member, admin
):
    org = factories.make_org("acme", "Acme")
    factories.add_member(org, member, "org_admin")
    _sign_in(page, live_server, member.email)
    page.goto(f"{live_server}/admin/orgs/{org.id}")
    page.click("text=Service tokens")
    page.wait_for_selector("#token-create")
    page.fill("#name", "nightly etl")
    page.click("#token-create button[type=submit]")
    secret = page.locator("#new-token-secret").input_value()
    assert SECRET_RE.match(secret)
    token = db.session.scalar(sa.select(AccessToken).where(AccessToken.name == "nightly etl"))
    assert token.kind == "service" and token.org_id == org.id
    page.wait_for_selector(f"#token-{token.id}")
    assert "service token" in page.locator(f"#token-{token.id}").inner_text()
    screenshot(page, "tokens-service")

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    admin_page = context.new_page()
    _sign_in(admin_page, live_server, admin.email)
    admin_page.click("#sidebar >> text=All tokens")
    admin_page.wait_for_selector(f"#token-{token.id}")
    assert "Acme" in admin_page.locator(f"#token-{token.id}").inner_text()
    assert secret not in admin_page.content()
    screenshot(admin_page, "tokens-admin")
    context.close()
