"""Admin: global provider keys and allowed private hosts (``/admin/keys``)."""

from flask import Blueprint

bp = Blueprint("keys", __name__, url_prefix="/admin/keys")

from webapp.blueprints.keys import routes  # noqa: E402,F401
