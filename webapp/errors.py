"""Error pages in the app's own look, JSON for API clients, notices for htmx swaps."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp.extensions import db
from webapp.htmx import add_notice
from webapp.services.errors import ServiceError

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
PAGES = {403: "errors/403.html", 404: "errors/404.html", 422: "errors/422.html"}


def wants_json() -> bool:
    """API paths and clients that ask for JSON get JSON errors."""
    if request.path.startswith(("/v1/", "/healthz")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not request.headers.get("HX-Request")


def error_response(status: int, message: str) -> Response:
    """The same error as JSON, an htmx notice, or a full page."""
    title = TITLES.get(status, "Error")
    if wants_json():
        kind = "invalid_request_error" if status < 500 else "server_error"
        response = jsonify(error={"message": message, "type": kind, "code": status})
        response.status_code = status
        return response
    if request.headers.get("HX-Request"):
        response = make_response(
            render_template("errors/_message.html", title=title, message=message), status
        )
        response.headers["HX-Reswap"] = "none"
        return add_notice(response, f"{title}: {message}", level="error")
    template = PAGES.get(status, "errors/500.html" if status >= 500 else "errors/generic.html")
    return make_response(
        render_template(template, title=title, message=message, status=status), status
    )


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Response:
        return error_response(
            400, "Your form expired or was not sent from this site. Reload the page and try again."
        )

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

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception) -> Response:
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, InternalServerError.description)
