"""A user's access, from their admin page: reset the password (a generated one, shown once,
to be changed at the next sign-in) and sign them out everywhere (audited)."""

from __future__ import annotations

from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.blueprints.users import bp
from webapp.htmx import render, respond
from webapp.models import User
from webapp.permissions import admin_required
from webapp.services.accounts import passwords, sessions, users
from webapp.services.tokens import manage
from webapp.sign_in import end_session

PARTIAL = "users/_access.html"


def _access(user: User, notice: str, new_password: str | None = None) -> Response:
    """The access section for htmx, else the user's page; a password makes it uncacheable."""
    response = respond(
        lambda: render("users/user.html", PARTIAL, u=user, new_password=new_password),
        notice=notice,  # no redirect: a new password is shown on this response only
    )
    if new_password:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<int:user_id>/password", methods=["POST"])
@admin_required
def reset_password(user_id: int) -> Response:
    user = users.get_user(user_id)
    password = passwords.reset_password(user, actor=current_user)
    if user.id == current_user.id:
        end_session()  # their own token rotated: this session ended with the others
    return _access(
        user,
        f"New password for {user.email}: copy it now, it is shown once. "
        "They must change it when they sign in; their sessions have ended and their read-only "
        "and full access tokens are revoked.",
        password,
    )


@bp.route("/<int:user_id>/sessions/end", methods=["POST"])
@admin_required
def end_sessions(user_id: int) -> Response:
    user = users.get_user(user_id)
    revoked = sessions.end_all_sessions(user, actor=current_user)
    if user.id == current_user.id:
        end_session()
    return _access(user, f"{user.email} is signed out everywhere.{manage.revoked_phrase(revoked)}")
