"""The searchable pickers' results (``/admin/pick/<kind>``): users, organizations, features."""

from flask import Blueprint

bp = Blueprint("pickers", __name__, url_prefix="/admin/pick")

from webapp.blueprints.pickers import routes  # noqa: E402,F401
