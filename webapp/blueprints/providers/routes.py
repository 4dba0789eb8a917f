"""Provider list (read-only until the admin-console issue adds editing)."""

from __future__ import annotations

from flask import Response

from webapp.blueprints.providers import bp
from webapp.htmx import render
from webapp.permissions import admin_required
from webapp.services import catalog


@bp.route("")
@admin_required
def index() -> Response:
    return render(
        "providers/index.html", "providers/_table.html", providers=catalog.list_providers()
    )
