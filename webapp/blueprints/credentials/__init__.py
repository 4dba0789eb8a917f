"""Admin: global provider credentials (keys) and allowed private hosts (``/admin/keys``)."""

from flask import Blueprint

bp = Blueprint("credentials", __name__, url_prefix="/admin/keys")

from webapp.blueprints.credentials import routes  # noqa: E402,F401
