"""Sign-in (rate limited per address, slowed down per account and address), sign-out, and
the password prompt before dangerous actions (``/reauth``)."""

from __future__ import annotations

from flask import (
    current_app,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from webapp.blueprints.auth import bp
from webapp.blueprints.auth.forms import LoginForm, ReauthForm
from webapp.extensions import limiter
from webapp.htmx import is_htmx, redirect_to
from webapp.models import User
from webapp.services.accounts import sessions, users
from webapp.services.accounts import sign_in_throttle as throttle
from webapp.sign_in import (
    confirm_recent_sign_in,
    end_session,
    same_site_path,
    start_session,
)

WRONG = "Wrong email or password."
PASSWORD_OFF = "Password sign-in is turned off here: use your company sign-in."


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths, so ``next`` cannot send users elsewhere."""
    return same_site_path(target) or url_for("main.home")


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _address() -> str:
    return request.remote_addr or "unknown"


def _wait_response(template: str, form: LoginForm | ReauthForm, wait: int) -> Response:
    """429 with ``Retry-After``: the password was not checked."""
    form.password.errors.append(
        f"Too many failed attempts for this account from your address. Try again in {wait} s."
    )
    g.retry_after = wait  # kept over Flask-Limiter's own header (request_guards)
    return make_response(render_template(template, form=form), 429)


def _password_off(template: str, form: LoginForm | ReauthForm) -> Response | None:
    """403 for a password POST when ``SWITCHBOARD_PASSWORD_SIGN_IN=0`` (the form is hidden)."""
    if current_app.config.get("PASSWORD_SIGN_IN", True) or request.method != "POST":
        return None
    return make_response(render_template(template, form=form, sso_error=PASSWORD_OFF), 403)


def _check_password(email: str, password: str, what: str) -> tuple[User | None, int]:
    """The user (or None) and, when the pair must wait, the seconds left (password unchecked)."""
    try:
        user = throttle.checked(
            email, _address(), lambda: users.authenticate(email, password), what=what
        )
    except throttle.TooManyAttempts as exc:
        return None, exc.wait
    return user, 0


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> Response | str:
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if refused := _password_off("auth/login.html", form):
        return refused
    status = 200
    if form.validate_on_submit():
        user, wait = _check_password(form.email.data or "", form.password.data or "", "sign-in")
        if wait:
            return _wait_response("auth/login.html", form, wait)
        if user is not None:
            start_session(user, remember=bool(form.remember.data))
            target = _safe_next(request.args.get("next"))
            return redirect_to(target, notice=f"Signed in as {user.email}.")
        form.password.errors.append(WRONG)
        status = 422
    elif form.is_submitted():
        status = 422
    return make_response(render_template("auth/login.html", form=form), status)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    """Sign out, on the server too: every session and remember-me cookie of the user ends."""
    sessions.sign_out(current_user)
    end_session()
    return redirect_to(url_for("auth.login"), notice="Signed out.", level="info")


@bp.route("/reauth", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@login_required
def reauth() -> Response:
    """Type the password again; then back to ``next`` (same site only)."""
    form = ReauthForm()
    if refused := _password_off("auth/reauth.html", form):
        return refused
    status = 200
    if form.validate_on_submit():
        user, wait = _check_password(
            current_user.email, form.password.data or "", "password confirmation"
        )
        if wait:
            return _wait_response("auth/reauth.html", form, wait)
        if user is not None and user.id == current_user.id:
            confirm_recent_sign_in()
            return redirect(_safe_next(request.args.get("next")), 303)
        form.password.errors.append("This is not your password.")
        status = 422
    elif form.is_submitted():
        status = 422
    return make_response(render_template("auth/reauth.html", form=form), status)


def unauthorized() -> Response:
    """Not signed in: htmx gets 401 + HX-Redirect, API clients 401 JSON, browsers a 303."""
    login_url = url_for("auth.login", next=request.full_path.rstrip("?"))
    wants_json = request.accept_mimetypes.best_match(["text/html", "application/json"])
    if not is_htmx() and wants_json == "application/json":
        response = jsonify(error={"message": "Sign in required.", "type": "authentication_error"})
        response.status_code = 401
        return response
    return redirect_to(login_url, 401, notice="Please sign in to continue.", level="info")
