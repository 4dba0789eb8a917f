"""Invitations to organizations, as their invitee sees them: accept or decline."""

from __future__ import annotations

from flask import request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from webapp.blueprints.account import bp
from webapp.htmx import redirect_to
from webapp.services.accounts import invitations
from webapp.sign_in import same_site_path


def _back(notice: str, level: str = "success") -> Response:
    """Back to the page the invitation was on (home or /account), with ``notice``."""
    back = same_site_path(request.form.get("next")) or url_for("account.index")
    return redirect_to(back, notice=notice, level=level)


@bp.route("/invitations/<int:invitation_id>/accept", methods=["POST"])
@login_required
def accept_invitation(invitation_id: int) -> Response:
    membership = invitations.accept(current_user, invitation_id)
    return _back(f"You joined {membership.organization.name}.")


@bp.route("/invitations/<int:invitation_id>/decline", methods=["POST"])
@login_required
def decline_invitation(invitation_id: int) -> Response:
    invitation = invitations.decline(current_user, invitation_id)
    return _back(f"Invitation to {invitation.organization.name} declined.", "info")
