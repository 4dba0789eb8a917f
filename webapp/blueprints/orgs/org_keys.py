"""The organization's provider keys: the shared key panels with the org as owner."""

from __future__ import annotations

from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.blueprints.orgs import bp
from webapp.blueprints.orgs.page import key_area
from webapp.permissions import org_admin_required
from webapp.services.accounts import orgs
from webapp.sign_in import recent_sign_in_required
from webapp.views import credential_panels as panels


@bp.route("/<int:org_id>/keys/providers/<int:provider_id>")
@org_admin_required
def key_panel(org_id: int, provider_id: int) -> Response:
    return panels.show_panel(key_area(orgs.get_org(current_user, org_id)), provider_id)


@bp.route("/<int:org_id>/keys/providers/<int:provider_id>/keys", methods=["POST"])
@org_admin_required
def key_create(org_id: int, provider_id: int) -> Response:
    return panels.create_key(key_area(orgs.get_org(current_user, org_id)), provider_id)


@bp.route("/<int:org_id>/keys/<int:credential_id>", methods=["POST"])
@org_admin_required
def key_update(org_id: int, credential_id: int) -> Response:
    return panels.update_key(key_area(orgs.get_org(current_user, org_id)), credential_id)


@bp.route("/<int:org_id>/keys/<int:credential_id>/delete", methods=["POST"])
@org_admin_required
def key_delete(org_id: int, credential_id: int) -> Response:
    return panels.delete_key(key_area(orgs.get_org(current_user, org_id)), credential_id)


@bp.route("/<int:org_id>/keys/<int:credential_id>/test", methods=["POST"])
@org_admin_required
def key_test(org_id: int, credential_id: int) -> Response:
    return panels.test_key(key_area(orgs.get_org(current_user, org_id)), credential_id)


@bp.route("/<int:org_id>/keys/<int:credential_id>/confirm", methods=["POST"])
@org_admin_required
@recent_sign_in_required
def key_confirm(org_id: int, credential_id: int) -> Response:
    return panels.confirm_key(key_area(orgs.get_org(current_user, org_id)), credential_id)
