"""Members: their account — call mode, preferred model, personal (BYOK) credentials, password,
sessions and invitations (``/account``; ``/settings`` redirects here)."""

from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/account")

from webapp.blueprints.account import invitations, password, routes  # noqa: E402,F401
