"""Admins and org admins: features and their profiles (``/admin/features``)."""

from flask import Blueprint

bp = Blueprint("features", __name__, url_prefix="/admin/features")

from webapp.blueprints.features import routes  # noqa: E402,F401
