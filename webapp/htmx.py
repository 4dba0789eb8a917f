"""Page-or-partial rendering and HX-Trigger notices."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, make_response, render_template, request


def is_partial_request() -> bool:
    """True for an htmx swap; false for a normal load, a boosted link or a history restore."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render(page: str, partial: str, status: int = 200, **context: Any) -> Response:
    """Render the full ``page`` or, for an htmx swap, only ``partial`` (which the page includes)."""
    template = partial if is_partial_request() else page
    response = make_response(render_template(template, **context), status)
    response.headers.add("Vary", "HX-Request")
    return response


def trigger(response: Response, event: str, detail: Any = None) -> Response:
    """Add an event to ``HX-Trigger`` so other regions of the page can react."""
    current: dict[str, Any] = json.loads(response.headers.get("HX-Trigger") or "{}")
    current[event] = detail
    response.headers["HX-Trigger"] = json.dumps(current)
    return response


def add_notice(response: Response, message: str, level: str = "success") -> Response:
    """Ask the page to show a notice (handled in static/js/app.js)."""
    return trigger(response, "notice", {"level": level, "message": message})


def redirect_to(url: str) -> Response:
    """After a delete from a page that no longer exists: a full navigation, htmx or not."""
    if getattr(request, "htmx", False):
        response = make_response("", 200)
        response.headers["HX-Redirect"] = url
        return response
    return make_response("", 303, {"Location": url})
