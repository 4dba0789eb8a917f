"""Browser tests: the app served from a thread, driven by Playwright in Debian's Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Debian's old headless shell (apt-get install chromium-headless-shell), which is what
# Playwright itself runs headless, draws the same pages as the full browser in its new
# headless mode for about a quarter less CPU; the full browser is used when it is missing.
HEADLESS_SHELL = Path("/usr/lib/chromium/chromium-headless-shell")
FULL_BROWSER = Path("/usr/bin/chromium")
CHROMIUM = Path(
    os.environ.get("SWITCHBOARD_CHROMIUM")
    or (HEADLESS_SHELL if HEADLESS_SHELL.exists() else FULL_BROWSER)
)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        if os.environ.get("SWITCHBOARD_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium-headless-shell")
        pytest.skip(
            f"{CHROMIUM} is missing (apt-get install -y chromium-headless-shell); "
            "browser tests skipped"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    """Save a full-page screenshot under test-artifacts/screenshots/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
