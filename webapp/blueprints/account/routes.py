"""A member's settings: managed or BYOK mode, and a key panel for every enabled provider."""

from __future__ import annotations

from flask import url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from webapp.blueprints.account import bp
from webapp.blueprints.account.forms import ModeForm, PasswordChangeForm, PreferenceForm
from webapp.forms import attach_errors, choices
from webapp.htmx import render, respond
from webapp.services.accounts import invitations, users
from webapp.services.catalog import listing as catalog
from webapp.services.credentials.storage import user_owner
from webapp.services.errors import ValidationError
from webapp.services.settings import preferences
from webapp.sign_in import recent_sign_in_required
from webapp.views.credential_panels import (
    Area,
    Endpoints,
    Panel,
    confirm_key,
    create_key,
    delete_key,
    show_panel,
    test_key,
    update_key,
)

ENDPOINTS = Endpoints.named("account.index", "account.")


def _area() -> Area:
    return Area(
        test_label="Test my key",
        owner=user_owner(current_user.id),
        endpoints=ENDPOINTS,
        base_url_for_all=False,
        page=_page,
    )


def _page(
    status: int = 200,
    replace: Panel | None = None,
    mode_form: ModeForm | None = None,
    preference_form: PreferenceForm | None = None,
) -> Response:
    area = _area()
    panels = area.panels(catalog.enabled_providers(), replace)
    return render(
        "account/index.html",
        "account/index.html",
        status,
        panels=panels,
        mode_form=mode_form or ModeForm(formdata=None, mode=current_user.mode),
        preference_form=preference_form or _preference_form(formdata=None),
        password_form=PasswordChangeForm(formdata=None),
        invitations=invitations.pending_for(current_user),
    )


def _preference_form(**kwargs: object) -> PreferenceForm:
    form = PreferenceForm(**kwargs)
    if kwargs.get("formdata", True) is None:
        form.model.data = preferences.preferred_model(current_user) or ""
    form.model.choices = choices(
        [("", "No preference")]
        + [(m.global_id, m.global_id) for m in preferences.allowed_models(current_user)]
    )
    return form


@bp.route("/preference", methods=["POST"])
@login_required
def preference() -> Response:
    form = _preference_form()
    if form.validate_on_submit():
        try:
            preferences.set_preferred_model(current_user, form.model.data or None)
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        else:
            return respond(
                lambda: render(
                    "account/_preference.html", "account/_preference.html", preference_form=form
                ),
                notice=f"Preferred model: {form.model.data or 'none'}.",
                then=url_for("account.index"),
            )
    return respond(
        lambda: render(
            "account/_preference.html", "account/_preference.html", 422, preference_form=form
        ),
        status=422,
        page=lambda: _page(422, preference_form=form),
    )


@bp.route("")
@login_required
def index() -> Response:
    return _page()


@bp.route("/mode", methods=["POST"])
@login_required
def mode() -> Response:
    form = ModeForm()
    if form.validate_on_submit():
        try:
            users.set_mode(current_user, form.mode.data or "", actor=current_user)
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        else:
            label = "bring-your-own-key" if current_user.mode == "byok" else "managed"
            return respond(
                lambda: render("account/_mode.html", "account/_mode.html", mode_form=form),
                notice=f"Your calls now run in {label} mode.",
                then=url_for("account.index"),
            )
    return respond(
        lambda: render("account/_mode.html", "account/_mode.html", 422, mode_form=form),
        status=422,
        page=lambda: _page(422, mode_form=form),
    )


@bp.route("/providers/<int:provider_id>")
@login_required
def panel(provider_id: int) -> Response:
    return show_panel(_area(), provider_id)


@bp.route("/providers/<int:provider_id>/keys", methods=["POST"])
@login_required
def create(provider_id: int) -> Response:
    return create_key(_area(), provider_id)


@bp.route("/keys/<int:credential_id>", methods=["POST"])
@login_required
def update(credential_id: int) -> Response:
    return update_key(_area(), credential_id)


@bp.route("/keys/<int:credential_id>/delete", methods=["POST"])
@login_required
def delete(credential_id: int) -> Response:
    return delete_key(_area(), credential_id)


@bp.route("/keys/<int:credential_id>/test", methods=["POST"])
@login_required
def test(credential_id: int) -> Response:
    return test_key(_area(), credential_id)


@bp.route("/keys/<int:credential_id>/confirm", methods=["POST"])
@login_required
@recent_sign_in_required
def confirm(credential_id: int) -> Response:
    return confirm_key(_area(), credential_id)
