"""Access tokens: members' own (``/tokens``), an org's service tokens
(``/admin/orgs/<id>/tokens``) and every token for admins (``/admin/tokens``)."""

from flask import Blueprint

bp = Blueprint("tokens", __name__)

from webapp.blueprints.tokens import routes  # noqa: E402,F401
