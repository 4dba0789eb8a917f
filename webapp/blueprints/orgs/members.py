"""Members of an organization and their org roles."""

from __future__ import annotations

from flask import Response
from flask_login import current_user

from webapp.blueprints.orgs import bp
from webapp.blueprints.orgs.forms import MemberAddForm, MemberRoleForm
from webapp.blueprints.orgs.page import respond
from webapp.forms import attach_errors
from webapp.permissions import org_admin_required
from webapp.services.accounts import orgs
from webapp.services.errors import ValidationError

PARTIAL = "orgs/_members.html"


@bp.route("/<int:org_id>/members", methods=["POST"])
@org_admin_required
def add_member(org_id: int) -> Response:
    org = orgs.get_org(current_user, org_id)
    form = MemberAddForm()
    if form.validate_on_submit():
        try:
            membership = orgs.add_member(
                current_user, org, form.email.data or "", form.org_role.data or ""
            )
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        else:
            return respond(org, PARTIAL, notice=f"{membership.user.email} added to {org.name}.")
    return respond(org, PARTIAL, 422, member_form=form)


@bp.route("/<int:org_id>/members/<int:membership_id>", methods=["POST"])
@org_admin_required
def set_role(org_id: int, membership_id: int) -> Response:
    org = orgs.get_org(current_user, org_id)
    form = MemberRoleForm()
    if not form.validate_on_submit():
        return respond(org, PARTIAL, 422, member_error="Choose member or org admin.")
    try:
        membership = orgs.set_member_role(
            current_user, org, membership_id, form.org_role.data or ""
        )
    except ValidationError as exc:
        return respond(org, PARTIAL, 422, member_error=exc.message)
    role = "an org admin" if membership.org_role == "org_admin" else "a member"
    return respond(org, PARTIAL, notice=f"{membership.user.email} is now {role}.")


@bp.route("/<int:org_id>/members/<int:membership_id>/delete", methods=["POST"])
@org_admin_required
def remove_member(org_id: int, membership_id: int) -> Response:
    org = orgs.get_org(current_user, org_id)
    try:
        orgs.remove_member(current_user, org, membership_id)
    except ValidationError as exc:
        return respond(org, PARTIAL, 422, member_error=exc.message)
    return respond(org, PARTIAL, notice="Member removed.")
