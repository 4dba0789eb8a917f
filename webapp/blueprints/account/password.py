"""The member's own password and sessions: change the password (also the page a reset
sends people to) and "sign out everywhere"."""

from __future__ import annotations

from flask import url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from webapp.blueprints.account import bp
from webapp.blueprints.account.forms import PasswordChangeForm
from webapp.forms import attach_errors
from webapp.htmx import redirect_to, render, respond
from webapp.services.accounts import passwords, sessions
from webapp.services.errors import ValidationError
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


@bp.route("/password", methods=["POST"])
@login_required
def change_password() -> Response:
    """Change it; every other session ends, this one goes on with a new id."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        forced = current_user.must_change_password
        try:
            passwords.change_password(
                current_user,
                form.current_password.data or "",
                form.new_password.data or "",
                actor=current_user,
            )
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        else:
            renew_session()
            notice = "Password changed. Your other sessions have been signed out."
            if forced:  # the whole page changes: the account was locked to this form
                return redirect_to(url_for("main.home"), notice=notice)
            return respond(_form, notice=notice, then=url_for("account.index"))
    return _form(422, form)


@bp.route("/sessions/end", methods=["POST"])
@login_required
def end_sessions() -> Response:
    """Sign out everywhere: every device, this one included."""
    sessions.end_all_sessions(current_user, actor=current_user)
    end_session()
    notice = "Signed out everywhere. Sign in again to continue here."
    return redirect_to(url_for("auth.login"), notice=notice, level="info")
