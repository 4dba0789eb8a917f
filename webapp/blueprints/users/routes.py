"""Users: list and search, add a user, and an inline row editor for role, mode and status.
Creating or promoting an admin needs a recent sign-in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.blueprints.users import bp
from webapp.blueprints.users.forms import (
    UserCreateForm,
    UserEditForm,
    UserFilterForm,
    edit_form_for,
    edit_prefix,
)
from webapp.extensions import db
from webapp.forms import attach_errors, bounded_id
from webapp.htmx import render, respond
from webapp.models import Role, User
from webapp.permissions import admin_required
from webapp.services.accounts import passwords, users
from webapp.services.errors import Conflict, ValidationError
from webapp.sign_in import require_recent_sign_in
from webapp.views.conflicts import keep_typed

CREATE_PREFIX = "new"  # keeps its field ids apart from the filter form's


@dataclass(frozen=True)
class Created:
    """The user just added and, when generated, the password to show this one time."""

    email: str
    password: str | None


def _listing(form: UserFilterForm) -> dict[str, Any]:
    """Table context: the page of users, or none when a filter is invalid."""
    valid = form.validate()
    listing = None
    if valid:
        filters = users.UserFilter(
            q=form.q.data or "", role=form.role.data or "", status=form.status.data or ""
        )
        listing = users.list_users(filters, page=form.page.data or 1)
    args: dict[str, Any] = form.link_args() if valid else {}
    page: dict[str, Any] = {"page": listing.page} if listing and listing.page > 1 else {}
    return {
        "filter_form": form,
        "listing": listing,
        "args": args,
        "table_url": url_for("users.index", **args, **page),
    }


def _index(
    status: int = 200, create_form: UserCreateForm | None = None, created: Created | None = None
) -> Response:
    context = _listing(UserFilterForm(request.args if request.method == "GET" else None))
    partial = "users/_table.html" if request.method == "GET" else "users/_create.html"
    response = render(
        "users/index.html",
        partial,
        422 if context["listing"] is None else status,
        **context,
        create_form=create_form or UserCreateForm(formdata=None, prefix=CREATE_PREFIX),
        create_open=create_form is not None and status >= 400,
        created=created,
    )
    if created and created.password:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("")
@admin_required
def index() -> Response:
    return _index()


@bp.route("", methods=["POST"])
@admin_required
def create() -> Response:
    form = UserCreateForm(prefix=CREATE_PREFIX)
    if form.validate_on_submit():
        if form.role.data == Role.ADMIN and (reauth := require_recent_sign_in()):
            return reauth
        generated = bool(form.generate.data)
        password = passwords.generate_password() if generated else form.password.data or ""
        try:
            user = users.create_user(
                form.email.data or "",
                password,
                role=form.role.data or "",
                display_name=(form.display_name.data or "").strip() or None,
                must_change_password=generated,
                actor=current_user,
            )
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        else:
            return _created(Created(user.email, password if form.generate.data else None))
    return _index(422, create_form=form)


def _created(created: Created) -> Response:
    """htmx: a fresh form (with the one-time password) and a table refresh; else 303."""
    shown = " Copy the generated password now: it is shown once." if created.password else ""
    return respond(
        lambda: _index(created=created),
        notice=f"{created.email} added.{shown}",
        # A generated password is shown once, on the page rendered now: no redirect then.
        then=None if created.password else url_for("users.index"),
        events=("users-changed",),
    )


def _row(user: User, form: UserEditForm | None = None, status: int = 200) -> Response:
    """The user's row (``id="user-<id>"``), or a page with only that row for plain requests."""
    return render("users/user.html", "users/_row.html", status, u=user, edit_form=form)


@bp.route("/<int:user_id>")
@admin_required
def show(user_id: int) -> Response:
    user = users.get_user(user_id)
    return _row(user, edit_form_for(user) if bounded_id(request.args.get("edit")) else None)


@bp.route("/<int:user_id>", methods=["POST"])
@admin_required
def update(user_id: int) -> Response:
    user = users.get_user(user_id)
    form = UserEditForm(prefix=edit_prefix(user.id))
    if form.validate_on_submit():
        promotes = form.role.data == Role.ADMIN and user.role != Role.ADMIN
        if promotes and (reauth := require_recent_sign_in()):
            return reauth
        try:
            users.update_user(
                current_user,
                user,
                role=form.role.data or "",
                mode=form.mode.data or "",
                active=form.active.data == "active",
                expected_version=form.version.data,
            )
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        except Conflict as exc:
            db.session.rollback()
            user = users.get_user(user_id)  # reloaded: the values someone else saved
            form = keep_typed(form, edit_form_for(user), exc.message)
            return _row(user, form, 409)
        else:
            return _saved(user)
    return _row(user, form, 422)


def _saved(user: User) -> Response:
    return respond(lambda: _row(user), notice=f"{user.email} saved.", then=url_for("users.index"))


from webapp.blueprints.users import access  # noqa: E402,F401
