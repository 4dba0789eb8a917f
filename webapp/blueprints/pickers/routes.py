"""Search-as-you-type for the pickers: a short list of matches, swapped under the search box."""

from __future__ import annotations

from flask import abort, request
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.blueprints.pickers import bp
from webapp.htmx import render
from webapp.permissions import org_admin_required
from webapp.services.search import pickers


@bp.route("/<kind>")
@org_admin_required
def search(kind: str) -> Response:
    if kind not in pickers.KINDS or (kind == "users" and not current_user.is_admin):
        abort(404)
    text = request.args.get("q", "")
    found = pickers.search(current_user, kind, text)
    results = "pickers/_results.html"  # the page and the swap alike: a short list
    return render(results, results, choices=found, text=text.strip(), kind=kind)
