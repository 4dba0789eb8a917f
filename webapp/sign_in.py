"""The signed-in session in the browser: starting and ending it, "recent sign-in" for
dangerous actions, and the forced password change after a reset.

The server-side rules (session tokens, the sign-in time inside the id) live in
``services/accounts/sessions.py``; this module is the glue with Flask's session and Flask-Login.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, current_app, g, jsonify, request, session, url_for
from flask_login import current_user, login_fresh, login_user, logout_user
from werkzeug.wrappers import Response

from webapp.htmx import current_url, is_htmx, redirect_to
from webapp.models import User
from webapp.request_guards import is_token_authenticated
from webapp.services.accounts import recent_sign_in, sessions

F = TypeVar("F", bound=Callable[..., Any])

RECENT_SIGN_IN = 15 * 60  # seconds a password prompt keeps dangerous actions open
SIGNED_IN_AT = "_signed_in_at"  # when the password was last typed in this session
KEPT_ACROSS_SIGN_IN = ("next",)
NEEDS_RECENT = "This action needs a recent sign-in: confirm your password to continue."
# What a user who must replace their password may still reach.
OPEN_DURING_PASSWORD_CHANGE = frozenset(
    {"static", "auth.logout", "account.password", "account.change_password", "health.healthz"}
)


def same_site_path(target: str | None) -> str | None:
    """``target`` as a path on this site, or None: ``next`` never sends anyone elsewhere.

    Absolute URLs (htmx's ``HX-Current-URL``) count when they name this very origin."""
    if not target or "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        if (parts.scheme, parts.netloc) != (request.scheme, request.host):
            return None
        target = parts.path + (f"?{parts.query}" if parts.query else "")
    if not target.startswith("/") or target.startswith("//"):
        return None
    return target


def start_session(user: User, *, remember: bool) -> None:
    """Sign in: a new session (nothing carried over from before, against fixation), a new
    CSRF secret, the sign-in time in the id, and a recent sign-in for dangerous actions."""
    kept = {key: session[key] for key in KEPT_ACROSS_SIGN_IN if key in session}
    session.clear()
    session.update(kept)
    g.pop("csrf_token", None)  # Flask-WTF's per-request copy of the old secret's token
    login_user(user, remember=remember)
    # Flask-Login stores user.get_id(); ours adds the sign-in time, which also goes into the
    # remember-me cookie (built from this key after the request) and bounds its life.
    session["_user_id"] = sessions.session_id(user)
    session[SIGNED_IN_AT] = sessions.now()


def renew_session() -> None:
    """After the current user's token rotated (their own password change): stay signed in
    here, with the remember-me cookie renewed if this browser had one."""
    user = current_user._get_current_object()  # the proxy reads the session about to go
    remember_cookie = current_app.config["REMEMBER_COOKIE_NAME"] in request.cookies
    start_session(user, remember=remember_cookie)


def end_session() -> None:
    """Sign out in this browser: forget the session and delete the remember-me cookie."""
    logout_user()
    remember = session.get("_remember")  # "clear": Flask-Login deletes the cookie afterwards
    session.clear()
    if remember:
        session["_remember"] = remember


def signed_in_recently() -> bool:
    """True when the password was typed in this session within ``RECENT_SIGN_IN`` seconds.
    A session restored from the remember-me cookie is never recent."""
    at = session.get(SIGNED_IN_AT)
    if not login_fresh() or not isinstance(at, int):
        return False
    return 0 <= sessions.now() - at <= RECENT_SIGN_IN


def confirm_recent_sign_in() -> None:
    """The password was just typed again (``/reauth``)."""
    session["_fresh"] = True
    session[SIGNED_IN_AT] = sessions.now()


def _back_to() -> str:
    """Where to return after ``/reauth``: the page the user was on, never a POST-only URL."""
    if is_htmx():
        return same_site_path(current_url()) or url_for("main.home")
    if request.method == "GET":
        return same_site_path(request.full_path.rstrip("?")) or url_for("main.home")
    return same_site_path(request.referrer) or url_for("main.home")


def require_recent_sign_in() -> Response | None:
    """None when the session signed in recently; else the response that asks for the
    password: htmx gets 401 + ``HX-Redirect`` (never a broken partial), browsers a redirect."""
    if signed_in_recently():
        return None
    target = url_for("auth.reauth", next=_back_to())
    wants_json = request.accept_mimetypes.best_match(["text/html", "application/json"])
    if not is_htmx() and wants_json == "application/json":
        response = jsonify(error={"message": NEEDS_RECENT, "type": "reauthentication_required"})
        response.status_code = 401
        return response
    return redirect_to(target, 401, notice=NEEDS_RECENT, level="info")


def recent_sign_in_required(view: F) -> F:
    """Like Flask-Login's ``fresh_login_required``, with a time limit: place it below the
    role check (``@admin_required``), which handles anonymous requests. It asks before the
    form is read; the services check again (``recent_sign_in.require``) whatever the route."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return require_recent_sign_in() or view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _password_change_first() -> Response | None:
    """After a reset, every page but the change-password page sends the user there."""
    if request.endpoint in OPEN_DURING_PASSWORD_CHANGE or is_token_authenticated(request.path):
        return None  # the gateway and the API read no session
    if not current_user.is_authenticated or not current_user.must_change_password:
        return None
    return redirect_to(url_for("account.password"))


def _never() -> bool:
    return False


def _vouch() -> None:
    """Tell the services how this request proves a recent sign-in: pages by the password
    typed in this session lately; token-authenticated paths read no session, so the API
    vouches for itself once the token is known, and the gateway never does."""
    recent_sign_in.vouch(_never if is_token_authenticated(request.path) else signed_in_recently)


def init_sign_in(app: Flask) -> None:
    app.before_request(_vouch)
    app.before_request(_password_change_first)
