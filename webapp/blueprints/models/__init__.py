"""Admin: the model catalog (``/admin/models``)."""

from flask import Blueprint

bp = Blueprint("models", __name__, url_prefix="/admin/models")

from webapp.blueprints.models import routes  # noqa: E402,F401
