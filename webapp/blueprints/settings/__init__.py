"""Members: call mode and personal (BYOK) keys (``/settings``)."""

from flask import Blueprint

bp = Blueprint("settings", __name__, url_prefix="/settings")

from webapp.blueprints.settings import routes  # noqa: E402,F401
