"""Error pages in the app's own look, JSON for API clients, notices for htmx swaps."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response as ResponseBase

from webapp.extensions import db, login_manager
from webapp.htmx import is_htmx, notice_instead
from webapp.services.accounts.recent_sign_in import RecentSignInRequired
from webapp.services.errors import ServiceError
from webapp.sign_in import require_recent_sign_in

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad request",
    401: "Sign in required",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    422: "Check your input",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Service unavailable",
}
PAGES = {
    403: "errors/403.html",
    404: "errors/404.html",
    422: "errors/422.html",
    503: "errors/generic.html",
}
RETRY_AFTER_SECONDS = 5
DATABASE_DOWN = (
    "The database is not answering, so nothing was changed. Try again in a moment; "
    "if it keeps happening, tell your administrator."
)
DATABASE_BUSY = (
    "Switchboard is too busy to reach its database right now, so nothing was changed. "
    "Try again in a moment."
)


def wants_json() -> bool:
    """API paths and clients that ask for JSON get JSON errors."""
    if request.path.startswith(("/v1/", "/healthz")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not is_htmx()


def error_response(status: int, message: str) -> Response:
    """The same error as JSON, an htmx notice, or a full page (problem details on /api/v1)."""
    if request.path.startswith("/api/v1/") or request.path == "/api/v1":
        from webapp.api.core import problem

        return problem(status, message)
    title = TITLES.get(status, "Error")
    if request.path.startswith("/v1/"):  # the gateway: in the caller's protocol
        from webapp.gateway.errors import GatewayError, render, request_protocol

        return render(GatewayError(status, message), request_protocol())
    if wants_json():
        kind = "invalid_request_error" if status < 500 else "server_error"
        response = jsonify(error={"message": message, "type": kind, "code": status})
        response.status_code = status
        return response
    if is_htmx():
        response = make_response(
            render_template("errors/_message.html", title=title, message=message), status
        )
        return notice_instead(response, f"{title}: {message}")
    template = PAGES.get(status, "errors/500.html" if status >= 500 else "errors/generic.html")
    return make_response(
        render_template(template, title=title, message=message, status=status), status
    )


def unavailable(message: str) -> Response:
    """503 with ``Retry-After``, rendered without touching the database (the user is
    treated as signed out for this one page: loading them would need the database)."""
    forget_session()
    g._login_user = login_manager.anonymous_user()
    response = error_response(503, message)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def forget_session() -> None:
    """Roll back whatever the request started; a dead connection cannot even do that."""
    try:
        db.session.rollback()
    except SQLAlchemyError:
        db.session.remove()


def _cause(exc: BaseException) -> str:
    """The driver error's class, never its text: that holds the SQL and its parameters."""
    return type(getattr(exc, "orig", None) or exc).__name__


def register_database_handlers(app: Flask) -> None:
    """Database trouble a user can cause or meet is a 409, 422 or 503, never a 500."""

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(DisconnectionError)  # the pool could not get a working connection
    def database_unavailable(exc: DBAPIError | DisconnectionError) -> Response:
        log.error("database unavailable on %s %s (%s)", request.method, request.path, _cause(exc))
        return unavailable(DATABASE_DOWN)

    @app.errorhandler(PoolTimeout)
    def database_busy(exc: PoolTimeout) -> Response:
        """Every pooled connection stayed busy for ``pool_timeout``: overload, not a fault."""
        log.error(
            "no database connection free on %s %s within the pool's timeout",
            request.method,
            request.path,
        )
        return unavailable(DATABASE_BUSY)

    @app.errorhandler(DBAPIError)
    def database_error(exc: DBAPIError) -> Response:
        if exc.connection_invalidated:  # the server went away mid-request
            return database_unavailable(exc)
        return unexpected_error(exc)

    @app.errorhandler(StaleDataError)
    @app.errorhandler(IntegrityError)
    def concurrent_change(exc: Exception) -> Response:
        forget_session()
        log.warning("conflicting write on %s %s (%s)", request.method, request.path, _cause(exc))
        return error_response(
            409, "Someone else changed this at the same moment. Reload and try again."
        )

    @app.errorhandler(DataError)
    def value_out_of_range(exc: DataError) -> Response:
        forget_session()
        log.warning("value refused by the database on %s (%s)", request.path, _cause(exc))
        return error_response(422, "A value is too long or out of range. Check your input.")


def unexpected_error(exc: Exception) -> Response:
    forget_session()
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, InternalServerError.description)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Response:
        return error_response(
            400, "Your form expired or was not sent from this site. Reload the page and try again."
        )

    @app.errorhandler(RecentSignInRequired)
    def needs_recent_sign_in(exc: RecentSignInRequired) -> ResponseBase:
        """A service refused a dangerous change: the password prompt, as the route decorator
        gives it (htmx: 401 + HX-Redirect to /reauth, browsers: a redirect there)."""
        db.session.rollback()
        return require_recent_sign_in() or error_response(403, exc.message)

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError) -> Response:
        db.session.rollback()
        return error_response(exc.status_code, exc.message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if status >= 500:
            db.session.rollback()
        message = exc.description or TITLES.get(status, "")
        response = error_response(status, message)
        if status == 429 and exc.get_response().headers.get("Retry-After"):
            response.headers["Retry-After"] = exc.get_response().headers["Retry-After"]
        return response

    app.register_error_handler(Exception, unexpected_error)
    register_database_handlers(app)
