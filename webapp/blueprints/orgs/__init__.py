"""Admins and org admins: organizations, members, keys, settings, profiles (``/admin/orgs``)."""

from flask import Blueprint

bp = Blueprint("orgs", __name__, url_prefix="/admin/orgs")

from webapp.blueprints.orgs import routes  # noqa: E402,F401
