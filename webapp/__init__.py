"""Switchboard: a self-hosted control plane for LLM providers."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, g, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from webapp.config import load_config
from webapp.extensions import csrf, db, htmx_ext, limiter, login_manager, migrate
from webapp.flask_app import SwitchboardFlask
from webapp.request_guards import init_request_guards, is_token_authenticated
from webapp.services.credentials.crypto import init_crypto

PROJECT_ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)

# One package per area under webapp/blueprints/, registered in this order.
BLUEPRINTS = (
    "auth",
    "sso",
    "health",
    "main",
    "account",
    "providers",
    "catalog",
    "credentials",
    "defaults",
    "orgs",
    "features",
    "explainer",
    "pickers",
    "users",
    "audit",
    "usage",
    "config",
    "playground",
    "tokens",
    "billing",
)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
    "form-action 'self'"
)


SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
)


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the application: config, extensions, blueprints, error pages, CLI, seed."""
    instance_path = Path(os.environ.get("SWITCHBOARD_INSTANCE_PATH") or PROJECT_ROOT / "instance")
    app = SwitchboardFlask(
        __name__,
        instance_path=str(instance_path),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_mapping(load_config(instance_path, overrides))
    app.url_map.converters["int"] = BoundedIntConverter
    _configure_logging(app)
    if proxies := int(os.environ.get("SWITCHBOARD_TRUSTED_PROXIES", "0") or 0):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]

    # Before the extensions' hooks: a cross-site request is refused as such, before CSRF.
    init_request_guards(app)
    _init_extensions(app)
    init_crypto(app)
    _register_blueprints(app)
    _register_request_hooks(app)

    from webapp.cli import register_cli
    from webapp.errors import register_error_handlers
    from webapp.navigation import init_navigation
    from webapp.template_filters import init_filters

    register_error_handlers(app)
    register_cli(app)
    init_navigation(app)
    init_filters(app)
    _start_up(app)
    return app


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` ids the database can hold: a 30-digit id is a 404, not an overflow."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def _configure_logging(app: Flask) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    app.logger.setLevel(logging.INFO)
    # The HTTP client logs a line per upstream request at INFO; the call service already
    # logs one per call (with its outcome), so these would only double the volume.
    for name in ("httpx2", "httpcore2", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _init_extensions(app: Flask) -> None:
    from webapp import models  # noqa: F401 - register every table on the metadata
    from webapp.services.accounts.sessions import load_session_user

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    htmx_ext.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.user_loader(load_session_user)

    from webapp.blueprints.auth.routes import unauthorized

    login_manager.unauthorized_handler(unauthorized)


def _register_blueprints(app: Flask) -> None:
    from importlib import import_module

    for area in BLUEPRINTS:
        app.register_blueprint(import_module(f"webapp.blueprints.{area}").bp)
    from webapp.gateway import bp as gateway

    csrf.exempt(gateway)  # token-authenticated, no cookies: see request_guards
    app.register_blueprint(gateway)
    from webapp.api import bp as api
    from webapp.api import docs_bp as api_docs

    csrf.exempt(api)  # Bearer tokens only, session cookies are not read: no CSRF surface
    app.register_blueprint(api)
    app.register_blueprint(api_docs)


def _register_request_hooks(app: Flask) -> None:
    from webapp.services.usage.scheduler import init_scheduler
    from webapp.sign_in import init_sign_in

    init_sign_in(app)
    init_scheduler(app)

    @app.before_request
    def remember_client_ip() -> None:
        g.client_ip = request.remote_addr

    @app.before_request
    def refuse_nul_characters() -> None:
        """PostgreSQL cannot store NUL in text; no field has a use for it. 400, not a 500.
        Token-authenticated paths take JSON, checked where it is read."""
        with_form = not is_token_authenticated(request.path) and request.form
        sources = [request.args, request.form] if with_form else [request.args]
        values = [v for source in sources for vs in source.listvalues() for v in vs]
        values += [v for v in (request.view_args or {}).values() if isinstance(v, str)]
        if any("\x00" in v for v in values):
            abort(400, "Text cannot contain NUL (\\0) characters.")

    @app.after_request
    def security_headers(response: Response) -> Response:
        """Added unless the view set its own (one pass over the headers, not one per name)."""
        present = {name.lower() for name, _ in response.headers.items()}
        for name, value in SECURITY_HEADERS:
            if name.lower() not in present:
                response.headers.add(name, value)
        return response


def _running_migrations() -> bool:
    """True under ``flask db …``: the schema is being changed, so do not touch it yet."""
    return "db" in sys.argv[1:4]


def _start_up(app: Flask) -> None:
    """Schema check, seed and first admin, encryption key check (not while migrating)."""
    from webapp.services.system.startup import run_start_up

    if not _running_migrations():
        run_start_up(app)
