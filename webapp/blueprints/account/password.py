"""The member's own password and sessions: change the password (also the page a reset
sends people to) and "sign out everywhere". Both also revoke the member's access tokens that
reach the management API (read-only and full); gateway-only tokens keep working."""

from __future__ import annotations

from flask import current_app, g, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from webapp.blueprints.account import bp
from webapp.blueprints.account.forms import PasswordChangeForm
from webapp.extensions import limiter
from webapp.forms import attach_errors
from webapp.htmx import redirect_to, render, respond
from webapp.services.accounts import passwords, sessions
from webapp.services.accounts.sign_in_throttle import TooManyAttempts
from webapp.services.errors import ValidationError
from webapp.services.tokens import manage
from webapp.sign_in import end_session, renew_session

PARTIAL = "account/_password.html"


def _form(status: int = 200, form: PasswordChangeForm | None = None) -> Response:
    """The section alone for htmx; the change-password page otherwise."""
    form = form or PasswordChangeForm(formdata=None)
    return render("account/password.html", PARTIAL, status, password_form=form)


@bp.route("/password", methods=["GET"])
@login_required
def password() -> Response:
    return _form()


def _password_limit() -> str:
    """The sign-in form's per-address limit: guessing here is guessing there."""
    return current_app.config["LOGIN_RATE_LIMIT"]


def _wait(form: PasswordChangeForm, exc: TooManyAttempts) -> Response:
    """429 with ``Retry-After`` and the reason at the field: the password was not checked."""
    form.current_password.errors = [exc.message]
    g.retry_after = exc.wait  # kept over Flask-Limiter's own header (request_guards)
    return respond(lambda: _form(429, form), status=429, notice=exc.message, level="error")


@bp.route("/password", methods=["POST"])
@limiter.limit(_password_limit, methods=["POST"])
@login_required
def change_password() -> Response:
    """Change it; every other session ends, this one goes on with a new id. Wrong current
    passwords slow the account down from this address, as failed sign-ins do."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        forced = current_user.must_change_password
        try:
            revoked = passwords.change_password(
                current_user,
                form.current_password.data or "",
                form.new_password.data or "",
                actor=current_user,
                address=request.remote_addr or "unknown",
            )
        except TooManyAttempts as exc:
            return _wait(form, exc)
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        else:
            renew_session()
            notice = "Password changed. Your other sessions have been signed out."
            notice += manage.revoked_phrase(revoked)
            if forced:  # the whole page changes: the account was locked to this form
                return redirect_to(url_for("main.home"), notice=notice)
            return respond(_form, notice=notice, then=url_for("account.index"))
    return _form(422, form)


@bp.route("/sessions/end", methods=["POST"])
@login_required
def end_sessions() -> Response:
    """Sign out everywhere: every device, this one included."""
    revoked = sessions.end_all_sessions(current_user, actor=current_user)
    end_session()
    notice = (
        f"Signed out everywhere.{manage.revoked_phrase(revoked)} Sign in again to continue here."
    )
    return redirect_to(url_for("auth.login"), notice=notice, level="info")
