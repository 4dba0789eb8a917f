"""Admin: the effective-settings explainer (``/admin/effective``)."""

from flask import Blueprint

bp = Blueprint("effective", __name__, url_prefix="/admin/effective")

from webapp.blueprints.effective import routes  # noqa: E402,F401
