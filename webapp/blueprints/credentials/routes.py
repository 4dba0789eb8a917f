"""Global keys (one panel per provider) and the allowed-hosts list."""

from __future__ import annotations

from flask import request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.blueprints.credentials import bp
from webapp.blueprints.credentials.forms import AllowedHostForm
from webapp.extensions import db
from webapp.forms import attach_errors
from webapp.htmx import render, respond
from webapp.permissions import admin_required
from webapp.services.catalog import listing as catalog
from webapp.services.credentials import allowed_hosts, crypto
from webapp.services.credentials.confirmation import confirm_env_key_origin
from webapp.services.credentials.origins import shown_origin
from webapp.services.credentials.storage import GLOBAL
from webapp.services.errors import Conflict, ValidationError
from webapp.sign_in import recent_sign_in_required
from webapp.views.credential_panels import (
    Area,
    Endpoints,
    Panel,
    confirm_key,
    create_key,
    delete_key,
    provider_or_404,
    show_panel,
    test_key,
    update_key,
)

ENDPOINTS = Endpoints.named("credentials.index", "credentials.")


def _page(
    status: int = 200, replace: Panel | None = None, host_form: AllowedHostForm | None = None
) -> Response:
    panels = AREA.panels([provider for provider, _ in catalog.list_providers()], replace)
    ring = crypto.keyring()
    return render(
        "credentials/index.html",
        "credentials/index.html",
        status,
        panels=panels,
        ring=ring,
        hosts=allowed_hosts.list_allowed_hosts(),
        host_form=host_form or AllowedHostForm(formdata=None),
    )


AREA = Area(
    owner=GLOBAL,
    endpoints=ENDPOINTS,
    base_url_for_all=True,
    page=_page,
    shows_env_key=True,
    upstream_detail=True,
)


@bp.route("")
@admin_required
def index() -> Response:
    return _page()


@bp.route("/providers/<int:provider_id>")
@admin_required
def panel(provider_id: int) -> Response:
    return show_panel(AREA, provider_id)


@bp.route("/providers/<int:provider_id>/keys", methods=["POST"])
@admin_required
def create(provider_id: int) -> Response:
    return create_key(AREA, provider_id)


@bp.route("/<int:credential_id>", methods=["POST"])
@admin_required
def update(credential_id: int) -> Response:
    return update_key(AREA, credential_id)


@bp.route("/<int:credential_id>/delete", methods=["POST"])
@admin_required
def delete(credential_id: int) -> Response:
    return delete_key(AREA, credential_id)


def _hosts_response(
    form: AllowedHostForm, status: int = 200, notice: str | None = None
) -> Response:
    return respond(
        lambda: render(
            "credentials/_allowed_hosts.html",
            "credentials/_allowed_hosts.html",
            status,
            hosts=allowed_hosts.list_allowed_hosts(),
            host_form=form,
        ),
        status=status,
        notice=notice,
        then=url_for("credentials.index"),
        page=lambda: _page(status, host_form=form),
    )


@bp.route("/allowed-hosts", methods=["POST"])
@admin_required
@recent_sign_in_required
def add_host() -> Response:
    form = AllowedHostForm()
    if form.validate_on_submit():
        try:
            entry = allowed_hosts.add_allowed_host(
                current_user, form.host.data or "", form.note.data
            )
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        else:
            return _hosts_response(
                AllowedHostForm(formdata=None),
                notice=f"{entry.label} may now be used in base URLs.",
            )
    return _hosts_response(form, 422)


@bp.route("/allowed-hosts/<int:host_id>/delete", methods=["POST"])
@admin_required
def remove_host(host_id: int) -> Response:
    allowed_hosts.remove_allowed_host(current_user, host_id)
    return _hosts_response(
        AllowedHostForm(formdata=None), notice="Host removed from the allowed list."
    )


@bp.route("/<int:credential_id>/test", methods=["POST"])
@admin_required
def test(credential_id: int) -> Response:
    return test_key(AREA, credential_id)


@bp.route("/<int:credential_id>/confirm", methods=["POST"])
@admin_required
@recent_sign_in_required
def confirm(credential_id: int) -> Response:
    return confirm_key(AREA, credential_id)


@bp.route("/providers/<int:provider_id>/env-key/confirm", methods=["POST"])
@admin_required
@recent_sign_in_required
def confirm_env(provider_id: int) -> Response:
    """Send the provider's fallback key (environment variable) to its current address."""
    provider = provider_or_404(provider_id)
    form = request.form
    try:
        confirm_env_key_origin(
            current_user, provider, form.get("origin") or None, form.get("variable") or None
        )
    except Conflict as exc:
        db.session.rollback()
        return AREA.respond(AREA.panel(provider), 409, notice=exc.message, level="error")
    host = shown_origin(provider.env_key_origin)
    return AREA.respond(
        AREA.panel(provider), notice=f"{provider.api_key_env} will now be sent to {host}."
    )
