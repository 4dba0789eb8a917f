"""Search-as-you-type for the pickers: a short list of matches, swapped under the search box."""

from __future__ import annotations

from flask import abort, make_response, render_template, request
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.blueprints.pickers import bp
from webapp.permissions import org_admin_required
from webapp.services.search import pickers


@bp.route("/<kind>")
@org_admin_required
def search(kind: str) -> Response:
    if kind not in pickers.KINDS or (kind == "users" and not current_user.is_admin):
        abort(404)
    text = request.args.get("q", "")
    found = pickers.search(current_user, kind, text)
    response = make_response(
        render_template("pickers/_results.html", choices=found, text=text.strip(), kind=kind)
    )
    response.headers["Vary"] = "HX-Request"
    return response
