"""The API reference page in a browser: Swagger UI from the vendored assets renders every
operation of /api/v1/openapi.json, with no Content-Security-Policy violation."""

from __future__ import annotations

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.committed,  # the live server answers from its own threads
    pytest.mark.xdist_group("browser"),
]


def test_reference_page_renders_the_document(browser, live_server) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{live_server}/api/docs")
    page.wait_for_selector(".opblock", timeout=15_000)
    assert "Switchboard management API" in page.inner_text(".info")
    assert page.locator(".opblock").count() > 40
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
    page.close()
