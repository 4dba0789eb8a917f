"""The organization's settings overrides and its profiles."""

from __future__ import annotations

from flask import request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.blueprints.orgs import bp
from webapp.blueprints.orgs.forms import ProfileCreateForm
from webapp.blueprints.orgs.page import respond
from webapp.forms import attach_errors
from webapp.htmx import redirect_to
from webapp.permissions import org_admin_required
from webapp.services.accounts import orgs
from webapp.services.errors import ValidationError
from webapp.services.settings import layers as settings_service
from webapp.services.settings import profiles
from webapp.views import settings_editor
from webapp.views.profile_editor import profile_page, save_profile_settings


@bp.route("/<int:org_id>/settings", methods=["POST"])
@org_admin_required
def save_settings(org_id: int) -> Response:
    org = orgs.get_org(current_user, org_id)
    pset = settings_service.parameter_set_for("org", org.id)
    form = settings_editor.form_for(pset, prefix="org-settings", formdata=request.form)
    status, notice, form = settings_editor.save(pset, form, current_user, f"Settings of {org.name}")
    return respond(org, "orgs/_settings.html", status, notice=notice, settings_form=form)


@bp.route("/<int:org_id>/profiles", methods=["POST"])
@org_admin_required
def create_profile(org_id: int) -> Response:
    org = orgs.get_org(current_user, org_id)
    form = ProfileCreateForm()
    if form.validate_on_submit():
        try:
            profile = profiles.create_profile(
                current_user, org, form.name.data or "", form.description.data
            )
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        else:
            return respond(org, "orgs/_profiles.html", notice=f"Profile {profile.name} created.")
    return respond(org, "orgs/_profiles.html", 422, profile_form=form)


@bp.route("/<int:org_id>/profiles/<int:profile_id>")
@org_admin_required
def profile(org_id: int, profile_id: int) -> Response:
    org = orgs.get_org(current_user, org_id)
    return profile_page(profiles.get_profile(current_user, profile_id, org.id))


@bp.route("/<int:org_id>/profiles/<int:profile_id>", methods=["POST"])
@org_admin_required
def save_profile(org_id: int, profile_id: int) -> Response:
    org = orgs.get_org(current_user, org_id)
    return save_profile_settings(profiles.get_profile(current_user, profile_id, org.id))


@bp.route("/<int:org_id>/profiles/<int:profile_id>/delete", methods=["POST"])
@org_admin_required
def delete_profile(org_id: int, profile_id: int) -> Response:
    org = orgs.get_org(current_user, org_id)
    item = profiles.get_profile(current_user, profile_id, org.id)
    name = item.name
    profiles.delete_profile(current_user, item)
    back = url_for("orgs.show", org_id=org.id, tab="profiles")
    return redirect_to(back, notice=f"Profile {name} deleted.")
