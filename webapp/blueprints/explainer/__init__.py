"""Admin: the effective-settings explainer (``/admin/effective``)."""

from flask import Blueprint

bp = Blueprint("explainer", __name__, url_prefix="/admin/effective")

from webapp.blueprints.explainer import routes  # noqa: E402,F401
