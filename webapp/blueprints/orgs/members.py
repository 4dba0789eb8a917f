"""Members of an organization, their org roles, and invitations by email (org admins cannot
tell from the answer whether an email is registered)."""

from __future__ import annotations

from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.blueprints.orgs import bp
from webapp.blueprints.orgs.forms import MemberAddForm, MemberRoleForm
from webapp.blueprints.orgs.page import context, org_page, respond
from webapp.forms import attach_errors
from webapp.htmx import is_partial_request, render
from webapp.permissions import org_admin_required
from webapp.services.accounts import invitations, orgs
from webapp.services.errors import ValidationError

PARTIAL = "orgs/_members.html"


@bp.route("/<int:org_id>/members")
@org_admin_required
def members(org_id: int) -> Response:
    """A page of members (``page``, ``q``): the table alone for htmx, else the members tab."""
    org = orgs.get_org(current_user, org_id)
    if is_partial_request():
        return render(
            "orgs/_members_table.html", "orgs/_members_table.html", **context(org, "members")
        )
    return org_page(org, tab="members")


@bp.route("/<int:org_id>/members", methods=["POST"])
@org_admin_required
def add_member(org_id: int) -> Response:
    org = orgs.get_org(current_user, org_id)
    form = MemberAddForm()
    if form.validate_on_submit():
        try:
            added = invitations.add_by_email(
                current_user, org, form.email.data or "", form.org_role.data or ""
            )
        except ValidationError as exc:
            attach_errors(form, exc.errors)
        else:
            if added.membership is not None:
                return respond(org, PARTIAL, notice=f"{added.email} added to {org.name}.")
            # The same words whether or not the email has an account.
            notice = (
                f"Invitation recorded for {added.email}: "
                "they join when they next sign in and accept."
            )
            return respond(org, PARTIAL, notice=notice)
    return respond(org, PARTIAL, 422, member_form=form)


@bp.route("/<int:org_id>/invitations/<int:invitation_id>/delete", methods=["POST"])
@org_admin_required
def revoke_invitation(org_id: int, invitation_id: int) -> Response:
    org = orgs.get_org(current_user, org_id)
    invitation = invitations.revoke(current_user, org, invitation_id)
    return respond(org, PARTIAL, notice=f"Invitation for {invitation.email} revoked.")


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
