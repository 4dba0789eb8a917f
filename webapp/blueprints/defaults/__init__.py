"""Admin: the global default settings (``/admin/defaults``)."""

from flask import Blueprint

bp = Blueprint("defaults", __name__, url_prefix="/admin/defaults")

from webapp.blueprints.defaults import routes  # noqa: E402,F401
