"""Admin: the provider registry (``/admin/providers``)."""

from flask import Blueprint

bp = Blueprint("providers", __name__, url_prefix="/admin/providers")

from webapp.blueprints.providers import key_origins, routes  # noqa: E402,F401
