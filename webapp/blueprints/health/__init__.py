"""Liveness and database health for load balancers."""

from flask import Blueprint

bp = Blueprint("health", __name__)

from webapp.blueprints.health import routes  # noqa: E402,F401
