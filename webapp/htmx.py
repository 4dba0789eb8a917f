"""Page-or-partial rendering, HX-Trigger notices, and the one answer to a form post.

htmx requests are recognised in one way only, through htmx-flask's ``request.htmx``:
``is_htmx()`` for any htmx request (it wants ``HX-Redirect`` rather than a 303, a notice
rather than a page), ``is_partial_request()`` for a swap (it wants a partial).
This module is the only one that reads or writes ``HX-*`` headers (a test checks it): views
answer with ``render``, ``respond`` or ``redirect_to``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import flash, make_response, redirect, render_template, request
from werkzeug.wrappers import Response

from webapp.hints import hint_parts

# ``trigger`` and ``add_notice`` hand back the response they were given, flask's or werkzeug's.
R = TypeVar("R", bound=Response)


def is_htmx() -> bool:
    """True for any request htmx made (swaps, boosted links, history restores)."""
    return bool(getattr(request, "htmx", False))


def is_partial_request() -> bool:
    """True for an htmx swap; false for a normal load, a boosted link or a history restore."""
    htmx = getattr(request, "htmx", None)
    if not htmx:
        return False
    return not htmx.boosted and not htmx.history_restore_request


def current_url() -> str | None:
    """The page an htmx request was made from (``HX-Current-URL``); None for other requests."""
    htmx = getattr(request, "htmx", None)
    return htmx.current_url if htmx else None


def render(page: str, partial: str, status: int = 200, **context: Any) -> Response:
    """Render the full ``page`` or, for an htmx swap, only ``partial`` (which the page includes)."""
    template = partial if is_partial_request() else page
    response = make_response(render_template(template, **context), status)
    response.headers.add("Vary", "HX-Request")
    return response


def respond(
    view: Callable[[], Response],
    *,
    status: int = 200,
    notice: str | None = None,
    level: str = "success",
    then: str | None = None,
    page: Callable[[], Response] | None = None,
    events: Iterable[str] = (),
) -> Response:
    """The one answer to a form post (and to the GETs that share its views):

    - an htmx swap gets ``view()`` (a partial, at ``status``) and the notice in ``HX-Trigger``,
      with ``events`` for the other regions of the page that refresh themselves;
    - without JavaScript, a success (``status`` < 400, a POST, ``then`` given) flashes the
      notice and redirects to ``then`` with a 303 (post/redirect/get);
    - without JavaScript otherwise (an error, a GET, or no ``then``) the whole page is
      rendered now at ``status``, by ``page()`` when given or else by ``view()`` (``render``
      picks the page), with the notice flashed onto it.
    """
    if is_partial_request():
        response = view()
        for event in events:
            trigger(response, event)
        return add_notice(response, notice, level) if notice else response
    if then is not None and status < 400 and request.method != "GET":
        flash(notice or "Saved.", level)
        return redirect(then, 303)
    if notice:
        flash(notice, level)  # shown by the page rendered now
    return (page or view)()


def trigger(response: R, event: str, detail: Any = None) -> R:
    """Add an event to ``HX-Trigger`` so other regions of the page can react."""
    current: dict[str, Any] = json.loads(response.headers.get("HX-Trigger") or "{}")
    current[event] = detail
    response.headers["HX-Trigger"] = json.dumps(current)
    return response


def add_notice(response: R, message: str, level: str = "success") -> R:
    """Ask the page to show a notice (handled in static/js/app.js). A hint that names a
    setting also comes as ``parts``, text and links the page builds without parsing HTML."""
    detail: dict[str, Any] = {"level": level, "message": message}
    parts = hint_parts(message)
    if len(parts) > 1:
        detail["parts"] = [{"text": text, "href": url} for text, url in parts]
    return trigger(response, "notice", detail)


def notice_instead(response: R, message: str, level: str = "error") -> R:
    """Leave the page as it is (no swap) and show ``message`` as a notice: an htmx request
    that failed as a whole."""
    response.headers["HX-Reswap"] = "none"
    return add_notice(response, message, level)


def redirect_to(
    url: str, status: int = 200, *, notice: str | None = None, level: str = "success"
) -> Response:
    """A full navigation, htmx or not (after a delete, or when the page must change): htmx
    gets ``HX-Redirect`` (with ``status``), a browser a 303; ``notice`` is shown on the page
    it lands on."""
    if notice:
        flash(notice, level)
    if is_htmx():
        response = make_response("", status)
        response.headers["HX-Redirect"] = url
        return response
    return make_response("", 303, {"Location": url})
