"""Admin: send a prompt in a chosen user × org × feature context (``/admin/playground``)."""

from flask import Blueprint

bp = Blueprint("playground", __name__, url_prefix="/admin/playground")

from webapp.blueprints.playground import routes  # noqa: E402,F401
