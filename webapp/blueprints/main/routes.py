"""Home: an overview for admins, a starting point for members."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from webapp.blueprints.main import bp
from webapp.permissions import admin_required
from webapp.services.accounts import invitations
from webapp.services.catalog import listing as catalog
from webapp.services.system import overview


@bp.route("/")
@login_required
def home() -> str:
    admin = current_user.is_admin
    defaults = catalog.default_models()
    board = overview.overview(defaults.get("chat")) if admin else None
    return render_template(
        "main/home.html",
        counts=catalog.catalog_counts() if admin else None,
        defaults=defaults,
        invitations=invitations.pending_for(current_user),
        overview=board,
        spark=overview.sparkline([calls for _, calls, _ in board.today]) if board else "",
    )


@bp.route("/admin")
@admin_required
def admin_home() -> str:
    """The overview under the admin area's own address."""
    return home()


@bp.route("/settings", defaults={"rest": ""}, methods=["GET", "POST"])
@bp.route("/settings/<path:rest>", methods=["GET", "POST"])
@login_required
def legacy_settings(rest: str) -> Response:
    """``/settings`` became ``/account``: 308 keeps the method, so old forms still land."""
    target = url_for("account.index").rstrip("/") + (f"/{rest}" if rest else "")
    if request.query_string:
        target += "?" + request.query_string.decode("latin-1")
    return redirect(target, 308)
