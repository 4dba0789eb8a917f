"""Admin: configuration export and import (``/admin/config``)."""

from flask import Blueprint

bp = Blueprint("config", __name__, url_prefix="/admin/config")

from webapp.blueprints.config import routes  # noqa: E402,F401
