"""Members: their account — call mode, preferred model and personal (BYOK) credentials
(``/account``; ``/settings`` redirects here)."""

from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/account")

from webapp.blueprints.account import routes  # noqa: E402,F401
