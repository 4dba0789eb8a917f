"""Sign-in (rate limited per address and per account) and sign-out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Response,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from webapp.blueprints.auth import bp
from webapp.blueprints.auth.forms import LoginForm
from webapp.extensions import limiter
from webapp.services.accounts import users


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths, so ``next`` cannot send users elsewhere."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and "\\" not in target:
            return target
    return url_for("main.home")


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _email_key() -> str:
    return "login-email:" + (request.form.get("email") or "").strip().lower()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_email_key)
def login() -> Response | str:
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = users.authenticate(form.email.data or "", form.password.data or "")
        if user is not None:
            login_user(user, remember=bool(form.remember.data))
            flash(f"Signed in as {user.email}.", "success")
            return redirect(_safe_next(request.args.get("next")), 303)
        form.password.errors.append("Wrong email or password.")
        status = 422
    elif form.is_submitted():
        status = 422
    return make_response(render_template("auth/login.html", form=form), status)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    logout_user()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"), 303)


def unauthorized() -> Response:
    """Not signed in: htmx gets 401 + HX-Redirect, API clients 401 JSON, browsers a redirect."""
    login_url = url_for("auth.login", next=request.full_path.rstrip("?"))
    if request.headers.get("HX-Request"):
        response = make_response("", 401)
        response.headers["HX-Redirect"] = login_url
        return response
    if request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json":
        response = jsonify(error={"message": "Sign in required.", "type": "authentication_error"})
        response.status_code = 401
        return response
    flash("Please sign in to continue.", "info")
    return redirect(login_url)
