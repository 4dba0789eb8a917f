"""Admin: the model catalog — prices, capabilities, defaults (``/admin/models``)."""

from flask import Blueprint

bp = Blueprint("catalog", __name__, url_prefix="/admin/models")

from webapp.blueprints.catalog import aliases, routes  # noqa: E402,F401
