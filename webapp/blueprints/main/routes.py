"""Home: an overview for admins, a starting point for members."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user, login_required

from webapp.blueprints.main import bp
from webapp.services import catalog


@bp.route("/")
@login_required
def home() -> str:
    if current_user.is_admin:
        return render_template(
            "main/home.html", counts=catalog.catalog_counts(), defaults=catalog.default_models()
        )
    return render_template("main/home.html", counts=None, defaults=catalog.default_models())
