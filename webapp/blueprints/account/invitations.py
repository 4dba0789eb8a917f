"""Invitations to organizations, as their invitee sees them: accept or decline."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from webapp.blueprints.account import bp
from webapp.services.accounts import invitations
from webapp.sign_in import same_site_path


def _back() -> Response:
    """Back to the page the notice was on (home or /account)."""
    return redirect(same_site_path(request.form.get("next")) or url_for("account.index"), 303)


@bp.route("/invitations/<int:invitation_id>/accept", methods=["POST"])
@login_required
def accept_invitation(invitation_id: int) -> Response:
    membership = invitations.accept(current_user, invitation_id)
    flash(f"You joined {membership.organization.name}.", "success")
    return _back()


@bp.route("/invitations/<int:invitation_id>/decline", methods=["POST"])
@login_required
def decline_invitation(invitation_id: int) -> Response:
    invitation = invitations.decline(current_user, invitation_id)
    flash(f"Invitation to {invitation.organization.name} declined.", "info")
    return _back()
