"""Single sign-on with OpenID Connect: the sign-in round trip and admins' identity links."""

from flask import Blueprint

bp = Blueprint("sso", __name__)

from webapp.blueprints.sso import routes  # noqa: E402,F401
