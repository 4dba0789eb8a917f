"""Checks on every request, beyond CSRF tokens: cross-site state changes are refused,
signed-in pages are never cached, and a view's own Retry-After is kept."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Flask, Response, abort, g, request

log = logging.getLogger(__name__)

# Token-authenticated paths (the gateway and the JSON API): no cookies, so no cross-site
# forgery to fear, and their clients are not browsers. The one place to exempt a path.
TOKEN_AUTHENTICATED_PREFIXES = ("/v1/", "/api/v1/")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Sec-Fetch-Site values a browser sends for a request this site's own pages made (or the
# user typed): anything else came from another site, even a sibling subdomain.
OWN_FETCH_SITES = frozenset({"same-origin", "none"})
CROSS_SITE = "This request came from another site and was refused. Reload the page and try again."
DEFAULT_PORTS = {"http": 80, "https": 443}


def is_token_authenticated(path: str) -> bool:
    return path.startswith(TOKEN_AUTHENTICATED_PREFIXES)


def _origin(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` with the default port written out; None when malformed."""
    try:
        parts = urlsplit(f"{scheme.lower()}://{netloc}")
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return parts.scheme, parts.hostname.rstrip("."), port


def is_own_origin(origin: str) -> bool:
    """True when an ``Origin`` header names this app, as the request reached it (scheme and
    host after ProxyFix, so behind a trusted proxy the public origin counts)."""
    scheme, sep, netloc = origin.strip().partition("://")
    if not sep or "/" in netloc:
        return False  # "null" (sandboxed frames, some redirects) and garbage
    own = _origin(request.scheme, request.host)
    return own is not None and _origin(scheme, netloc) == own


def refuse_cross_site_requests() -> None:
    """403 for a state change another site's page made, even with a valid CSRF token.
    Requests with neither header (curl, tests, old browsers) rely on the token alone."""
    if request.method not in STATE_CHANGING or is_token_authenticated(request.path):
        return
    site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if (site is not None and site.strip().lower() not in OWN_FETCH_SITES) or (
        origin is not None and not is_own_origin(origin)
    ):
        log.warning(
            "refused cross-site %s %s (Origin %r, Sec-Fetch-Site %r) from %s",
            request.method,
            request.path,
            origin,
            site,
            request.remote_addr,
        )
        abort(403, CROSS_SITE)


def no_store_when_signed_in(response: Response) -> Response:
    """Pages of a signed-in user (key panels, users, audit) stay out of every cache, so the
    back button after sign-out or a shared proxy cannot show them again."""
    user = g.get("_login_user")  # only when this request loaded the user: no extra query
    if request.endpoint != "static" and user is not None and user.is_authenticated:
        response.headers["Cache-Control"] = "no-store"
    return response


def keep_own_retry_after(response: Response) -> Response:
    """A view's own wait (``g.retry_after``, e.g. a sign-in delay) is what the client must
    honour: Flask-Limiter's header injection, which runs before this hook, would stretch it to
    the end of its own window."""
    if (wait := g.get("retry_after")) is not None:
        response.headers["Retry-After"] = str(wait)
    return response


def init_request_guards(app: Flask) -> None:
    """Registered before the extensions: the origin check runs before CSRF, and the after-
    request hooks run after theirs (Flask runs after-request hooks in reverse order)."""
    app.before_request(refuse_cross_site_requests)
    app.after_request(no_store_when_signed_in)
    app.after_request(keep_own_retry_after)
