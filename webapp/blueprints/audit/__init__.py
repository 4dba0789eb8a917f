"""Admin: the audit log (``/admin/audit``)."""

from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")

from webapp.blueprints.audit import routes  # noqa: E402,F401
