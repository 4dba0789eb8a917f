"""Admin: users — search, role, mode, deactivate (``/admin/users``)."""

from flask import Blueprint

bp = Blueprint("users", __name__, url_prefix="/admin/users")

from webapp.blueprints.users import routes  # noqa: E402,F401
