"""``GET /healthz`` for load balancers, and the maintenance answer every page gives while
the database cannot serve this release (schema not migrated, database unreachable)."""

from __future__ import annotations

from flask import jsonify, request
from werkzeug.wrappers import Response

from webapp.blueprints.health import bp
from webapp.errors import DATABASE_DOWN, unavailable
from webapp.extensions import limiter
from webapp.services.system.health import health, health_report

# Served whatever the database's state: the probe itself, and the maintenance page's styles.
ALWAYS_SERVED = {"health.healthz", "static"}
MAINTENANCE = (
    "Switchboard is being upgraded and will be back in a few minutes. Nothing was changed. "
    "(The database schema is not at this release's version yet.)"
)


@bp.route("/healthz")
@limiter.exempt
def healthz() -> tuple[Response, int]:
    report = health_report()
    return jsonify(report.as_json()), 200 if report.ok else 503


@bp.before_app_request
def maintenance() -> Response | None:
    """503 with Retry-After instead of pages built on a schema they do not match; the state
    comes from a per-process cache re-read every few seconds, not a query per request."""
    if request.endpoint in ALWAYS_SERVED:
        return None
    state = health().schema.get()
    if state.current:
        return None
    return unavailable(DATABASE_DOWN if state.status == "unreachable" else MAINTENANCE)
