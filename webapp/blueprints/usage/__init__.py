"""Usage: the admin and org-admin dashboard (``/admin/usage``), a member's own usage
(``/usage``), the exports, and the price list (``/pricing``)."""

from flask import Blueprint

bp = Blueprint("usage", __name__)

from webapp.blueprints.usage import routes  # noqa: E402,F401
