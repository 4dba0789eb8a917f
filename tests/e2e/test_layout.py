"""The sidebar in a browser at a desktop width (1366) and a phone width (390): every entry
opens its page, marks itself current, and no page is wider than the screen. Screenshots of
each page at both widths, light and dark, go to test-artifacts/screenshots/ (gitignored)."""

from __future__ import annotations

import pytest

from tests import factories
from tests.e2e.conftest import screenshot

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.committed,  # the live server answers from its own threads
    pytest.mark.xdist_group("browser"),  # one worker starts Chromium, once
    pytest.mark.app_config(WTF_CSRF_ENABLED=True),
]

WIDTHS = {"desktop": (1366, 850), "phone": (390, 844)}


def _sign_in(page, live_server: str, user) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/login")
    page.fill("#email", user.email)
    page.fill("#password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#sidebar", state="attached")


def _overflow(page) -> int:  # type: ignore[no-untyped-def]
    """How many pixels the page is wider than the window (0 when it fits)."""
    return int(
        page.evaluate(
            "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            " - window.innerWidth"
        )
    )


def _sticking_out(page) -> list[str]:  # type: ignore[no-untyped-def]
    """The outermost elements that reach past the window's right edge (to say what to fix)."""
    return page.evaluate(
        """() => {
          const out = [];
          for (const el of document.querySelectorAll("body *")) {
            const r = el.getBoundingClientRect();
            if (r.width && r.right > window.innerWidth + 1
                && !(el.parentElement && el.parentElement.getBoundingClientRect().right
                     > window.innerWidth + 1)) {
              out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
                       + (el.className && typeof el.className === "string"
                          ? "." + el.className.split(" ").join(".") : "")
                       + " " + Math.round(r.right));
            }
          }
          return out.slice(0, 8);
        }"""
    )


def _scrolling_boxes(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Boxes whose content is wider than they are (a table that scrolls sideways)."""
    return page.evaluate(
        """() => [...document.querySelectorAll("main *")]
          .filter(el => el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1
                  && ["auto", "scroll"].includes(getComputedStyle(el).overflowX))
          .map(el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
                     + " " + el.scrollWidth + ">" + el.clientWidth)"""
    )


def _walk_sidebar(page, live_server: str, width: str, scheme: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Open every sidebar entry in turn; returns the labels visited."""
    from playwright.sync_api import expect  # auto-waiting checks: a busy machine renders late

    labels = page.locator("#sidebar a").all_inner_texts()
    assert labels, "the sidebar has no entries"
    too_wide, cut_off = {}, {}
    for label in labels:
        if width == "phone":
            sidebar = page.locator("#sidebar")
            expect(sidebar).to_be_hidden()  # folded behind "Menu" on a phone
            page.click(".nav-toggle-label")
            expect(sidebar).to_be_visible()
        link = page.locator("#sidebar a", has_text=label).first
        with page.expect_navigation():
            link.click()
        current = page.locator('#sidebar a[aria-current="page"]')
        assert current.count() == 1 and current.inner_text() == label
        assert page.locator("main h1").count() >= 1, f"{label} has no heading"
        if width == "phone":
            expect(page.locator("#sidebar")).to_be_hidden()  # folded again on the new page
        if (extra := _overflow(page)) > 0:
            too_wide[label] = (extra, _sticking_out(page))
        if width == "desktop" and (scrolled := _scrolling_boxes(page)):
            cut_off[label] = scrolled
        name = label.lower().replace(" ", "-")
        path = screenshot(page, f"nav-{width}-{scheme}-{name}")
        page.screenshot(path=str(path.with_name(f"{path.stem}-screen.png")))  # what one sees
    assert too_wide == {}, f"pages wider than the {width} screen (px): {too_wide}"
    # On a desktop every table fits: none hides columns behind a sideways scroll.
    assert cut_off == {}, f"boxes that scroll sideways at {width} width: {cut_off}"
    return labels


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", list(WIDTHS))
def test_admin_sidebar_opens_every_page_and_fits_the_screen(
    browser, live_server, admin, wired, width, scheme
):
    w, h = WIDTHS[width]
    context = browser.new_context(viewport={"width": w, "height": h}, color_scheme=scheme)
    page = context.new_page()
    try:
        _sign_in(page, live_server, admin)
        labels = _walk_sidebar(page, live_server, width, scheme)
        assert {"Providers", "Models", "Playground", "Audit log"} <= set(labels)
        # The Sign-out button stays reachable: nothing covers it.
        button = page.locator(".topbar-user button[type=submit]")
        box = button.bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        on_top = page.evaluate(
            "([x, y]) => document.elementFromPoint(x, y).closest('button')?.textContent",
            [x, y],
        )
        assert on_top is not None and "Sign out" in on_top
    finally:
        context.close()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_member_sidebar_opens_every_page_and_fits_the_screen(browser, live_server, member, width):
    w, h = WIDTHS[width]
    context = browser.new_context(viewport={"width": w, "height": h})
    page = context.new_page()
    try:
        _sign_in(page, live_server, member)
        labels = _walk_sidebar(page, live_server, width, "member")
        assert "Account" in labels
    finally:
        context.close()


def test_notices_close_hide_themselves_and_leave_room(browser, live_server, admin):
    """The page-load notice (after signing in) and an htmx notice (after a save) both have a
    close button and hide by themselves; the page gets room at its end for them, and they
    never sit over the top bar's Sign-out button."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        _sign_in(page, live_server, admin)
        flashed = page.locator("#notices .notice", has_text="Signed in as")
        flashed.wait_for()
        assert flashed.locator(".notice-close").is_visible()
        padding = page.evaluate("getComputedStyle(document.body).paddingBottom")
        assert float(padding.removesuffix("px")) > 0
        screenshot(page, "notices-page-load-phone")
        flashed.locator(".notice-close").click()
        assert page.locator("#notices .notice").count() == 0
        assert page.evaluate("document.body.style.paddingBottom") == ""

        page.goto(f"{live_server}/admin/defaults")
        page.fill("#settings-temperature", "0.7")
        page.click("#defaults-editor button[type=submit]:not([formaction])")
        saved = page.locator("#notices .notice", has_text="Global defaults saved")
        saved.wait_for()
        assert page.locator("#settings-preview h2").inner_text() == "Effective settings now"
        screenshot(page, "notices-htmx-phone")
        saved.wait_for(state="detached", timeout=9000)  # hides itself after ~6 s
    finally:
        context.close()
