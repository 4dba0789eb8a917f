"""``GET /healthz``: 200 when the database answers, 503 when it does not."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Response, jsonify
from sqlalchemy.exc import SQLAlchemyError

from webapp.blueprints.health import bp
from webapp.extensions import db, limiter

log = logging.getLogger(__name__)


@bp.route("/healthz")
@limiter.exempt
def healthz() -> tuple[Response, int]:
    try:
        db.session.execute(sa.text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.error("health check: database unreachable (%s)", exc.__class__.__name__)
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok"), 200
