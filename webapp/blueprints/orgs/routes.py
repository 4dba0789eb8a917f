"""Organizations: list and create; one page per org with details, members, keys, settings
and profiles. Org admins reach only their own orgs (others are 404)."""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp import htmx
from webapp.blueprints.orgs import bp
from webapp.blueprints.orgs.forms import OrgCreateForm, OrgForm
from webapp.blueprints.orgs.page import details_form, org_page, respond
from webapp.extensions import db
from webapp.forms import attach_errors, bounded_id
from webapp.htmx import is_partial_request, render
from webapp.permissions import admin_required, org_admin_required
from webapp.services.accounts import orgs
from webapp.services.errors import Conflict, ValidationError
from webapp.views.conflicts import keep_typed


def _table() -> dict[str, Any]:
    """The page of organizations the URL asks for (``page``, ``q``)."""
    text = request.args.get("q", "")[:100]
    listing = orgs.list_orgs(current_user, bounded_id(request.args.get("page")), text)
    return {"listing": listing, "q": text.strip()}


def _list(form: OrgCreateForm | None = None, status: int = 200) -> Response:
    return render(
        "orgs/index.html",
        "orgs/_list.html",
        status,
        **_table(),
        form=form or OrgCreateForm(formdata=None),
    )


@bp.route("")
@org_admin_required
def index() -> Response:
    if is_partial_request():  # the search box and the pager swap the table alone
        return render("orgs/index.html", "orgs/_table.html", **_table())
    return _list()


@bp.route("", methods=["POST"])
@admin_required
def create() -> Response:
    form = OrgCreateForm()
    if form.validate_on_submit():
        try:
            org = orgs.create_org(
                current_user, form.slug.data or "", form.name.data or "", form.description.data
            )
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        else:
            return htmx.respond(
                _list,
                notice=f"Organization {org.name} created.",
                then=url_for("orgs.show", org_id=org.id),
            )
    return _list(form, 422)


@bp.route("/<int:org_id>")
@org_admin_required
def show(org_id: int) -> Response:
    return org_page(orgs.get_org(current_user, org_id))


@bp.route("/<int:org_id>", methods=["POST"])
@org_admin_required
def update(org_id: int) -> Response:
    org = orgs.get_org(current_user, org_id)
    form = OrgForm().fill_choices(orgs.profile_choices(org.id))
    if not form.validate_on_submit():
        return respond(org, "orgs/_details.html", 422, details_form=form)
    try:
        orgs.update_org(
            current_user,
            org,
            name=form.name.data or "",
            description=form.description.data,
            allowed_models=form.allowed_models.data,
            default_profile=form.default_profile.data,
            members_pay=bool(form.members_pay.data),
            expected_version=form.version.data,
        )
    except ValidationError as exc:
        attach_errors(form, exc.errors)
        return respond(org, "orgs/_details.html", 422, details_form=form)
    except Conflict as exc:
        db.session.rollback()  # the organization as stored now
        form = keep_typed(form, details_form(org), exc.message)
        return respond(org, "orgs/_details.html", 409, details_form=form)
    return respond(org, "orgs/_details.html", notice="Organization saved.")


@bp.route("/<int:org_id>/archive", methods=["POST"])
@admin_required
def archive(org_id: int) -> Response:
    org = orgs.get_org(current_user, org_id)
    orgs.set_archived(current_user, org, not org.archived)
    state = "archived: its members can no longer make calls" if org.archived else "restored"
    return respond(org, "orgs/_details.html", notice=f"{org.name} {state}.")


from webapp.blueprints.orgs import members, org_keys, org_settings  # noqa: E402,F401
